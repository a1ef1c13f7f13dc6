"""``chorus-rouen send`` on qualification: the test recipients (and test supplier) of the data set.

The qualification platform holds only the user's test data set (core/recipient_map.py). Before any
deposit on a platform other than production, each file is prepared by :class:`QualificationMapper`:

* a buyer named in ``--recipient-map REAL=TEST[:SERVICE]`` (or ``CHORUS_PRO_RECIPIENT_MAP``) is
  replaced in the deposited file by the test recipient (``core/party_rewrite.py``), and the output
  says so; ``--test-supplier SIRET`` (or ``CHORUS_PRO_TEST_SUPPLIER``) replaces the seller the same way;
* a buyer the platform does not hold (the directory finds nothing for its SIRET) and that no map
  names is refused before any deposit, in words, naming the option;
* a seller that is not among the structures attached to the technical account
  (``recupererStructuresActivesPourFournisseur``) is refused before any deposit, naming
  ``--test-supplier``.

On production nothing is mapped, whatever the options or the environment say: the run says once
that the map is not used there. When the platform cannot be asked (network, an operation the PISTE
application is not subscribed to), the checks are skipped and the deposit goes on as before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .core import recipient_map
from .core.budgets import compact_siret, is_valid_siret
from .core.errors import ChorusError, InputError
from .core.recipient_map import shown_siret

__all__ = ["MapRefusal", "Prepared", "QualificationMapper", "mapper_from"]

_logger = logging.getLogger(__name__)


class MapRefusal(Exception):
    """This file must not be deposited as it is: one sentence with the fix (exit status 2)."""


@dataclass(frozen=True)
class Prepared:
    """What is deposited for one file: the bytes, and the sentence telling what was replaced ('' if nothing)."""

    data: bytes
    note: str = ""


def mapper_from(args, settings: dict, environ) -> QualificationMapper:
    """The mapper of this run from ``--recipient-map`` / ``--test-supplier`` and their variables.

    :raises ValueError: a bad map entry or test supplier (the caller makes it a usage error).
    """
    entries = list(getattr(args, "recipient_map", None) or [])
    if not entries:
        entries = recipient_map.split_variable(environ.get("CHORUS_PRO_RECIPIENT_MAP", ""))
    mapping = recipient_map.parse_map(entries)
    raw_supplier = (getattr(args, "test_supplier", None) or environ.get("CHORUS_PRO_TEST_SUPPLIER", "")).strip()
    supplier = compact_siret(raw_supplier) if raw_supplier else ""
    if raw_supplier and not is_valid_siret(supplier):
        raise ValueError(f"--test-supplier {raw_supplier}: not a valid SIRET (14 digits with a valid check digit)")
    return QualificationMapper(settings["env"], mapping, supplier or None)


class QualificationMapper:
    """Prepares each file of a ``send`` run for the platform (see the module doc)."""

    def __init__(self, platform: str, mapping: recipient_map.RecipientMap, test_supplier: str | None) -> None:
        self.platform = platform
        self.mapping = mapping
        self.test_supplier = test_supplier
        self._known: dict[str, bool | None] = {}
        self._attached: set[str] | None = None
        self._attached_read = False

    @property
    def active(self) -> bool:
        return self.platform != "production"

    def production_note(self) -> str:
        """One sentence when a map or a test supplier was given for production (never used there), else ''."""
        if self.active or not (self.mapping or self.test_supplier):
            return ""
        return ("production: the recipient map and the test supplier are not used; invoices go to their real "
                "recipients, from their real supplier")

    def prepare(self, data: bytes, facts, client) -> Prepared:
        """The bytes to deposit for one validated file (``facts`` read from it).

        :raises MapRefusal: the platform would refuse this file as it is (the message names the option).
        """
        if not self.active:
            return Prepared(data)
        from .core.party_rewrite import PartyChange, replace_parties

        buyer = compact_siret(facts.buyer_siret or "")
        seller = compact_siret(facts.seller_siret or "")
        target = self.mapping.target(buyer) if buyer else None
        if target is None and buyer and self._platform_lacks(client, buyer):
            raise MapRefusal(
                f"invoice {facts.number}: the {self.platform} platform does not hold the recipient "
                f"{recipient_map.describe_recipient(buyer)} (qualification holds only your test data set): give "
                f"--recipient-map {buyer}=TEST_SIRET, a test recipient of your data set (or CHORUS_PRO_RECIPIENT_MAP)"
            )
        new_seller = self.test_supplier if self.test_supplier and self.test_supplier != seller else None
        effective_seller = new_seller or seller
        if effective_seller and not self._attached_ok(client, effective_seller):
            listed = ", ".join(shown_siret(s) for s in sorted(self._attached or ())) or "none"
            raise MapRefusal(
                f"invoice {facts.number}: the supplier SIRET {shown_siret(effective_seller)} is not attached to the "
                f"technical account on the {self.platform} platform (attached: {listed}): give --test-supplier "
                "SIRET, the test supplier of your data set (or CHORUS_PRO_TEST_SUPPLIER), or attach the structure "
                "to the account on the Chorus Pro portal"
            )
        if target is None and new_seller is None:
            return Prepared(data)
        try:
            new = replace_parties(
                data,
                buyer=PartyChange(buyer, target.siret) if target else None,
                service_code=target.service_code if target else None,
                keep_service=target is None,
                seller=PartyChange(seller, new_seller) if new_seller else None,
            )
        except InputError as err:
            raise MapRefusal(f"invoice {facts.number}: cannot be mapped to the test data set: {err.message}") from None
        parts = []
        if target is not None:
            real = recipient_map.describe_recipient(buyer)
            parts.append(
                f"sent to test recipient {shown_siret(target.siret)} instead of {real}"
                + (f", service code {target.service_code}" if target.service_code
                   else (f", without the service code {facts.service_code}" if facts.service_code else ""))
            )
        if new_seller:
            parts.append(f"from test supplier {shown_siret(new_seller)} instead of {shown_siret(seller)}")
        return Prepared(new, f"{self.platform}: " + "; ".join(parts))

    def _platform_lacks(self, client, siret: str) -> bool:
        """Whether the platform's directory has no structure for this SIRET (False when it cannot be asked)."""
        if siret not in self._known:
            try:
                self._known[siret] = not client.search_structures(siret)
            except ChorusError as err:
                _logger.info("Directory search of %s failed, deposit goes on unchecked: %s", siret, err)
                self._known[siret] = None
        return bool(self._known[siret])

    def _attached_ok(self, client, siret: str) -> bool:
        """Whether ``siret`` is attached to the technical account (True when the platform cannot say)."""
        if not self._attached_read:
            self._attached_read = True
            try:
                self._attached = {compact_siret(s.identifier) for s in client.supplier_structures()}
            except ChorusError as err:
                _logger.info("The structures attached to the technical account could not be read: %s", err)
                self._attached = None
        return self._attached is None or siret in self._attached
