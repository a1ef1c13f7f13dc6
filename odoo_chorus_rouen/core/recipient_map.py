"""Qualification's data set: which test recipient stands for a real one, and when a map applies.

The qualification platform holds only the user's own test data set (a test supplier structure and
test public recipients created on the qualification portal, CHORUS_PRO_API.md §10): the Métropole's
real SIRETs are not there. To try a real invoice on qualification, its buyer is replaced by a test
recipient of the data set (and its seller by the test supplier). A map says which test recipient
stands for which real one: ``REAL_SIRET=TEST_SIRET``, optionally ``REAL_SIRET=TEST_SIRET:SERVICE``
for the test recipient's service code (BT-10; without it the real service code is dropped, since it
means nothing to the test recipient). The command line takes it as ``--recipient-map`` (repeatable)
or ``CHORUS_PRO_RECIPIENT_MAP="REAL=TEST,REAL=TEST:SERVICE"``; the addon keeps it per company.

**Production never maps**: :func:`applies` is False for production, whatever the map says.

>>> mapping = parse_map(["200 023 414 00101=12345678200010", "20002341400036=12345678200010:SVC"])
>>> mapping.target("20002341400101")
Target(siret='12345678200010', service_code=None)
>>> mapping.target("20002341400036").service_code
'SVC'
>>> parse_map(["20002341400101=123"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: recipient map 20002341400101=123: the test SIRET 123 is not a valid SIRET (...)
>>> applies("production", mapping), applies("qualification", mapping)
(False, True)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .budgets import compact_siret, find_budget, format_siret, is_valid_siret

__all__ = ["RecipientMap", "Target", "applies", "describe_recipient", "parse_map", "shown_siret", "split_variable"]

#: Characters of a service code (``codeServiceExecutant``, varchar(100) in the 2017 specification).
_SERVICE_RE = re.compile(r"^[A-Za-z0-9_.\-/ ]{1,100}$")


@dataclass(frozen=True)
class Target:
    """The test recipient that stands for a real one on qualification.

    :ivar siret: the test recipient's SIRET (compact).
    :ivar service_code: its service code (BT-10), or None to deposit without one.
    """

    siret: str
    service_code: str | None = None


@dataclass(frozen=True)
class RecipientMap:
    """Real recipient SIRET -> :class:`Target` (compact SIRETs)."""

    targets: dict[str, Target] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.targets)

    def target(self, real_siret: str | None) -> Target | None:
        """The test recipient standing for ``real_siret``, or None."""
        return self.targets.get(compact_siret(real_siret or ""))

    def describe(self) -> str:
        """``REAL=TEST[:SERVICE], ...`` for messages (no secret in a map)."""
        return ", ".join(
            f"{real}={target.siret}" + (f":{target.service_code}" if target.service_code else "")
            for real, target in self.targets.items()
        )


def split_variable(value: str | None) -> list[str]:
    """The entries of ``CHORUS_PRO_RECIPIENT_MAP`` (comma or semicolon separated; blanks ignored)."""
    return [part.strip() for part in re.split(r"[,;]", value or "") if part.strip()]


def _siret(raw: str, role: str, entry: str) -> str:
    siret = compact_siret(raw)
    if not is_valid_siret(siret):
        raise ValueError(
            f"recipient map {entry}: the {role} SIRET {raw.strip() or '(empty)'} is not a valid SIRET "
            "(14 digits with a valid check digit)"
        )
    return siret


def parse_map(entries: Iterable[str]) -> RecipientMap:
    """Read ``REAL=TEST`` / ``REAL=TEST:SERVICE`` entries into a :class:`RecipientMap`.

    :raises ValueError: an entry without ``=``, a SIRET that is not valid, a bad service code, or
        one real SIRET mapped to two different test recipients (the message names the entry).
    """
    targets: dict[str, Target] = {}
    for raw_entry in entries:
        entry = (raw_entry or "").strip()
        if not entry:
            continue
        real_raw, sep, rest = entry.partition("=")
        if not sep:
            raise ValueError(
                f"recipient map {entry}: expected REAL_SIRET=TEST_SIRET (or REAL_SIRET=TEST_SIRET:SERVICE)"
            )
        test_raw, colon, service = rest.partition(":")
        real = _siret(real_raw, "real", entry)
        test = _siret(test_raw, "test", entry)
        service_code = service.strip() or None
        if colon and service_code is None:
            raise ValueError(f"recipient map {entry}: nothing after ':' (give the test recipient's service code, "
                             "or leave out ':')")
        if service_code is not None and not _SERVICE_RE.match(service_code):
            raise ValueError(f"recipient map {entry}: {service_code!r} is not a service code (letters, digits, "
                             "- _ . / and spaces, at most 100 characters)")
        target = Target(test, service_code)
        if real in targets and targets[real] != target:
            raise ValueError(f"recipient map: {format_siret(real)} is mapped twice ({entry} and "
                             f"{real}={targets[real].siret})")
        targets[real] = target
    return RecipientMap(targets)


def applies(platform: str, mapping: RecipientMap | None = None) -> bool:
    """Whether test recipients stand for real ones on this platform: never on production.

    :param platform: ``qualification``, ``sandbox`` or ``production``.
    """
    return platform != "production" and bool(mapping)


def shown_siret(value: str | None) -> str:
    """A SIRET as people read it (``200 023 414 00101``); anything else as given (``?`` when empty).

    >>> shown_siret("20002341400101"), shown_siret("123"), shown_siret(None)
    ('200 023 414 00101', '123', '?')
    """
    siret = compact_siret(value or "")
    return format_siret(siret) if is_valid_siret(siret) else (value or "").strip() or "?"


def describe_recipient(siret: str | None, name: str | None = None) -> str:
    """``Budget Principal (SIRET 200 023 414 00101)``: a recipient in words, its budget name when known."""
    budget = find_budget(compact_siret(siret or ""))
    label = name or (budget.name if budget else None)
    shown = shown_siret(siret)
    return f"{label} (SIRET {shown})" if label else f"SIRET {shown}"
