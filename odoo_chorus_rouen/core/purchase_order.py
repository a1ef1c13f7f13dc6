"""Read a public buyer's purchase order: what Chorus Pro needs, each value with its evidence.

The Métropole Rouen Normandie prints in the footer of its purchase orders what an invoice needs on
Chorus Pro: the budget and its SIRET, the engagement number, sometimes a service code and a
contract. :func:`read_order` takes the order as the supplier received it (a PDF with a text layer,
an Order-X or UBL Order XML, or a PDF carrying an Order-X) and returns, for each value, the value
read, where (page and line, or XML element), how sure it is, and the other candidates ranked with
the reason. Nothing is chosen when two values compete without a clear first; what is not found is
said. A scan (no text layer) is refused: nothing is guessed. No OCR, no network.

>>> reading = read_order(Path("data/orders/metropole_eau_order.pdf").read_bytes())  # doctest: +SKIP
>>> reading.value("siret"), reading.value("budget")  # doctest: +SKIP
('20002341400069', "Budget de l'Eau")

Modules: :mod:`.order_text` (the PDF's text, bounded), :mod:`.order_fields` (the wordings),
:mod:`.order_xml` (XML orders), :mod:`.order_ranking` (candidates and decisions).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from .budgets import BUDGETS, compact_siret, format_siret
from .errors import InputError
from .limits import MAX_DEPOSIT_SIZE
from .order_fields import (
    FIELD_LABELS,
    Line,
    Recipient,
    budget_mentions,
    invalid_sirets,
    labelled_candidates,
    siret_candidates,
    total_candidates,
)
from .order_ranking import Candidate, Evidence, FieldResult, decide, reason
from .order_text import pdf_text
from .order_xml import is_order_xml, parse_xml, xml_candidates

__all__ = [
    "FIELDS",
    "MAX_ORDER_SIZE",
    "OrderReading",
    "Recipient",
    "default_recipients",
    "read_order",
    "read_order_file",
]

#: The values read, in the order they are shown (the JSON keys of ``chorus-rouen read-order --json``).
FIELDS = ("siret", "budget", "engagement", "service_code", "contract", "order_number", "order_date", "totals")
TOTAL_PARTS = ("untaxed", "tax", "with_tax")
#: An order is read up to the size of one file Chorus Pro accepts (it may travel as a supporting document).
MAX_ORDER_SIZE = MAX_DEPOSIT_SIZE
_CURRENCY = re.compile(r"\u20ac|\beur\b|\beuros?\b", re.IGNORECASE)


def default_recipients() -> dict[str, Recipient]:
    """The known Chorus Pro recipients when none are given: the eight budgets of the Métropole."""
    return {budget.siret: Recipient(budget.siret, budget.name) for budget in BUDGETS}


def _recipients(recipients: Mapping[str, Any] | Iterable[Recipient] | None) -> dict[str, Recipient]:
    if recipients is None:
        return default_recipients()
    if isinstance(recipients, Mapping):
        items = [value if isinstance(value, Recipient) else Recipient(key, str(value))
                 for key, value in recipients.items()]
    else:
        items = list(recipients)
    return {compact_siret(item.siret): replace(item, siret=compact_siret(item.siret)) for item in items}


@dataclass
class OrderReading:
    """What was read from one order: a decision per field (:data:`FIELDS`, and ``totals.<part>``)."""

    source: str  # "PDF text layer", "Order-X", "UBL Order", "PDF text layer + Order-X (order-x.xml)"
    pages: int | None
    results: dict[str, FieldResult]

    def value(self, field: str) -> Any:
        return self.results[field].value

    @property
    def needs_attention(self) -> bool:
        """The buyer's SIRET or the engagement number missing or unsure (low), or a value left ambiguous."""
        return (any(self.results[field].confidence in (None, "low") for field in ("siret", "engagement"))
                or any(result.decision == "ambiguous" for result in self.results.values()))

    @property
    def missing(self) -> list[FieldResult]:
        return [self.results[field] for field in FIELDS if self.results[field].chosen is None]

    def field_dict(self, field: str) -> dict[str, Any] | None:
        result = self.results[field]
        if result.chosen is None:
            return None
        data = result.chosen.as_dict(result.confidence)
        if field == "budget":
            data["siret"] = self.value("siret")
        if field == "totals":
            parts = {part: self.results[f"totals.{part}"] for part in TOTAL_PARTS}
            data["parts"] = {part: item.chosen.as_dict(item.confidence) for part, item in parts.items() if item.chosen}
        return data

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``read-order --json``: the eight fields, ``candidates`` and ``missing``."""
        data: dict[str, Any] = {field: self.field_dict(field) for field in FIELDS}
        candidates = {}
        for name, result in self.results.items():
            if name == "budget" or name == "totals":
                continue
            if len(result.ranked) > 1 or (result.ranked and result.chosen is None):
                candidates[name] = {
                    "decision": result.decision,
                    "why": result.why,
                    "ranked": [item.as_dict() for item in result.ranked],
                }
        data["candidates"] = candidates
        data["missing"] = [{"field": result.field, "why": result.why, "code": result.why_code}
                           for result in self.missing]
        return data


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_order_file(path: str | os.PathLike[str], **options: Any) -> OrderReading:
    """:func:`read_order` on a file, refused before reading a byte when it is over :data:`MAX_ORDER_SIZE`.

    :raises InputError: ``order_unreadable``, ``order_file_too_large`` and those of :func:`read_order`.
    """
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):  # a folder, a pipe or a device: never read (a pipe would block)
            raise InputError("is not a regular file", code="order_unreadable", params={"reason": "not a file"})
        if info.st_size > MAX_ORDER_SIZE:
            raise _too_large(info.st_size)
        with open(path, "rb") as handle:
            data = handle.read(MAX_ORDER_SIZE + 1)
    except OSError as err:
        raise InputError(f"cannot be read ({err.strerror or err})", code="order_unreadable",
                         params={"reason": str(err.strerror or err)}) from None
    return read_order(data, **options)


def _too_large(size: int) -> InputError:
    size_mb = f"{size / (1024 * 1024):.1f}"
    return InputError(f"the file weighs {size_mb} MB; a purchase order is read up to "
                      f"{MAX_ORDER_SIZE // (1024 * 1024)} MB (what Chorus Pro accepts for one file)",
                      code="order_file_too_large", params={"size": size_mb, "max": MAX_ORDER_SIZE // (1024 * 1024)})


def _kind(data: bytes) -> str:
    head = bytes(data[:1024]).lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"%PDF-" in bytes(data[:1024]):
        return "pdf"
    if head.startswith(b"<"):
        return "xml"
    return "other"


def read_order(data: bytes, *, recipients: Mapping[str, Any] | Iterable[Recipient] | None = None,
               own_sirets: Iterable[str] = (), name: str = "order.xml") -> OrderReading:
    """Read a purchase order (PDF text layer, Order-X or UBL Order XML, or a PDF carrying an Order-X).

    :param recipients: the known Chorus Pro recipients (SIRET -> name, or :class:`Recipient` items with
        their service codes); by default the eight budgets of the Métropole.
    :param own_sirets: the reader's own SIRETs (the supplier's), never taken for the buyer's.
    :param name: the file's name, in messages and in the evidence of an XML order ("order.xml line 12").
    :raises InputError: the file cannot be read as an order (one sentence with what to do): ``order_empty``,
        ``order_file_too_large``, ``order_not_supported``, ``order_is_invoice``, ``order_not_an_order`` and
        those of :func:`.order_text.pdf_text` and :func:`.order_xml.parse_xml`.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)) or not data:
        raise InputError("the file is empty", code="order_empty")
    if len(data) > MAX_ORDER_SIZE:
        raise _too_large(len(data))
    known = _recipients(recipients)
    own = frozenset(compact_siret(value) for value in own_sirets if value)
    kind = _kind(data)
    if kind == "pdf":
        text = pdf_text(data)
        candidates = _text_candidates(text.lines, known, own)
        lines = text.lines
        source, pages = "PDF text layer", text.pages
        for file_name, content in sorted(text.embedded.items()):
            xml_found = _embedded_order(file_name, content, known, own)
            if xml_found:
                candidates += xml_found[0]
                source = f"PDF text layer + {xml_found[1]} ({file_name})"
                break
    elif kind == "xml":
        root = parse_xml(data, name)
        candidates, notes, source = xml_candidates(root, name, known, own)  # evidence: "FILE line N"
        candidates += _as_xml(_text_candidates(notes, known, own), name)
        lines, pages = notes, None
    else:
        raise InputError("this file is neither a PDF nor an XML order: give the purchase order as the buyer sent "
                         "it (PDF, Order-X or UBL Order)", code="order_not_supported")
    return _decide(candidates, known, lines, source, pages)


