"""What Chorus Pro answers, as the client returns it, and how its raw values are read.

One frozen dataclass per answer of CHORUS_PRO_API.md that :class:`~.client.ChorusClient` returns
(:class:`DepositResult`, :class:`FlowReport`, :class:`InvoiceSummary`, :class:`InvoiceHistory`,
:class:`StructureDetails`...), with the platform's field name beside each field; the readers of
the JSON values they are built from, which never raise (text, integers, booleans, amounts, lists
that may come as a single object, Chorus Pro's dates: Paris time when no offset is given); and
:func:`format_datetime`, how a date is written in a request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from . import budgets
from .status import StatusInfo, flow_status, invoice_status

__all__ = [
    "PARIS",
    "DepositResult",
    "DpError",
    "FlowReport",
    "HistoryEntry",
    "InvoiceHistory",
    "InvoiceSummary",
    "RecycleResult",
    "Service",
    "ServiceDetails",
    "Structure",
    "StructureDetails",
    "TechnicalError",
    "as_bool",
    "as_decimal",
    "as_int",
    "as_text",
    "dicts",
    "format_datetime",
    "parse_date",
    "parse_datetime",
]

# The client's logger (``<package>.core.client``), as for every module of the client.
_logger = logging.getLogger(__name__.rpartition(".")[0] + ".client")

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class DepositResult:
    """Answer of ``deposerFluxFacture``: the deposit was taken, integration is asynchronous."""

    flow_number: str  # numeroFluxDepot, e.g. CPP0011117000000000300163
    deposit_date: date | None  # dateDepot
    syntax: str  # syntaxeFlux (echo, or the one sent)
    label: str = ""  # libelle


@dataclass(frozen=True)
class DpError:
    """One invoice of a flow rejected at integration (``listeErreurDP``)."""

    supplier_id: str | None  # identifiantFournisseur
    recipient_id: str | None  # identifiantDestinataire
    invoice_number: str | None  # numeroDP
    message: str  # libelleErreurDP


@dataclass(frozen=True)
class TechnicalError:
    """A flow-level error (``listeErreurTechnique``)."""

    code: str | None  # codeErreur
    label: str  # libelleErreur
    nature: str | None  # natureErreur


@dataclass(frozen=True)
class FlowReport:
    """Answer of ``consulterCRDetaille``: the integration state of one flow."""

    flow_number: str
    state: str  # etatCourantDepotFlux (raw code)
    state_date: datetime | None  # dateHeureEtatCourantFlux
    deposit_date: datetime | None  # dateDepotFlux
    file_name: str | None  # nomFichier
    dp_errors: tuple[DpError, ...] = ()
    technical_errors: tuple[TechnicalError, ...] = ()
    interface_code: str | None = None  # codeInterfaceDepotFlux
    label: str = ""  # libelle

    @property
    def info(self) -> StatusInfo:
        return flow_status(self.state)

    @property
    def final(self) -> bool:
        return self.info.final


@dataclass(frozen=True)
class InvoiceSummary:
    """One item of ``rechercherFactureParFournisseur.listeFactures``."""

    chorus_id: int  # identifiantFactureCPP
    number: str  # numeroFacture
    status: str  # statut (raw code)
    status_date: datetime | None  # dateHeureEtatCourant
    flow_number: str | None  # numeroFluxDepot
    recipient_siret: str | None  # codeDestinataire
    service_code: str | None  # codeServiceExecutant
    engagement: str | None  # numeroBonCommande
    invoice_type: str | None  # typeFacture (FACTURE / AVOIR)
    deposit_date: date | None  # dateDepot
    amount_ttc: Decimal | None  # montantTTC
    comment: str | None  # commentaireEtatCourant (reason of a rejection / suspension)
    supplier_siret: str | None = None  # codeFournisseur
    invoice_date: date | None = None  # dateFacture
    amount_ht: Decimal | None = None  # montantHT
    amount_due: Decimal | None = None  # montantAPayer
    currency: str | None = None  # devise
    recipient_name: str | None = None  # designationDestinataire

    @property
    def info(self) -> StatusInfo:
        return invoice_status(self.status)


@dataclass(frozen=True)
class HistoryEntry:
    """One status change of an invoice (``historiquesDesStatuts.histoStatut``)."""

    status: str  # histoStatutCode
    date: datetime | None  # histoStatutDatePassage (often to the minute only)
    comment: str | None  # histoStatutCommentaire
    entry_id: int | None = None  # histoStatutId: stable key, orders changes made in the same minute

    @property
    def info(self) -> StatusInfo:
        return invoice_status(self.status)


@dataclass(frozen=True)
class InvoiceHistory:
    """Answer of ``consulterHistoriqueFacture``; ``entries`` oldest first."""

    chorus_id: int
    number: str | None
    current_status: str  # statutCourantCode
    entries: tuple[HistoryEntry, ...] = ()

    @property
    def info(self) -> StatusInfo:
        return invoice_status(self.current_status)


@dataclass(frozen=True)
class Structure:
    """One item of ``rechercherStructure.listeStructures``."""

    structure_id: int  # idStructureCPP
    identifier: str  # identifiantStructure (the SIRET)
    name: str  # designationStructure
    active: bool  # statut == ACTIVE
    identifier_type: str | None = None  # typeIdentifiantStructure


@dataclass(frozen=True)
class StructureDetails:
    """Answer of ``consulterStructure``: who the structure is and what its invoices must carry."""

    structure_id: int
    identifier: str
    name: str
    requirements: budgets.Requirements
    identifier_type: str | None = None
    kind: str | None = None  # structurePriveePublique: PRIVEE / PUBLIQUE
    vat_number: str | None = None
    email: str | None = None
    technical_password_expiry: datetime | None = None  # dateExpirationMotPasseCompteTech


@dataclass(frozen=True)
class Service:
    """One item of ``rechercherServicesStructure.listeServices``."""

    service_id: int  # idService
    code: str  # codeService
    name: str  # libelleService
    active: bool  # estActif
    engagement_required: bool | None = None  # only known from consulterServiceStructure


@dataclass(frozen=True)
class ServiceDetails:
    """Answer of ``consulterServiceStructure``."""

    structure_id: int
    service_id: int
    code: str | None
    name: str | None
    engagement_required: bool  # parametres.numeroEngagement
    description: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None


@dataclass(frozen=True)
class RecycleResult:
    """Answer of ``recyclerFacture``: the invoice is back to ``DEPOSEE`` with its new routing."""

    chorus_id: int
    number: str | None
    status: str | None
    deposit_date: datetime | None
    label: str = ""



# --------------------------------------------------------------------------- reading values


def dicts(value: Any) -> Iterator[Mapping[str, Any]]:
    """The objects of a JSON list (a single object counts as a list of one); anything else is skipped."""
    if isinstance(value, Mapping):  # a single object where a list was expected
        value = [value]
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                yield item


def as_text(value: Any) -> str | None:
    """The value as stripped text; None for None or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def as_int(value: Any) -> int | None:
    """The value as an integer; None for None, a boolean or anything unreadable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def as_bool(value: Any) -> bool:
    """A Chorus Pro flag: a string is true when it says true, 1, oui or yes (any case)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "oui", "yes")
    return bool(value)


