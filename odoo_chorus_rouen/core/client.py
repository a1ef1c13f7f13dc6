"""The Chorus Pro API client (through PISTE): :class:`ChorusClient`, one method per operation.

Each operation of CHORUS_PRO_API.md used by the supplier side is one method that builds the
request body, makes the call through :class:`~.client_transport.ChorusTransport` (the only HTTP
path, with :mod:`.auth`) and returns the frozen dataclasses of :mod:`.client_answers`; every
failure is one of the typed errors of :mod:`.errors`. The rules that decide which error, and what
is retried (reads) or never retried (writes: deposit, recycling, completion), are in the
:mod:`.client_transport` module doc. The completion operations are in :mod:`.client_completion`.

Logs (logger ``odoo_chorus_rouen.core.client``, which every module of the client writes to) show
request summaries at DEBUG, never a header, a secret or a file's base64.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from . import budgets
from .client_answers import (
    DepositResult,
    DpError,
    FlowReport,
    HistoryEntry,
    InvoiceHistory,
    InvoiceSummary,
    RecycleResult,
    Service,
    ServiceDetails,
    Structure,
    StructureDetails,
    TechnicalError,
    as_bool,
    as_decimal,
    as_int,
    as_text,
    dicts,
    format_datetime,
    parse_date,
    parse_datetime,
)
from .client_transport import MAX_PAGES, ChorusTransport
from .errors import ApiError

__all__ = ["ChorusClient"]

_logger = logging.getLogger(__name__)


class ChorusClient(ChorusTransport):
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

    def deposit_flow(
        self, data: bytes, filename: str, syntax: str, *, body: Mapping[str, Any] | None = None
    ) -> DepositResult:
        """Deposit one invoice file (``deposerFluxFacture``). Never retried by the client.

        :param data: the file (Factur-X PDF, CII or UBL XML...).
        :param filename: ``nomFichier``, with its extension.
        :param syntax: ``syntaxeFlux``, e.g. ``IN_DP_E2_CII_FACTURX``.
        :param body: a ready ``deposerFluxFacture`` body (``payload.build_deposit``); then ``data``
            is ignored and ``filename``/``syntax`` only name it in errors.
        :raises OutcomeUnknownError: the deposit may have been recorded (see :mod:`.client_transport`).
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
        flow_number = as_text(answer.get("numeroFluxDepot"))
        if not flow_number:
            raise self._outcome_unknown(
                "deposerFluxFacture", context, "the answer carries no numeroFluxDepot", answer.get("_http_status")
            )
        return DepositResult(
            flow_number=flow_number,
            deposit_date=parse_date(answer.get("dateDepot")),
            syntax=as_text(answer.get("syntaxeFlux")) or syntax,
            label=as_text(answer.get("libelle")) or "",
        )

    def flow_report(self, flow_number: str, syntax: str | None = None) -> FlowReport:
        """Integration state of a flow and its errors (``consulterCRDetaille``)."""
        body: dict[str, Any] = {"numeroFluxDepot": flow_number}
        if syntax:
            body["syntaxeFlux"] = syntax
        answer = self._call("consulterCRDetaille", body)
        state = as_text(answer.get("etatCourantDepotFlux") or answer.get("etatCourantFlux"))
        if not state:
            raise self._invalid("consulterCRDetaille", answer, "no etatCourantDepotFlux in the answer")
        return FlowReport(
            flow_number=flow_number,
            state=state,
            state_date=parse_datetime(answer.get("dateHeureEtatCourantFlux")),
            deposit_date=parse_datetime(answer.get("dateDepotFlux")),
            file_name=as_text(answer.get("nomFichier")),
            dp_errors=tuple(
                DpError(
                    supplier_id=as_text(item.get("identifiantFournisseur")),
                    recipient_id=as_text(item.get("identifiantDestinataire")),
                    invoice_number=as_text(item.get("numeroDP")),
                    message=as_text(item.get("libelleErreurDP")) or "",
                )
                for item in dicts(answer.get("listeErreurDP"))
            ),
            technical_errors=tuple(
                TechnicalError(
                    code=as_text(item.get("codeErreur")),
                    label=as_text(item.get("libelleErreur")) or "",
                    nature=as_text(item.get("natureErreur")),
                )
                for item in dicts(answer.get("listeErreurTechnique"))
            ),
            interface_code=as_text(answer.get("codeInterfaceDepotFlux")),
            label=as_text(answer.get("libelle")) or "",
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
            criteria["periodeDateHeureEtatCourantDu"] = format_datetime(changed_since)
        if changed_until is not None:
            criteria["periodeDateHeureEtatCourantAu"] = format_datetime(changed_until)
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
                answered_id = as_int(answer.get("idFacture"))
                if answered_id is not None and answered_id != int(chorus_id):
                    raise self._invalid(
                        "consulterHistoriqueFacture", answer, f"asked for invoice {chorus_id}, got {answered_id}"
                    )
                if not as_text(answer.get("statutCourantCode")):
                    raise self._invalid("consulterHistoriqueFacture", answer, "no statutCourantCode in the answer")
            block = answer.get("historiquesDesStatuts")
            block = block if isinstance(block, Mapping) else {}
            for item in dicts(block.get("histoStatut")):
                entry = HistoryEntry(
                    status=as_text(item.get("histoStatutCode")) or "",
                    date=parse_datetime(item.get("histoStatutDatePassage")),
                    comment=as_text(item.get("histoStatutCommentaire")),
                    entry_id=as_int(item.get("histoStatutId")),
                )
                if entry.entry_id is not None:
                    # A server that ignores the page asked for repeats entries: keep each id once.
                    if entry.entry_id in seen_ids:
                        continue
                    seen_ids.add(entry.entry_id)
                entries.append(entry)
            pages = as_int(block.get("pagesHistoStatut"))
            current = as_int(block.get("pageCouranteHistoStatut")) or page
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
            number=as_text(first.get("numeroFacture")),
            current_status=as_text(first.get("statutCourantCode")) or "",
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
            structure_id = as_int(item.get("idStructureCPP"))
            if structure_id is None:
                _logger.warning("rechercherStructure: an item without idStructureCPP was skipped")
                continue
            result.append(
                Structure(
                    structure_id=structure_id,
                    identifier=as_text(item.get("identifiantStructure")) or "",
                    name=as_text(item.get("designationStructure")) or "",
                    active=(as_text(item.get("statut")) or "ACTIVE").upper() in ("ACTIVE", "ACTIF"),
                    identifier_type=as_text(item.get("typeIdentifiantStructure")),
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
        person = " ".join(p for p in (as_text(info.get("prenomStructure")), as_text(info.get("nomStructure"))) if p)
        return StructureDetails(
            structure_id=as_int(info.get("idStructureCPP")) or int(structure_id),
            identifier=as_text(info.get("identifiantStructure")) or "",
            name=as_text(info.get("raisonSocialeStructure")) or as_text(info.get("libelleStructure")) or person,
            requirements=budgets.Requirements(
                service_code=as_bool(params.get("codeServiceDoitEtreRenseigne")),
                engagement=as_bool(params.get("numeroEJDoitEtreRenseigne")),
                service_or_engagement=as_bool(params.get("gestionNumeroEJOuCodeService")),
            ),
            identifier_type=as_text(info.get("typeIdentifiantStructure")),
            kind=as_text(info.get("structurePriveePublique")),
            vat_number=as_text(info.get("numeroTVA")),
            email=as_text(info.get("emailStructure")),
            technical_password_expiry=parse_datetime(info.get("dateExpirationMotPasseCompteTech")),
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
            service_id = as_int(item.get("idService"))
            if service_id is None:
                _logger.warning("rechercherServicesStructure: an item without idService was skipped")
                continue
            active = item.get("estActif")
            result.append(
                Service(
                    service_id=service_id,
                    code=as_text(item.get("codeService")) or "",
                    name=as_text(item.get("libelleService")) or "",
                    active=as_bool(active)
                    if active is not None
                    else (as_text(item.get("statutService")) or "") != "INACTIF",
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
            code=as_text(info.get("codeService")),
            name=as_text(info.get("nomService")),
            engagement_required=as_bool(params.get("numeroEngagement")),
            description=as_text(info.get("descriptionService")),
            valid_from=parse_datetime(params.get("dateDebutValidite")),
            valid_until=parse_datetime(params.get("dateFinValidite")),
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
            chorus_id=as_int(answer.get("identifiantFactureCPP")) or int(chorus_id),
            number=as_text(answer.get("numeroFacture")),
            status=as_text(answer.get("statutFacture")),
            deposit_date=parse_datetime(answer.get("dateDepot")),
            label=as_text(answer.get("libelle")) or "",
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
        code = as_int(answer.get("statusCodeValue"))
        return code is None or 200 <= code < 300


def _invoice_summary(item: Mapping[str, Any]) -> InvoiceSummary | None:
    chorus_id = as_int(item.get("identifiantFactureCPP") or item.get("idFacture"))
    if chorus_id is None:
        _logger.warning("rechercherFactureParFournisseur: an invoice without identifiantFactureCPP was skipped")
        return None
    return InvoiceSummary(
        chorus_id=chorus_id,
        number=as_text(item.get("numeroFacture")) or "",
        status=as_text(item.get("statut") or item.get("statutFacture")) or "",
        status_date=parse_datetime(item.get("dateHeureEtatCourant")),
        flow_number=as_text(item.get("numeroFluxDepot")),
        recipient_siret=as_text(item.get("codeDestinataire")),
        service_code=as_text(item.get("codeServiceExecutant")),
        engagement=as_text(item.get("numeroBonCommande")),
        invoice_type=as_text(item.get("typeFacture")),
        deposit_date=parse_date(item.get("dateDepot")),
        amount_ttc=as_decimal(item.get("montantTTC")),
        comment=as_text(item.get("commentaireEtatCourant")),
        supplier_siret=as_text(item.get("codeFournisseur")),
        invoice_date=parse_date(item.get("dateFacture")),
        amount_ht=as_decimal(item.get("montantHT")),
        amount_due=as_decimal(item.get("montantAPayer")),
        currency=as_text(item.get("devise")),
        recipient_name=as_text(item.get("designationDestinataire")),
    )