def _embedded_order(file_name: str, content: bytes, known, own):
    """Candidates of an order XML embedded in a PDF, or None; an embedded invoice is refused."""
    try:
        root = parse_xml(content, file_name)
    except InputError as err:
        if err.code == "order_not_an_order" and "invoice" in str(err.params.get("what", "")):
            raise InputError(f"this PDF is an invoice (it carries {file_name}), not a purchase order: read the "
                             "order the buyer sent you", code="order_is_invoice", params={"file": file_name}) from None
        return None
    if not is_order_xml(root):  # pragma: no cover - parse_xml refuses other roots
        return None
    candidates, notes, kind = xml_candidates(root, file_name, known, own)
    return candidates + _as_xml(_text_candidates(notes, known, own), file_name), kind


def _as_xml(candidates: list[Candidate], source: str) -> list[Candidate]:
    """Candidates read from an XML's free notes: their evidence names the XML file and line."""
    return [replace(item, evidence=replace(item.evidence, page=None, source=source)) for item in candidates]


def _text_candidates(lines: list[Line], known: dict[str, Recipient], own: frozenset[str]) -> list[Candidate]:
    labelled = labelled_candidates(lines)
    # A 14-digit engagement or order number is not a SIRET.
    taken = {(item.evidence.page, item.evidence.line, item.value) for item in labelled}
    sirets = [item for item in siret_candidates(lines, known, own)
              if (item.evidence.page, item.evidence.line, item.value) not in taken]
    return labelled + sirets + budget_mentions(lines, known) + total_candidates(lines)