def as_decimal(value: Any) -> Decimal | None:
    """The value as an exact amount; None for None, a boolean or anything unreadable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return None


_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from Chorus Pro's ISO 8601 / ``YYYY-MM-DD HH:MM`` / epoch-millisecond values.

    A value without an offset is Paris time. Unreadable values give None (logged at DEBUG).

    >>> parse_datetime("2018-02-16T15:10:25.536+01:00").isoformat()
    '2018-02-16T15:10:25.536000+01:00'
    >>> parse_datetime("2016-05-24 15:02").isoformat()
    '2016-05-24T15:02:00+02:00'
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=PARIS)
    if isinstance(value, (int, float, Decimal)):
        seconds = float(value) / 1000 if abs(float(value)) > 1e11 else float(value)
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    match = _DATETIME_RE.match(str(value).strip())
    if not match:
        _logger.debug("Unreadable Chorus Pro date %r", value)
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        naive = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro)
    except ValueError:
        _logger.debug("Unreadable Chorus Pro date %r", value)
        return None
    if offset is None:
        return naive.replace(tzinfo=PARIS)
    if offset == "Z":
        return naive.replace(tzinfo=timezone.utc)
    sign = 1 if offset[0] == "+" else -1
    digits = offset[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return naive.replace(tzinfo=timezone(sign * delta))


def parse_date(value: Any) -> date | None:
    """The calendar date of a Chorus Pro date or datetime value (its own local date)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    moment = parse_datetime(value)
    return moment.date() if moment is not None else None


def format_datetime(value: datetime) -> str:
    """ISO 8601 with milliseconds and offset; a naive value is UTC (Odoo's convention).

    >>> format_datetime(datetime(2025, 3, 1, 12, 30))
    '2025-03-01T12:30:00.000+00:00'
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat(timespec="milliseconds")
