"""The Chorus Pro API client (through PISTE): the only place, with :mod:`.auth`, that does HTTP.

Each operation of CHORUS_PRO_API.md used by the supplier side is one method returning frozen
dataclasses; every failure is one of the typed errors of :mod:`.errors`.

Error rules
-----------

* ``codeRetour`` other than 0, whether on HTTP 200 or HTTP 400: :class:`ApiError` carrying
  ``chorus_code``, ``chorus_label``, ``http_status`` and ``operation``. A search that finds nothing
  (``codeRetour`` 20000) is an empty result, not an error.
* 401: the cached token is dropped, a new one fetched and the call made once more; a second 401
  is an :class:`AuthenticationError` (with the gateway's ``error_description``). 403:
  :class:`AuthenticationError` at once (application not subscribed to the API, or refused).
* Reads (searches, reports, history, directory): 429, 5xx and network failures are retried with
  exponential back-off honouring ``Retry-After``, at most ``max_retries`` times and never waiting
  more than ``max_wait`` seconds at once; then :class:`ApiError` (retryable) or
  :class:`TransportError`.
* Writes (``deposerFluxFacture``, ``recyclerFacture``, ``ajouterFichierDansSysteme``,
  ``completerFacture``: :mod:`.client_completion`) are **never retried by the client**, and a
  failure is reported as what it means for the caller:

  ===================================================  ==========================================
  what happened                                        error
  ===================================================  ==========================================
  no token, connection refused, DNS failure, connect   :class:`TransportError` - nothing was sent,
  timeout, TLS certificate refused                     safe to send again
  401 twice / 403                                      :class:`AuthenticationError` - refused by
                                                       the gateway, not processed
  429, 503                                             :class:`ApiError` retryable - the server
                                                       says it did not process the request
  an answer with ``codeRetour`` != 0, any 4xx          :class:`ApiError` - refused
  read timeout, connection cut, other 5xx without a    :class:`OutcomeUnknownError` - the request
  Chorus error body, 2xx that cannot be read, 2xx      may have been recorded: look the invoice up
  without ``numeroFluxDepot``                          before any new deposit
  ===================================================  ==========================================

  A 401 on a write is retried once with a new token: the gateway answers 401 before the request
  reaches Chorus Pro, so nothing was recorded.

Every call passes an explicit ``timeout``; ``calls`` counts HTTP requests per operation (and
``"token"``). Logs (logger ``odoo_chorus_rouen.core.client``) show request summaries at DEBUG,
never a header, a secret or a file's base64.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from . import budgets
from .auth import (
    DEFAULT_TIMEOUT,
    Credentials,
    Endpoints,
    Environment,
    Timeout,
    Token,
    TokenCache,
    TokenProvider,
    describe_exception,
    parse_retry_after,
    redact,
    www_authenticate_reason,
)
from .errors import ApiError, AuthenticationError, ChorusError, ConfigurationError, OutcomeUnknownError, TransportError
from .status import StatusInfo, flow_status, invoice_status

__all__ = [
    "NO_RESULT_CODE",
    "OPERATIONS",
    "WRITE_OPERATIONS",
    "ChorusClient",
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
]

_logger = logging.getLogger(__name__)

#: AIFE operation name -> (HTTP method, path under the API base URL). CHORUS_PRO_API.md §2.
OPERATIONS: dict[str, tuple[str, str]] = {
    "deposerFluxFacture": ("POST", "/cpro/factures/v1/deposer/flux"),
    "consulterCRDetaille": ("POST", "/cpro/transverses/v1/consulterCRDetaille"),
    "rechercherFactureParFournisseur": ("POST", "/cpro/factures/v1/rechercher/fournisseur"),
    "consulterHistoriqueFacture": ("POST", "/cpro/factures/v1/consulter/historique"),
    "recyclerFacture": ("POST", "/cpro/factures/v1/recycler"),
    "ajouterFichierDansSysteme": ("POST", "/cpro/transverses/v1/ajouter/fichier"),
    "completerFacture": ("POST", "/cpro/factures/v1/completer"),
    "rechercherStructure": ("POST", "/cpro/structures/v1/rechercher"),
    "consulterStructure": ("POST", "/cpro/structures/v1/consulter"),
    "rechercherServicesStructure": ("POST", "/cpro/structures/v1/rechercher/services"),
    "consulterServiceStructure": ("POST", "/cpro/structures/v1/consulter/service"),
    "healthCheck": ("GET", "/cpro/transverses/v1/health-check"),
}
#: Operations that change something on the platform: never retried by the client.
WRITE_OPERATIONS = frozenset({"deposerFluxFacture", "recyclerFacture", "ajouterFichierDansSysteme", "completerFacture"})
#: ``codeRetour`` of a search that found nothing (``TRA_MSG_00.015``).
NO_RESULT_CODE = 20000

DEFAULT_MAX_RETRIES = 3
DEFAULT_BACKOFF = 0.5  # seconds before the first retry, doubled each time
DEFAULT_MAX_WAIT = 30.0  # never sleep longer than this at once; a longer Retry-After is handed to the caller
MAX_PAGES = 10_000  # guard against a server whose pagination never ends
PARIS = ZoneInfo("Europe/Paris")
_BULKY_KEYS = frozenset({"fichierFlux", "fichierFacture", "pieceJointeFichier", "fichierResultat", "fichierCR"})


# --------------------------------------------------------------------------- results


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


# --------------------------------------------------------------------------- client


class ChorusClient:
    """Chorus Pro through PISTE.

    :param credentials: :class:`~.auth.Credentials` (or a mapping / object with its four fields).
    :param endpoints: :class:`~.auth.Endpoints`, an :class:`~.auth.Environment` (or its name), or
        the base URL of a sandbox.
    :param session: ``requests.Session`` to share; it must not retry POSTs by itself. A new one
        (no transport-level retries) when None.
    :param timeout: seconds, or ``(connect, read)``, passed on every request.
    :param max_retries: retries of a read after 429 / 5xx / network failure (0 = none).
    :param backoff: first back-off delay in seconds, doubled at each retry.
    :param max_wait: longest single wait; a ``Retry-After`` above it ends the retries at once.
    :param sleep: injectable ``time.sleep`` (tests assert the waits without sleeping).
    :param token_cache: token store; the process-wide one by default.
    :raises ConfigurationError: missing credential fields or unknown environment.
    """

    def __init__(
        self,
        credentials: Credentials | Mapping[str, str] | Any,
        endpoints: Endpoints | Environment | str,
        *,
        session: requests.Session | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        max_wait: float = DEFAULT_MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
        token_cache: TokenCache | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = Credentials.coerce(credentials)
        self.endpoints = Endpoints.coerce(endpoints)
        if max_retries < 0 or backoff < 0 or max_wait < 0:
            raise ConfigurationError("invalid_retry_policy", "max_retries, backoff and max_wait must be >= 0")
        if not timeout:
            raise ConfigurationError("missing_timeout", "An explicit timeout is required", params={"fields": "timeout"})
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_wait = max_wait
        self._sleep = sleep
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(max_retries=0)  # the client decides what is retried, never urllib3
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self.session = session
        self.calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        self._auth = TokenProvider(
            self.credentials,
            self.endpoints.token_url,
            session=session,
            timeout=timeout,
            cache=token_cache,
            clock=clock,
            on_fetch=lambda _token: self._count("token"),
        )

    def __repr__(self) -> str:
        return f"ChorusClient(api_url={self.endpoints.api_url!r}, client_id={self.credentials.client_id!r})"

    def __enter__(self) -> ChorusClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session if the client created it."""
        if self._owns_session:
            self.session.close()

    # ------------------------------------------------------------------ operations

    def deposit_flow(
        self, data: bytes, filename: str, syntax: str, *, body: Mapping[str, Any] | None = None
    ) -> DepositResult:
        """Deposit one invoice file (``deposerFluxFacture``). Never retried by the client.

        :param data: the file (Factur-X PDF, CII or UBL XML...).
        :param filename: ``nomFichier``, with its extension.
        :param syntax: ``syntaxeFlux``, e.g. ``IN_DP_E2_CII_FACTURX``.
        :param body: a ready ``deposerFluxFacture`` body (``payload.build_deposit``); then ``data``
            is ignored and ``filename``/``syntax`` only name it in errors.
        :raises OutcomeUnknownError: the deposit may have been recorded (see the module doc).
        :raises TransportError: nothing was sent; safe to try again.
        :raises ApiError: refused (``codeRetour``, HTTP status), ``retryable`` for 429/503.
        :raises AuthenticationError: credentials refused.
        """
        if body is None:
            body = {
                "fichierFlux": base64.b64encode(data).decode("ascii"),
                "nomFichier": filename,
                "syntaxeFlux": syntax,
                "avecSignature": False,
            }
        else:
            filename = str(body.get("nomFichier") or filename)
            syntax = str(body.get("syntaxeFlux") or syntax)
        context = {"file_name": filename}
        answer = self._call("deposerFluxFacture", body, context=context)
        flow_number = _str(answer.get("numeroFluxDepot"))
        if not flow_number:
            raise self._outcome_unknown(
                "deposerFluxFacture", context, "the answer carries no numeroFluxDepot", answer.get("_http_status")
            )
        return DepositResult(
            flow_number=flow_number,
            deposit_date=_parse_date(answer.get("dateDepot")),
            syntax=_str(answer.get("syntaxeFlux")) or syntax,
            label=_str(answer.get("libelle")) or "",
        )

    def flow_report(self, flow_number: str, syntax: str | None = None) -> FlowReport:
        """Integration state of a flow and its errors (``consulterCRDetaille``)."""
        body: dict[str, Any] = {"numeroFluxDepot": flow_number}
        if syntax:
            body["syntaxeFlux"] = syntax
        answer = self._call("consulterCRDetaille", body)
        state = _str(answer.get("etatCourantDepotFlux") or answer.get("etatCourantFlux"))
        if not state:
            raise self._invalid("consulterCRDetaille", answer, "no etatCourantDepotFlux in the answer")
        return FlowReport(
            flow_number=flow_number,
            state=state,
            state_date=_parse_datetime(answer.get("dateHeureEtatCourantFlux")),
            deposit_date=_parse_datetime(answer.get("dateDepotFlux")),
            file_name=_str(answer.get("nomFichier")),
            dp_errors=tuple(
                DpError(
                    supplier_id=_str(item.get("identifiantFournisseur")),
                    recipient_id=_str(item.get("identifiantDestinataire")),
                    invoice_number=_str(item.get("numeroDP")),
                    message=_str(item.get("libelleErreurDP")) or "",
                )
                for item in _dicts(answer.get("listeErreurDP"))
            ),
            technical_errors=tuple(
                TechnicalError(
                    code=_str(item.get("codeErreur")),
                    label=_str(item.get("libelleErreur")) or "",
                    nature=_str(item.get("natureErreur")),
                )
                for item in _dicts(answer.get("listeErreurTechnique"))
            ),
            interface_code=_str(answer.get("codeInterfaceDepotFlux")),
            label=_str(answer.get("libelle")) or "",
        )

    def search_invoices(
        self,
        *,
        flow_number: str | None = None,
        invoice_number: str | None = None,
        changed_since: datetime | None = None,
        changed_until: datetime | None = None,
        statuses: Iterable[str] | None = None,
        invoice_type: str | None = None,
        page_size: int = 100,
        sort_column: str | None = None,
        descending: bool = False,
    ) -> Iterator[InvoiceSummary]:
        """Every matching invoice issued by the account's structures (``rechercherFactureParFournisseur``).

        Walks all pages; an invoice seen on an earlier page is not yielded twice (the list may
        shift while it is read). No result is an empty iterator.

        :param changed_since: ``periodeDateHeureEtatCourantDu``; a naive datetime is taken as UTC.
        :param statuses: ``statutCourant`` codes.
        """
        criteria: dict[str, Any] = {}
        if flow_number:
            criteria["numeroFluxDepot"] = flow_number
        if invoice_number:
            criteria["numeroFacture"] = invoice_number
        if changed_since is not None:
            criteria["periodeDateHeureEtatCourantDu"] = _format_datetime(changed_since)
        if changed_until is not None:
            criteria["periodeDateHeureEtatCourantAu"] = _format_datetime(changed_until)
        if statuses:
            criteria["statutCourant"] = list(statuses)
        if invoice_type:
            criteria["typeFacture"] = invoice_type
        seen: set[int] = set()

        def page_body(page: int) -> dict[str, Any]:
            paging: dict[str, Any] = {
                "pageResultatDemandee": page,
                "nbResultatsParPage": page_size,
                "triSens": "Descendant" if descending else "Ascendant",
            }
            if sort_column:
                paging["triColonne"] = sort_column
            return {**criteria, "rechercheFactureParFournisseur": paging}

        for item in self._pages("rechercherFactureParFournisseur", page_body, "listeFactures", page_size):
            summary = _invoice_summary(item)
            if summary is None or summary.chorus_id in seen:
                continue
            seen.add(summary.chorus_id)
            yield summary

    def invoice_history(self, chorus_id: int, *, page_size: int = 100) -> InvoiceHistory:
        """Status history of one invoice (``consulterHistoriqueFacture``), all pages, oldest first.

        Dates have only minute precision and one status may come back several times (a recycled
        invoice is ``DEPOSEE`` again, possibly in the same minute): every entry is kept, only a
        ``histoStatutId`` seen twice (a server repeating a page) is dropped, and entries are ordered
        by (date, ``histoStatutId``). Entries without an id keep the order of the answer, read
        oldest first even when the server answered newest first.
        """
        entries: list[HistoryEntry] = []
        seen_ids: set[int] = set()
        page = 1
        first: Mapping[str, Any] = {}
        while True:
            body = {
                "idFacture": int(chorus_id),
                "paramRechercheHistoStatuts": {
                    "pageResultatDemandeeListeHistoStatut": page,
                    "nbResultatsParPageListeHistoStatut": page_size,
                    "triSensListeHistoStatut": "Ascendant",
                },
            }
            answer = self._call("consulterHistoriqueFacture", body)
            if page == 1:
                first = answer
                answered_id = _int(answer.get("idFacture"))
                if answered_id is not None and answered_id != int(chorus_id):
                    raise self._invalid(
                        "consulterHistoriqueFacture", answer, f"asked for invoice {chorus_id}, got {answered_id}"
                    )
                if not _str(answer.get("statutCourantCode")):
                    raise self._invalid("consulterHistoriqueFacture", answer, "no statutCourantCode in the answer")
            block = answer.get("historiquesDesStatuts")
            block = block if isinstance(block, Mapping) else {}
            for item in _dicts(block.get("histoStatut")):
                entry = HistoryEntry(
                    status=_str(item.get("histoStatutCode")) or "",
                    date=_parse_datetime(item.get("histoStatutDatePassage")),
                    comment=_str(item.get("histoStatutCommentaire")),
                    entry_id=_int(item.get("histoStatutId")),
                )
                if entry.entry_id is not None:
                    # A server that ignores the page asked for repeats entries: keep each id once.
                    if entry.entry_id in seen_ids:
                        continue
                    seen_ids.add(entry.entry_id)
                entries.append(entry)
            pages = _int(block.get("pagesHistoStatut"))
            current = _int(block.get("pageCouranteHistoStatut")) or page
            if not pages or max(current, page) >= pages or page >= MAX_PAGES:
                break
            page = max(current, page) + 1
        dated = [entry.date for entry in entries if entry.date is not None]
        if len(dated) > 1 and dated[0] > dated[-1]:
            entries.reverse()  # answered newest first despite "Ascendant": read it oldest first
        oldest = datetime.min.replace(tzinfo=timezone.utc)
        ordered = sorted(entries, key=lambda e: (e.date is None, e.date or oldest, e.entry_id or 0))  # stable
        return InvoiceHistory(
            chorus_id=int(chorus_id),
            number=_str(first.get("numeroFacture")),
            current_status=_str(first.get("statutCourantCode")) or "",
            entries=tuple(ordered),
        )

    def search_structures(
        self, identifier: str, *, identifier_type: str = "SIRET", page_size: int = 100
    ) -> list[Structure]:
        """Directory search of a structure by identifier (``rechercherStructure``), all pages."""
        ident = budgets.compact_siret(identifier) if identifier_type == "SIRET" else identifier

        def page_body(page: int) -> dict[str, Any]:
            return {
                "structure": {"identifiantStructure": ident, "typeIdentifiantStructure": identifier_type},
                "parametres": {"pageResultatDemandee": page, "nbResultatsParPage": page_size},
            }

        result = []
        for item in self._pages("rechercherStructure", page_body, "listeStructures", page_size):
            structure_id = _int(item.get("idStructureCPP"))
            if structure_id is None:
                _logger.warning("rechercherStructure: an item without idStructureCPP was skipped")
                continue
            result.append(
                Structure(
                    structure_id=structure_id,
                    identifier=_str(item.get("identifiantStructure")) or "",
                    name=_str(item.get("designationStructure")) or "",
                    active=(_str(item.get("statut")) or "ACTIVE").upper() in ("ACTIVE", "ACTIF"),
                    identifier_type=_str(item.get("typeIdentifiantStructure")),
                )
            )
        return result

    def get_structure(self, structure_id: int, *, language: str = "FR") -> StructureDetails:
        """Details of a structure and its mandatory-data flags (``consulterStructure``)."""
        answer = self._call("consulterStructure", {"idStructureCPP": int(structure_id), "codeLangue": language})
        info = answer.get("informationGenerales")
        info = info if isinstance(info, Mapping) else {}
        params = answer.get("parametres")
        params = params if isinstance(params, Mapping) else {}
        person = " ".join(p for p in (_str(info.get("prenomStructure")), _str(info.get("nomStructure"))) if p)
        return StructureDetails(
            structure_id=_int(info.get("idStructureCPP")) or int(structure_id),
            identifier=_str(info.get("identifiantStructure")) or "",
            name=_str(info.get("raisonSocialeStructure")) or _str(info.get("libelleStructure")) or person,
            requirements=budgets.Requirements(
                service_code=_bool(params.get("codeServiceDoitEtreRenseigne")),
                engagement=_bool(params.get("numeroEJDoitEtreRenseigne")),
                service_or_engagement=_bool(params.get("gestionNumeroEJOuCodeService")),
            ),
            identifier_type=_str(info.get("typeIdentifiantStructure")),
            kind=_str(info.get("structurePriveePublique")),
            vat_number=_str(info.get("numeroTVA")),
            email=_str(info.get("emailStructure")),
            technical_password_expiry=_parse_datetime(info.get("dateExpirationMotPasseCompteTech")),
        )

    def search_services(self, structure_id: int, *, page_size: int = 1000) -> list[Service]:
        """Every service of a structure (``rechercherServicesStructure``), all pages."""

        def page_body(page: int) -> dict[str, Any]:
            return {
                "idStructure": int(structure_id),
                "parametresRechercherServicesStructure": {
                    "pageResultatDemandee": page,
                    "nbResultatsParPage": page_size,
                },
            }

        result = []
        for item in self._pages("rechercherServicesStructure", page_body, "listeServices", page_size):
            service_id = _int(item.get("idService"))
            if service_id is None:
                _logger.warning("rechercherServicesStructure: an item without idService was skipped")
                continue
            active = item.get("estActif")
            result.append(
                Service(
                    service_id=service_id,
                    code=_str(item.get("codeService")) or "",
                    name=_str(item.get("libelleService")) or "",
                    active=_bool(active)
                    if active is not None
                    else (_str(item.get("statutService")) or "") != "INACTIF",
                )
            )
        return result

    def get_service(self, structure_id: int, service_id: int, *, language: str = "FR") -> ServiceDetails:
        """Details of one service, incl. whether it requires an engagement number (``consulterServiceStructure``)."""
        answer = self._call(
            "consulterServiceStructure",
            {"idStructure": int(structure_id), "idService": int(service_id), "codeLangue": language},
        )
        info = answer.get("informationsGenerales")
        info = info if isinstance(info, Mapping) else {}
        params = answer.get("parametres")
        params = params if isinstance(params, Mapping) else {}
        return ServiceDetails(
            structure_id=int(structure_id),
            service_id=int(service_id),
            code=_str(info.get("codeService")),
            name=_str(info.get("nomService")),
            engagement_required=_bool(params.get("numeroEngagement")),
            description=_str(info.get("descriptionService")),
            valid_from=_parse_datetime(params.get("dateDebutValidite")),
            valid_until=_parse_datetime(params.get("dateFinValidite")),
        )

    def recycle_invoice(
        self,
        chorus_id: int,
        *,
        recipient_siret: str,
        service_code: str | None = None,
        engagement: str | None = None,
        comment: str | None = None,
    ) -> RecycleResult:
        """Correct the routing data of an ``A_RECYCLER`` invoice (``recyclerFacture``). A write: never retried.

        :param service_code: new service code; ``""`` clears it, ``None`` leaves it unchanged.
        :param engagement: new engagement number; ``""`` clears it, ``None`` leaves it unchanged.
        :raises OutcomeUnknownError: the change may have been recorded; read the invoice's status.
        """
        destinataire = {"codeDestinataire": budgets.compact_siret(recipient_siret)}
        if service_code is not None:
            destinataire["codeServiceExecutant"] = service_code
        body: dict[str, Any] = {"identifiantFactureCPP": int(chorus_id), "destinataire": destinataire}
        if engagement is not None:
            body["reference"] = {"numeroBonCommande": engagement}
        if comment:
            body["commentaire"] = comment
        answer = self._call("recyclerFacture", body, context={"chorus_id": int(chorus_id)})
        return RecycleResult(
            chorus_id=_int(answer.get("identifiantFactureCPP")) or int(chorus_id),
            number=_str(answer.get("numeroFacture")),
            status=_str(answer.get("statutFacture")),
            deposit_date=_parse_datetime(answer.get("dateDepot")),
            label=_str(answer.get("libelle")) or "",
        )

    def health_check(self) -> bool:
        """Whether the platform says it is up (``GET /cpro/transverses/v1/health-check``), one attempt.

        :return: True on HTTP 2xx (and a ``statusCodeValue`` of 200 when the body has one), else False.
        :raises TransportError: the platform could not be reached.
        :raises AuthenticationError: the credentials are refused (a configuration test fails loudly).
        """
        try:
            answer = self._call("healthCheck", None, retries=0, json_required=False)
        except ApiError as err:
            _logger.info("Chorus Pro health check failed: %s", err)
            return False
        code = _int(answer.get("statusCodeValue"))
        return code is None or 200 <= code < 300

    # ------------------------------------------------------------------ plumbing

    def _count(self, operation: str) -> None:
        with self._calls_lock:
            self.calls[operation] += 1

    def _secrets(self, token: Token | None = None) -> tuple[str, ...]:
        extra = (token.access_token,) if token is not None else ()
        return self.credentials.secrets + extra

    def _headers(self, token: Token, method: str) -> dict[str, str]:
        headers = {
            "Authorization": token.authorization,
            "cpro-account": self.credentials.cpro_account,
            "Accept": "application/json;charset=utf-8",
            "Accept-Charset": "utf-8",
        }
        if method != "GET":
            headers["Content-Type"] = "application/json;charset=utf-8"
        return headers

    def _pages(
        self,
        operation: str,
        page_body: Callable[[int], dict[str, Any]],
        list_key: str,
        page_size: int,
    ) -> Iterator[Mapping[str, Any]]:
        """Yield the items of every page; pagination read from ``parametresRetour`` or top-level keys."""
        page = 1
        while True:
            answer = self._call(operation, page_body(page), accept_codes=(NO_RESULT_CODE,))
            items = list(_dicts(answer.get(list_key)))
            yield from items
            paging = answer.get("parametresRetour")
            paging = paging if isinstance(paging, Mapping) else answer
            pages = _int(paging.get("pages"))
            current = _int(paging.get("pageCourante")) or page
            if not items or page >= MAX_PAGES:
                return
            if pages is not None:
                if max(current, page) >= pages:
                    return
            elif len(items) < page_size:
                return
            page = max(current, page) + 1

    def _call(
        self,
        operation: str,
        body: Mapping[str, Any] | None,
        *,
        context: Mapping[str, Any] | None = None,
        accept_codes: Iterable[int] = (),
        retries: int | None = None,
        json_required: bool = True,
    ) -> dict[str, Any]:
        """One operation with the module's error, refresh and retry rules; returns the JSON object.

        The answer dict gets an extra ``_http_status`` key.
        """
        call = _Call(
            operation=operation,
            body=body,
            payload=json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None,
            write=operation in WRITE_OPERATIONS,
            context=dict(context or {}),
            accept_codes=frozenset(accept_codes),
            json_required=json_required,
        )
        max_retries = self.max_retries if retries is None else retries
        attempt = 0  # retries done
        while True:
            try:
                return self._attempt(call)
            except _Refresh:
                call.refreshed = True
                continue
            except _Retry as retry:
                delay = None if call.write else self._retry_delay(attempt, max_retries, retry.retry_after)
                if delay is None:
                    raise retry.error from retry.error.__cause__
                attempt += 1
                self._wait(operation, delay, attempt, max_retries, retry.reason)

    def _attempt(self, call: _Call) -> dict[str, Any]:
        """One HTTP exchange; raises :class:`_Retry` / :class:`_Refresh` to ask :meth:`_call` for another."""
        try:
            token = self._auth.token()
        except AuthenticationError:
            raise
        except ChorusError as err:  # the token endpoint failed: nothing was sent to Chorus Pro
            if call.write or not err.retryable:
                raise
            raise _Retry(err, getattr(err, "retry_after", None), f"token: {err}") from None
        response = self._send(call, token)
        return self._interpret(call, token, response)

    def _send(self, call: _Call, token: Token) -> requests.Response:
        operation = call.operation
        method, path = OPERATIONS[operation]
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug("%s %s %s %s", method, operation, path, _summary(call.body))
        self._count(operation)
        started = time.perf_counter()
        try:
            response = self.session.request(
                method,
                self.endpoints.api_url + path,
                data=call.payload,
                headers=self._headers(token, method),
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as err:
            reason = describe_exception(err, self._secrets(token))
            params = {"reason": reason, "operation": operation, **call.context}
            if not call.write:
                error = TransportError(f"{operation}: Chorus Pro could not be reached ({reason})", params=params)
                error.__cause__ = err
                raise _Retry(error, None, reason) from None
            if _never_sent(err):
                raise TransportError(
                    f"{operation}: Chorus Pro could not be reached, nothing was sent ({reason})", params=params
                ) from err
            raise self._outcome_unknown(operation, call.context, reason) from err
        _logger.debug(
            "%s %s -> HTTP %s in %.1f ms",
            method,
            operation,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def _interpret(self, call: _Call, token: Token, response: requests.Response) -> dict[str, Any]:
        operation, context = call.operation, call.context
        secrets = self._secrets(token)
        status = response.status_code
        if status in (401, 403):
            reason = www_authenticate_reason(response, secrets)
            if status == 401 and not call.refreshed:
                self._auth.invalidate(token)
                _logger.info("%s: HTTP 401 (%s), getting a new token and trying once more", operation, reason or "-")
                raise _Refresh()
            if status == 401:
                message = f"{operation}: Chorus Pro refused the credentials twice: {reason or 'HTTP 401'}"
            else:
                reason = reason or "access refused (is the PISTE application subscribed to this API?)"
                message = f"{operation}: HTTP 403, {reason}"
            raise AuthenticationError(
                message,
                params={"reason": reason or f"HTTP {status}", "http_status": status, "operation": operation, **context},
            )
        data = _json_object(response)
        if data is None and not call.json_required and 200 <= status < 300:
            data = {}
        code = _int(data.get("codeRetour")) if data is not None else None
        label = redact(data.get("libelle"), secrets) if data is not None and data.get("libelle") else None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        refused = code not in (None, 0) and code not in call.accept_codes
        if status == 429 or status >= 500:
            if call.write and status not in (429, 503) and not refused:
                raise self._outcome_unknown(operation, context, f"HTTP {status}", status)
            error = self._api_error(operation, status, data, code, label, retry_after, context)
            raise _Retry(error, retry_after, f"HTTP {status}")
        if data is None and call.write and 200 <= status < 300:
            raise self._outcome_unknown(operation, context, f"HTTP {status} with a body that is not JSON", status)
        if data is None or refused or not 200 <= status < 300:
            raise self._api_error(operation, status, data, code, label, retry_after, context)
        data["_http_status"] = status
        return data

    def _retry_delay(self, attempt: int, max_retries: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or None when the retries are over."""
        if attempt >= max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_wait else None
        return min(self.max_wait, self.backoff * (2**attempt))

    def _wait(self, operation: str, delay: float, attempt: int, max_retries: int, why: str) -> None:
        _logger.info("%s: %s, retry %d/%d in %.2f s", operation, why, attempt, max_retries, delay)
        if delay > 0:
            self._sleep(delay)

    def _api_error(
        self,
        operation: str,
        status: int,
        data: Mapping[str, Any] | None,
        code: int | None,
        label: str | None,
        retry_after: float | None,
        context: Mapping[str, Any],
    ) -> ApiError:
        retryable = status == 429 or status >= 500
        if data is None:
            message = f"{operation}: Chorus Pro answered HTTP {status} with a body that is not JSON"
            error_code = "invalid_response"
        elif code not in (None, 0):
            message = f"{operation}: Chorus Pro answered HTTP {status}, codeRetour {code}: {label or '?'}"
            error_code = "api_error"
        else:
            message = f"{operation}: Chorus Pro answered HTTP {status}" + (f" ({label})" if label else "")
            error_code = "api_error"
        if retry_after is not None:
            message += f"; retry after {retry_after:.0f} s"
        return ApiError(
            message,
            code=error_code,
            http_status=status,
            chorus_code=code,
            chorus_label=label,
            retry_after=retry_after,
            operation=operation,
            retryable=retryable,
            params=dict(context),
        )

    def _invalid(self, operation: str, answer: Mapping[str, Any], reason: str) -> ApiError:
        return ApiError(
            f"{operation}: unusable answer from Chorus Pro: {reason}",
            code="invalid_response",
            http_status=_int(answer.get("_http_status")),
            operation=operation,
            retryable=False,
            params={"reason": reason},
        )

    def _outcome_unknown(
        self, operation: str, context: Mapping[str, Any], reason: str, status: int | None = None
    ) -> OutcomeUnknownError:
        what = context.get("file_name") or context.get("chorus_id") or ""
        subject = f"{operation} ({what})" if what else operation
        _logger.info("%s: outcome unknown (%s); look it up before sending again", subject, reason)
        return OutcomeUnknownError(
            f"No usable answer from Chorus Pro after sending {subject}: it may have been recorded; "
            f"look it up on Chorus Pro before sending it again ({reason})",
            params={"operation": operation, "reason": reason, "http_status": status, **context},
        )


# --------------------------------------------------------------------------- helpers


@dataclass
class _Call:
    """What one operation call needs across its attempts."""

    operation: str
    body: Mapping[str, Any] | None
    payload: bytes | None
    write: bool
    context: dict[str, Any]
    accept_codes: frozenset[int]
    json_required: bool = True
    refreshed: bool = False


class _Refresh(Exception):
    """HTTP 401 with a token not yet renewed: renew it and try again (once)."""


class _Retry(Exception):
    """A failure a read may retry; ``error`` is raised when the retries are over (writes: at once)."""

    def __init__(self, error: ChorusError, retry_after: float | None, reason: str) -> None:
        super().__init__(reason)
        self.error = error
        self.retry_after = retry_after
        self.reason = reason


def _never_sent(err: BaseException) -> bool:
    """Whether a transport exception proves the request never left this machine.

    True only when the TCP connection (or the TLS handshake, refused certificate) could not be
    established: urllib3's ``NewConnectionError`` (refused, unreachable, DNS failure) and
    ``ConnectTimeoutError``. Since the client's session does not retry at the transport level,
    no earlier attempt can have carried the request either. Anything else (read timeout,
    connection reset or closed while waiting for the answer) may have happened after the server
    got the request.
    """
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return True
    stack: list[Any] = [err]
    seen: set[int] = set()
    while stack:
        exc = stack.pop()
        if not isinstance(exc, BaseException) or id(exc) in seen:
            continue
        seen.add(id(exc))
        if isinstance(exc, (NewConnectionError, ConnectTimeoutError, ssl.SSLCertVerificationError)):
            return True
        stack.extend([getattr(exc, "reason", None), exc.__cause__, exc.__context__, *exc.args])
    return False


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content or b"", parse_float=Decimal)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _summary(body: Mapping[str, Any] | None) -> str:
    """A loggable view of a request body: files replaced by their size."""
    if body is None:
        return "-"

    def shorten(key: str, value: Any) -> Any:
        if key in _BULKY_KEYS and isinstance(value, str):
            return f"<base64, {len(value)} chars>"
        if isinstance(value, str) and len(value) > 200:
            return value[:60] + f"...<{len(value)} chars>"
        if isinstance(value, Mapping):
            return {k: shorten(k, v) for k, v in value.items()}
        return value

    return repr({k: shorten(k, v) for k, v in body.items()})


def _dicts(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, Mapping):  # a single object where a list was expected
        value = [value]
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                yield item


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "oui", "yes")
    return bool(value)


def _decimal(value: Any) -> Decimal | None:
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


def _parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from Chorus Pro's ISO 8601 / ``YYYY-MM-DD HH:MM`` / epoch-millisecond values.

    A value without an offset is Paris time. Unreadable values give None (logged at DEBUG).

    >>> _parse_datetime("2018-02-16T15:10:25.536+01:00").isoformat()
    '2018-02-16T15:10:25.536000+01:00'
    >>> _parse_datetime("2016-05-24 15:02").isoformat()
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


def _parse_date(value: Any) -> date | None:
    """The calendar date of a Chorus Pro date or datetime value (its own local date)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    moment = _parse_datetime(value)
    return moment.date() if moment is not None else None


def _format_datetime(value: datetime) -> str:
    """ISO 8601 with milliseconds and offset; a naive value is UTC (Odoo's convention).

    >>> _format_datetime(datetime(2025, 3, 1, 12, 30))
    '2025-03-01T12:30:00.000+00:00'
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat(timespec="milliseconds")


def _invoice_summary(item: Mapping[str, Any]) -> InvoiceSummary | None:
    chorus_id = _int(item.get("identifiantFactureCPP") or item.get("idFacture"))
    if chorus_id is None:
        _logger.warning("rechercherFactureParFournisseur: an invoice without identifiantFactureCPP was skipped")
        return None
    return InvoiceSummary(
        chorus_id=chorus_id,
        number=_str(item.get("numeroFacture")) or "",
        status=_str(item.get("statut") or item.get("statutFacture")) or "",
        status_date=_parse_datetime(item.get("dateHeureEtatCourant")),
        flow_number=_str(item.get("numeroFluxDepot")),
        recipient_siret=_str(item.get("codeDestinataire")),
        service_code=_str(item.get("codeServiceExecutant")),
        engagement=_str(item.get("numeroBonCommande")),
        invoice_type=_str(item.get("typeFacture")),
        deposit_date=_parse_date(item.get("dateDepot")),
        amount_ttc=_decimal(item.get("montantTTC")),
        comment=_str(item.get("commentaireEtatCourant")),
        supplier_siret=_str(item.get("codeFournisseur")),
        invoice_date=_parse_date(item.get("dateFacture")),
        amount_ht=_decimal(item.get("montantHT")),
        amount_due=_decimal(item.get("montantAPayer")),
        currency=_str(item.get("devise")),
        recipient_name=_str(item.get("designationDestinataire")),
    )