# --------------------------------------------------------------------------------------------
# Decisions
# --------------------------------------------------------------------------------------------


def _decide(candidates: list[Candidate], known: dict[str, Recipient], lines: list[Line], source: str,
            pages: int | None) -> OrderReading:
    results: dict[str, FieldResult] = {}
    siret = decide("siret", candidates, FIELD_LABELS["siret"])
    wrong = invalid_sirets(lines)
    if wrong:  # a SIRET printed with a wrong check digit is always said
        digits, line = wrong[0]
        shown = format_siret(digits)
        if siret.chosen is not None:
            siret.chosen.add(reason("invalid_siret_seen", 0, siret=shown, page=line.page, line=line.number))
        elif siret.decision == "missing":
            siret.why = (f"{shown} on page {line.page}, line {line.number} is not a valid SIRET (its check digit is "
                         "wrong): ask the buyer")
            siret.why_code, siret.why_params = "invalid_siret", {"siret": shown, "page": line.page,
                                                                 "line": line.number}
    results["siret"] = siret
    results["budget"] = _budget(siret, known)
    recipient = known.get(siret.value) if siret.value else None
    if recipient and recipient.services is not None:
        for item in candidates:
            if item.field == "service_code":
                item.add(reason("known_service", 2, name=recipient.name) if item.value in recipient.services
                         else reason("unknown_service", -1, name=recipient.name))
    for field in ("engagement", "service_code", "contract", "order_number", "order_date"):
        results[field] = decide(field, candidates, FIELD_LABELS[field])
    for part in TOTAL_PARTS:
        results[f"totals.{part}"] = decide(f"totals.{part}", candidates, FIELD_LABELS["totals"])
    results["totals"] = _totals(results)
    return OrderReading(source, pages, results)


def _budget(siret: FieldResult, known: dict[str, Recipient]) -> FieldResult:
    """The budget (recipient) of the SIRET: chosen with it, ambiguous with it, missing otherwise."""
    def candidate(item: Candidate) -> Candidate:
        name = known[item.value].name
        return Candidate("budget", name, name, item.evidence, [reason("known_recipient", item.score, name=name)])

    ranked = [candidate(item) for item in siret.ranked if item.value in known and not item.excluded]
    if siret.decision == "chosen":
        if siret.value in known:
            chosen = candidate(siret.chosen)
            return FieldResult("budget", "chosen", [chosen], chosen=chosen, confidence=siret.confidence,
                               why=f"the recipient with the SIRET {siret.chosen.display}", why_code="by_siret")
        return FieldResult("budget", "missing", [], why=f"the SIRET {siret.chosen.display} is not one of the known "
                           "Chorus Pro recipients: add it as a recipient if it is one", why_code="unknown_recipient",
                           why_params={"siret": siret.chosen.display})
    if siret.decision == "ambiguous":
        return FieldResult("budget", "ambiguous", ranked, why="it depends on the SIRET, which is ambiguous",
                           why_code="siret_ambiguous")
    return FieldResult("budget", "missing", [], why="no buyer SIRET on the order", why_code="no_siret")


def _totals(results: dict[str, FieldResult]) -> FieldResult:
    parts = {part: results[f"totals.{part}"] for part in TOTAL_PARTS}
    chosen = {part: result.chosen for part, result in parts.items() if result.chosen}
    if not chosen:
        ambiguous = any(result.decision == "ambiguous" for result in parts.values())
        if ambiguous:
            return FieldResult("totals", "ambiguous", [], why="several totals with no clear first",
                               why_code="ambiguous")
        return FieldResult("totals", "missing", [], why=f"not on the order (looked for {FIELD_LABELS['totals']})",
                           why_code="not_found", why_params={"looked_for": FIELD_LABELS["totals"]})
    value: dict[str, Any] = {part: item.value for part, item in chosen.items()}
    texts = " ".join(item.evidence.text for item in chosen.values())
    if _CURRENCY.search(texts):
        value["currency"] = "EUR"
    reasons = []
    confidence = "medium"
    if len(chosen) == 3:
        adds_up = Decimal(value["untaxed"]) + Decimal(value["tax"]) == Decimal(value["with_tax"])
        reasons.append(reason("totals_add_up", 1) if adds_up else reason("totals_do_not_add_up", -2))
        confidence = "high" if adds_up else "low"
    shown = {"untaxed": "excl. tax", "tax": "VAT", "with_tax": "incl. tax"}
    display = ", ".join(f"{item.display} {shown[part]}" for part, item in chosen.items())
    main = chosen.get("with_tax") or next(iter(chosen.values()))
    evidence: Evidence = main.evidence
    candidate = Candidate("totals", value, display, evidence, reasons)
    missing = [shown[part] for part in TOTAL_PARTS if part not in chosen]
    why = "; ".join(item.text for item in reasons) or (f"no {', '.join(missing)} amount" if missing else "")
    return FieldResult("totals", "chosen", [candidate], chosen=candidate, confidence=confidence, why=why,
                       why_code="totals")
