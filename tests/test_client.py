"""ChorusClient against mocked PISTE / Chorus Pro answers (``responses``) and raw loopback sockets.

Covers every operation, pagination, ``codeRetour`` errors on 200 and 400, token refresh on 401,
403, 429 / 5xx back-off (with a fake ``sleep``), timeouts on reads and writes, non-JSON answers,
the outcome-unknown rules of deposits, and that secrets never reach an exception or a log.
"""

import base64
import json
import logging
import socket
import threading
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from odoo_chorus_rouen.core.auth import Credentials, Endpoints, TokenCache
from odoo_chorus_rouen.core.budgets import Requirements
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.client_answers import (
    DepositResult,
    DpError,
    InvoiceSummary,
    Service,
    Structure,
    TechnicalError,
)
from odoo_chorus_rouen.core.errors import (
    ApiError,
    AuthenticationError,
    ChorusError,
    ConfigurationError,
    OutcomeUnknownError,
    TransportError,
)
from odoo_chorus_rouen.core.status import ChorusState

ENDPOINTS = Endpoints.for_environment("qualification")
TOKEN_URL = ENDPOINTS.token_url
API = ENDPOINTS.api_url
URL = {
    "deposit": API + "/cpro/factures/v1/deposer/flux",
    "report": API + "/cpro/transverses/v1/consulterCRDetaille",
    "search": API + "/cpro/factures/v1/rechercher/fournisseur",
    "history": API + "/cpro/factures/v1/consulter/historique",
    "recycle": API + "/cpro/factures/v1/recycler",
    "structures": API + "/cpro/structures/v1/rechercher",
    "structure": API + "/cpro/structures/v1/consulter",
    "services": API + "/cpro/structures/v1/rechercher/services",
    "service": API + "/cpro/structures/v1/consulter/service",
    "health": API + "/cpro/transverses/v1/health-check",
}
SECRET = "cs-Very-Secret-123"
PASSWORD = "pw-Very-Secret-456"
CREDS = Credentials("my-client-id", SECRET, "TECH_1_demo@cpro.fr", PASSWORD)
CPRO_ACCOUNT = base64.b64encode(f"TECH_1_demo@cpro.fr:{PASSWORD}".encode()).decode()
FLOW = "CPP0011117000000000300163"
PDF = b"%PDF-1.7 fake factur-x " + bytes(range(256))
WWW_AUTH = 'Bearer realm="PISTE",error="Unauthorized",error_description="login or password incorrects"'


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(sleeps):
    with ChorusClient(
        CREDS, ENDPOINTS, token_cache=TokenCache(), sleep=sleeps.append, timeout=12.0, max_retries=3, backoff=0.5
    ) as chorus:
        yield chorus


def add_token(rsps, *tokens):
    for token in tokens or ("tok-1",):
        rsps.post(TOKEN_URL, json={"access_token": token, "token_type": "Bearer", "expires_in": 3600})


def ok(**fields):
    return {"codeRetour": 0, "libelle": "TRA_MSG_00.000", **fields}


def body_of(call):
    return json.loads(call.request.body)


def api_calls(rsps, key):
    return [call for call in rsps.calls if call.request.url == URL[key]]


def deposit(client):
    return client.deposit_flow(PDF, "FA-2025-0042.pdf", "IN_DP_E2_CII_FACTURX")


# --------------------------------------------------------------------------- construction


def test_constructor_checks_configuration():
    with pytest.raises(ConfigurationError) as info:
        ChorusClient({"client_id": "a", "client_secret": "", "login": "l", "password": "p"}, ENDPOINTS)
    assert info.value.params["fields"] == "client_secret"
    with pytest.raises(ConfigurationError):
        ChorusClient(CREDS, "staging")
    with pytest.raises(ConfigurationError):
        ChorusClient(CREDS, ENDPOINTS, timeout=None)
    local = ChorusClient(CREDS, "http://127.0.0.1:8080", token_cache=TokenCache())
    assert local.endpoints.token_url == "http://127.0.0.1:8080/api/oauth/token"
    assert SECRET not in repr(local) and PASSWORD not in repr(local)


# --------------------------------------------------------------------------- operations


def test_deposit_flow(client, rsps):
    add_token(rsps)
    rsps.post(URL["deposit"], json=ok(numeroFluxDepot=FLOW, dateDepot="2025-03-14", syntaxeFlux="IN_DP_E2_CII_FACTURX"))
    result = deposit(client)
    assert result == DepositResult(FLOW, date(2025, 3, 14), "IN_DP_E2_CII_FACTURX", "TRA_MSG_00.000")
    request = api_calls(rsps, "deposit")[0].request
    assert request.method == "POST"
    assert request.headers["Authorization"] == "Bearer tok-1"
    assert request.headers["cpro-account"] == CPRO_ACCOUNT
    assert request.headers["Content-Type"] == "application/json;charset=utf-8"
    assert "application/json" in request.headers["Accept"]
    assert request.req_kwargs["timeout"] == 12.0
    sent = body_of(api_calls(rsps, "deposit")[0])
    assert base64.b64decode(sent["fichierFlux"]) == PDF
    assert sent["nomFichier"] == "FA-2025-0042.pdf" and sent["syntaxeFlux"] == "IN_DP_E2_CII_FACTURX"
    assert sent["avecSignature"] is False
    assert client.calls == {"token": 1, "deposerFluxFacture": 1}


def test_deposit_flow_with_a_prepared_body(client, rsps):
    add_token(rsps)
    rsps.post(URL["deposit"], json=ok(numeroFluxDepot=FLOW, dateDepot="2025-03-14T10:00:00.000+01:00"))
    body = {"fichierFlux": "QUJD", "nomFichier": "x.xml", "syntaxeFlux": "IN_DP_E1_CII_16B", "avecSignature": False}
    result = client.deposit_flow(b"", "ignored", "ignored", body=body)
    assert result.syntax == "IN_DP_E1_CII_16B" and result.deposit_date == date(2025, 3, 14)
    assert body_of(api_calls(rsps, "deposit")[0]) == body


def test_token_is_reused_across_calls(client, rsps):
    add_token(rsps)
    rsps.post(URL["deposit"], json=ok(numeroFluxDepot=FLOW))
    for _ in range(3):
        deposit(client)
    assert client.calls == {"token": 1, "deposerFluxFacture": 3}


def test_flow_report(client, rsps):
    add_token(rsps)
    rsps.post(
        URL["report"],
        json=ok(
            codeInterfaceDepotFlux="FSO1117A",
            dateDepotFlux="2025-03-14T10:00:00.000+01:00",
            dateHeureEtatCourantFlux="2025-03-14T10:05:00.000+01:00",
            etatCourantDepotFlux="IN_INTEGRE_PARTIEL",
            nomFichier="FSO1117A_CPP001_" + FLOW,
            listeErreurDP=[
                {
                    "identifiantFournisseur": "88412345600011",
                    "identifiantDestinataire": "20002341400101",
                    "numeroDP": "FA-2025-0043",
                    "libelleErreurDP": "Le numéro d'engagement est obligatoire",
                }
            ],
            listeErreurTechnique=[{"codeErreur": "E42", "libelleErreur": "Syntaxe", "natureErreur": "FLUX"}],
        ),
    )
    report = client.flow_report(FLOW, "IN_DP_E2_CII_FACTURX")
    assert body_of(api_calls(rsps, "report")[0]) == {"numeroFluxDepot": FLOW, "syntaxeFlux": "IN_DP_E2_CII_FACTURX"}
    assert report.flow_number == FLOW and report.state == "IN_INTEGRE_PARTIEL"
    assert report.state_date == datetime(2025, 3, 14, 9, 5, tzinfo=timezone.utc)
    assert report.deposit_date.utcoffset() == timedelta(hours=1)
    assert report.dp_errors == (
        DpError("88412345600011", "20002341400101", "FA-2025-0043", "Le numéro d'engagement est obligatoire"),
    )
    assert report.technical_errors == (TechnicalError("E42", "Syntaxe", "FLUX"),)
    assert report.interface_code == "FSO1117A"
    assert report.final and report.info.action_needed and report.info.state is ChorusState.DELIVERED


def test_flow_report_without_state_is_invalid(client, rsps):
    add_token(rsps)
    rsps.post(URL["report"], json=ok())
    with pytest.raises(ApiError) as info:
        client.flow_report(FLOW)
    assert info.value.code == "invalid_response"


def invoice(chorus_id, number=None, status="MISE_A_DISPOSITION", **extra):
    return {
        "identifiantFactureCPP": chorus_id,
        "numeroFacture": number or f"FA-{chorus_id}",
        "statut": status,
        "dateHeureEtatCourant": "2025-03-15T08:00:00.000+01:00",
        "numeroFluxDepot": FLOW,
        "codeDestinataire": "20002341400101",
        "codeServiceExecutant": "DSI",
        "numeroBonCommande": "EJ-2025-001",
        "typeFacture": "FACTURE",
        "dateDepot": "2025-03-14",
        "montantTTC": 1200.50,
        "montantHT": 1000.42,
        "codeFournisseur": "88412345600011",
        **extra,
    }


def test_search_invoices_walks_every_page(client, rsps):
    add_token(rsps)
    pages = [[invoice(1), invoice(2)], [invoice(3), invoice(4)], [invoice(5)]]
    for number, items in enumerate(pages, start=1):
        rsps.post(
            URL["search"],
            json=ok(
                listeFactures=items,
                parametresRetour={"pageCourante": number, "pages": 3, "nbResultatsParPage": 2, "total": 5},
            ),
        )
    since = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
    found = list(
        client.search_invoices(flow_number=FLOW, changed_since=since, statuses=["MISE_A_DISPOSITION"], page_size=2)
    )
    assert [inv.chorus_id for inv in found] == [1, 2, 3, 4, 5]
    bodies = [body_of(call) for call in api_calls(rsps, "search")]
    assert [b["rechercheFactureParFournisseur"]["pageResultatDemandee"] for b in bodies] == [1, 2, 3]
    first = bodies[0]
    assert first["numeroFluxDepot"] == FLOW
    assert first["periodeDateHeureEtatCourantDu"] == "2025-03-01T12:00:00.000+00:00"
    assert first["statutCourant"] == ["MISE_A_DISPOSITION"]
    assert first["rechercheFactureParFournisseur"] == {
        "pageResultatDemandee": 1,
        "nbResultatsParPage": 2,
        "triSens": "Ascendant",
    }
    summary = found[0]
    assert summary == InvoiceSummary(
        chorus_id=1,
        number="FA-1",
        status="MISE_A_DISPOSITION",
        status_date=datetime(2025, 3, 15, 7, 0, tzinfo=timezone.utc),
        flow_number=FLOW,
        recipient_siret="20002341400101",
        service_code="DSI",
        engagement="EJ-2025-001",
        invoice_type="FACTURE",
        deposit_date=date(2025, 3, 14),
        amount_ttc=Decimal("1200.50"),
        comment=None,
        supplier_siret="88412345600011",
        amount_ht=Decimal("1000.42"),
    )
    assert summary.info.state is ChorusState.DELIVERED
    assert client.calls["rechercherFactureParFournisseur"] == 3


def test_search_invoices_reads_top_level_pagination_and_deduplicates(client, rsps):
    add_token(rsps)
    rsps.post(URL["search"], json=ok(listeFactures=[invoice(1), invoice(2)], pageCourante=1, pages=2, total=3))
    # The list shifted between the two reads: invoice 2 shows up again.
    rsps.post(URL["search"], json=ok(listeFactures=[invoice(2), invoice(3)], pageCourante=2, pages=2, total=3))
    assert [inv.chorus_id for inv in client.search_invoices(invoice_number="FA", page_size=2)] == [1, 2, 3]
    assert body_of(api_calls(rsps, "search")[0])["numeroFacture"] == "FA"


def test_search_invoices_without_pagination_stops_on_a_short_page(client, rsps):
    add_token(rsps)
    rsps.post(URL["search"], json=ok(listeFactures=[invoice(1), invoice(2)]))
    rsps.post(URL["search"], json=ok(listeFactures=[invoice(3)]))
    assert [inv.chorus_id for inv in client.search_invoices(page_size=2)] == [1, 2, 3]
    assert len(api_calls(rsps, "search")) == 2


def test_search_invoices_stops_when_the_server_ignores_the_page(client, rsps):
    add_token(rsps)
    rsps.post(URL["search"], json=ok(listeFactures=[invoice(1)], parametresRetour={"pageCourante": 1, "pages": 3}))
    assert [inv.chorus_id for inv in client.search_invoices(page_size=1)] == [1]
    assert len(api_calls(rsps, "search")) == 3  # never more than the announced page count


def test_search_without_result_is_empty(client, rsps):
    add_token(rsps)
    rsps.post(URL["search"], json={"codeRetour": 20000, "libelle": "TRA_MSG_00.015"})
    assert list(client.search_invoices(flow_number=FLOW)) == []


def test_search_naive_datetime_is_utc_and_until_is_sent(client, rsps):
    add_token(rsps)
    rsps.post(URL["search"], json=ok(listeFactures=[]))
    list(client.search_invoices(changed_since=datetime(2025, 3, 1), changed_until=datetime(2025, 3, 2, 6, 30)))
    sent = body_of(api_calls(rsps, "search")[0])
    assert sent["periodeDateHeureEtatCourantDu"] == "2025-03-01T00:00:00.000+00:00"
    assert sent["periodeDateHeureEtatCourantAu"] == "2025-03-02T06:30:00.000+00:00"


def test_invoice_history(client, rsps):
    add_token(rsps)
    rsps.post(
        URL["history"],
        json=ok(
            idFacture=4242,
            numeroFacture="FA-2025-0042",
            statutCourantCode="A_RECYCLER",
            historiquesDesStatuts={
                "histoStatut": [
                    {
                        "histoStatutCode": "A_RECYCLER",
                        "histoStatutDatePassage": "2025-03-16 09:30",
                        "histoStatutCommentaire": "Mauvais service",
                    },
                    {"histoStatutCode": "DEPOSEE", "histoStatutDatePassage": "2025-03-14 10:00"},
                ],
                "pageCouranteHistoStatut": 1,
                "pagesHistoStatut": 1,
            },
        ),
    )
    history = client.invoice_history(4242)
    assert body_of(api_calls(rsps, "history")[0])["idFacture"] == 4242
    assert history.chorus_id == 4242 and history.number == "FA-2025-0042"
    assert history.current_status == "A_RECYCLER" and history.info.action_needed
    assert [e.status for e in history.entries] == ["DEPOSEE", "A_RECYCLER"]  # oldest first
    assert history.entries[1].comment == "Mauvais service"
    assert history.entries[1].date.isoformat() == "2025-03-16T09:30:00+01:00"


@pytest.mark.parametrize("with_ids", [True, False], ids=["histoStatutId", "no-id"])
def test_invoice_history_of_a_recycled_invoice_keeps_both_deposee(client, rsps, with_ids):
    """A_RECYCLER -> DEPOSEE in the minute of the first DEPOSEE, answered newest first (the API's default)."""
    newest_first = [
        (104, "EN_COURS_ACHEMINEMENT", "2025-03-14 10:02", None),
        (103, "DEPOSEE", "2025-03-14 10:00", None),
        (102, "A_RECYCLER", "2025-03-14 10:00", "Mauvais service"),
        (101, "DEPOSEE", "2025-03-14 10:00", None),
    ]
    items = []
    for entry_id, code, when, comment in newest_first:
        item = {"histoStatutCode": code, "histoStatutDatePassage": when, "histoStatutCommentaire": comment}
        if with_ids:
            item["histoStatutId"] = entry_id
        items.append(item)
    if with_ids:  # ids, not the order of the answer, decide within a minute
        items[1], items[3] = items[3], items[1]
    add_token(rsps)
    rsps.post(
        URL["history"],
        json=ok(
            idFacture=4243,
            numeroFacture="FA-2025-0043",
            statutCourantCode="EN_COURS_ACHEMINEMENT",
            historiquesDesStatuts={"histoStatut": items, "pageCouranteHistoStatut": 1, "pagesHistoStatut": 1},
        ),
    )
    history = client.invoice_history(4243)
    assert [e.status for e in history.entries] == ["DEPOSEE", "A_RECYCLER", "DEPOSEE", "EN_COURS_ACHEMINEMENT"]
    assert [e.comment for e in history.entries] == [None, "Mauvais service", None, None]
    assert [e.date.strftime("%H:%M") for e in history.entries] == ["10:00", "10:00", "10:00", "10:02"]
    assert [e.entry_id for e in history.entries] == ([101, 102, 103, 104] if with_ids else [None] * 4)


def test_invoice_history_of_another_invoice_is_invalid(client, rsps):
    add_token(rsps)
    rsps.post(URL["history"], json=ok(idFacture=1, statutCourantCode="DEPOSEE"))
    with pytest.raises(ApiError) as info:
        client.invoice_history(2)
    assert info.value.code == "invalid_response"


def test_search_structures(client, rsps):
    add_token(rsps)
    rsps.post(
        URL["structures"],
        json=ok(
            listeStructures=[
                {
                    "idStructureCPP": 26300989,
                    "identifiantStructure": "20002341400101",
                    "designationStructure": "Budget Principal",
                    "typeIdentifiantStructure": "SIRET",
                    "statut": "ACTIVE",
                }
            ],
            parametresRetour={"pageCourante": 1, "pages": 1, "total": 1},
        ),
    )
    found = client.search_structures("200 023 414 00101")
    assert found == [Structure(26300989, "20002341400101", "Budget Principal", True, "SIRET")]
    sent = body_of(api_calls(rsps, "structures")[0])
    assert sent["structure"] == {"identifiantStructure": "20002341400101", "typeIdentifiantStructure": "SIRET"}


def test_get_structure(client, rsps):
    add_token(rsps)
    rsps.post(
        URL["structure"],
        json={
            "codeRetour": 0,
            "libelle": "GCU_MSG_01_000",
            "informationGenerales": {
                "idStructureCPP": 26300989,
                "identifiantStructure": "20002341400101",
                "typeIdentifiantStructure": "SIRET",
                "raisonSocialeStructure": "METROPOLE ROUEN NORMANDIE",
                "structurePriveePublique": "PUBLIQUE",
                "dateExpirationMotPasseCompteTech": "2026-01-31T00:00:00.000+01:00",
            },
            "parametres": {
                "codeServiceDoitEtreRenseigne": False,
                "numeroEJDoitEtreRenseigne": True,
                "gestionNumeroEJOuCodeService": False,
            },
        },
    )
    details = client.get_structure(26300989)
    assert body_of(api_calls(rsps, "structure")[0]) == {"idStructureCPP": 26300989, "codeLangue": "FR"}
    assert details.requirements == Requirements(service_code=False, engagement=True, service_or_engagement=False)
    assert details.name == "METROPOLE ROUEN NORMANDIE" and details.kind == "PUBLIQUE"
    assert details.technical_password_expiry.date() == date(2026, 1, 31)


def test_search_services_all_pages(client, rsps):
    add_token(rsps)
    rsps.post(
        URL["services"],
        json=ok(
            listeServices=[{"idService": 1, "codeService": "DSI", "libelleService": "Informatique", "estActif": True}],
            parametresRetour={"pageCourante": 1, "pages": 2},
        ),
    )
    rsps.post(
        URL["services"],
        json=ok(
            listeServices=[{"idService": 2, "codeService": "OLD", "libelleService": "Ancien", "estActif": False}],
            parametresRetour={"pageCourante": 2, "pages": 2},
        ),
    )
    services = client.search_services(26300989, page_size=1)
    assert services == [Service(1, "DSI", "Informatique", True), Service(2, "OLD", "Ancien", False)]
    sent = body_of(api_calls(rsps, "services")[1])
    assert sent == {
        "idStructure": 26300989,
        "parametresRechercherServicesStructure": {"pageResultatDemandee": 2, "nbResultatsParPage": 1},
    }


def test_get_service(client, rsps):
    add_token(rsps)
    rsps.post(
        URL["service"],
        json=ok(
            informationsGenerales={"codeService": "DSI", "nomService": "Informatique"},
            parametres={"numeroEngagement": True, "dateDebutValidite": "2020-01-01T00:00:00.000+01:00"},
        ),
    )
    details = client.get_service(26300989, 1)
    assert details.engagement_required and details.code == "DSI"
    assert body_of(api_calls(rsps, "service")[0]) == {"idStructure": 26300989, "idService": 1, "codeLangue": "FR"}


def test_recycle_invoice(client, rsps):
    add_token(rsps)
    rsps.post(
        URL["recycle"],
        json=ok(
            identifiantFactureCPP=4242, numeroFacture="FA-42", statutFacture="DEPOSEE", dateDepot="2025-03-17 11:02"
        ),
    )
    result = client.recycle_invoice(
        4242, recipient_siret="200 023 414 00036", service_code="TRANSPORT", engagement="EJ-9", comment="Bon budget"
    )
    assert result.chorus_id == 4242 and result.status == "DEPOSEE" and result.deposit_date.hour == 11
    assert body_of(api_calls(rsps, "recycle")[0]) == {
        "identifiantFactureCPP": 4242,
        "destinataire": {"codeDestinataire": "20002341400036", "codeServiceExecutant": "TRANSPORT"},
        "reference": {"numeroBonCommande": "EJ-9"},
        "commentaire": "Bon budget",
    }


def test_health_check(client, rsps, sleeps):
    add_token(rsps)
    rsps.get(URL["health"], json={"body": "OK", "statusCodeValue": 200, "statusCode": "OK"})
    assert client.health_check() is True
    request = api_calls(rsps, "health")[0].request
    assert request.method == "GET" and request.body is None and request.req_kwargs["timeout"] == 12.0
    rsps.replace(responses.GET, URL["health"], body="up", content_type="text/plain")
    assert client.health_check() is True
    rsps.replace(responses.GET, URL["health"], status=503, body="down")
    assert client.health_check() is False
    assert sleeps == []  # a health check is one attempt
    rsps.replace(responses.GET, URL["health"], body=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(TransportError):
        client.health_check()
    rsps.replace(responses.GET, URL["health"], status=401, headers={"WWW-Authenticate": WWW_AUTH})
    with pytest.raises(AuthenticationError):
        client.health_check()


# --------------------------------------------------------------------------- functional errors


def test_coderetour_on_http_200_is_an_api_error(client, rsps, sleeps):
    add_token(rsps)
    rsps.post(URL["deposit"], json={"codeRetour": 20001, "libelle": "GDP_MSG_11.022"})
    with pytest.raises(ApiError) as info:
        deposit(client)
    err = info.value
    assert (err.chorus_code, err.chorus_label, err.http_status, err.operation) == (
        20001,
        "GDP_MSG_11.022",
        200,
        "deposerFluxFacture",
    )
    assert not err.retryable and err.params["file_name"] == "FA-2025-0042.pdf"
    assert "20001" in str(err) and "GDP_MSG_11.022" in str(err)
    assert sleeps == [] and client.calls["deposerFluxFacture"] == 1


def test_coderetour_on_http_400_is_an_api_error_and_not_retried(client, rsps, sleeps):
    add_token(rsps)
    rsps.post(URL["report"], status=400, json={"codeRetour": 20002, "libelle": "Flux inconnu"})
    with pytest.raises(ApiError) as info:
        client.flow_report(FLOW)
    assert (info.value.chorus_code, info.value.http_status, info.value.operation) == (
        20002,
        400,
        "consulterCRDetaille",
    )
    assert not info.value.retryable and sleeps == [] and client.calls["consulterCRDetaille"] == 1


def test_http_error_without_envelope(client, rsps):
    add_token(rsps)
    rsps.post(URL["report"], status=404, json={"message": "no route"})
    with pytest.raises(ApiError) as info:
        client.flow_report(FLOW)
    assert info.value.http_status == 404 and info.value.chorus_code is None and not info.value.retryable


def test_redirect_is_not_followed(client, rsps):
    add_token(rsps)
    rsps.post(URL["deposit"], status=302, headers={"Location": "https://elsewhere.example/"})
    with pytest.raises(ApiError) as info:
        deposit(client)
    assert info.value.http_status == 302 and len(rsps.calls) == 2


def test_non_json_answer_on_a_read(client, rsps, sleeps):
    add_token(rsps)
    rsps.post(URL["report"], body="<html>oops</html>", content_type="text/html")
    with pytest.raises(ApiError) as info:
        client.flow_report(FLOW)
    assert info.value.code == "invalid_response" and not info.value.retryable and sleeps == []


# --------------------------------------------------------------------------- 401 / 403


def test_401_refreshes_the_token_once(client, rsps, sleeps):
    add_token(rsps, "tok-1", "tok-2")
    rsps.post(URL["report"], status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    rsps.post(URL["report"], json=ok(etatCourantDepotFlux="IN_INTEGRE"))
    assert client.flow_report(FLOW).state == "IN_INTEGRE"
    auth = [call.request.headers["Authorization"] for call in api_calls(rsps, "report")]
    assert auth == ["Bearer tok-1", "Bearer tok-2"]
    assert client.calls == {"token": 2, "consulterCRDetaille": 2}
    assert sleeps == []
    # The new token is the cached one now.
    client.flow_report(FLOW)
    assert client.calls["token"] == 2


def test_second_401_is_an_authentication_error(client, rsps):
    add_token(rsps, "tok-1", "tok-2")
    rsps.post(URL["report"], status=401, headers={"WWW-Authenticate": WWW_AUTH})
    with pytest.raises(AuthenticationError) as info:
        client.flow_report(FLOW)
    err = info.value
    assert "login or password incorrects" in str(err)
    assert err.params["http_status"] == 401 and not err.retryable
    assert client.calls == {"token": 2, "consulterCRDetaille": 2}


def test_401_on_a_deposit_is_retried_once_with_a_new_token(client, rsps):
    add_token(rsps, "tok-1", "tok-2")
    rsps.post(URL["deposit"], status=401)
    rsps.post(URL["deposit"], json=ok(numeroFluxDepot=FLOW))
    assert deposit(client).flow_number == FLOW
    assert len(api_calls(rsps, "deposit")) == 2


def test_403_is_an_authentication_error_without_retry(client, rsps, sleeps):
    add_token(rsps)
    rsps.post(URL["search"], status=403, body="")
    with pytest.raises(AuthenticationError) as info:
        list(client.search_invoices())
    assert info.value.params["http_status"] == 403 and "subscribed" in str(info.value)
    assert client.calls == {"token": 1, "rechercherFactureParFournisseur": 1} and sleeps == []


def test_refused_token_stops_everything(client, rsps):
    rsps.post(TOKEN_URL, status=400, json={"error": "invalid_client", "error_description": "Bad client"})
    with pytest.raises(AuthenticationError):
        deposit(client)
    assert api_calls(rsps, "deposit") == []


# --------------------------------------------------------------------------- retries of reads


def test_429_honours_retry_after(client, rsps, sleeps):
    add_token(rsps)
    rsps.post(URL["report"], status=429, json={"message": "quota"}, headers={"Retry-After": "2"})
    rsps.post(URL["report"], status=429, body="slow down", headers={"Retry-After": "7"})
    rsps.post(URL["report"], json=ok(etatCourantDepotFlux="IN_RECU"))
    assert client.flow_report(FLOW).state == "IN_RECU"
    assert sleeps == [2.0, 7.0]
    assert client.calls["consulterCRDetaille"] == 3


def test_retry_after_beyond_max_wait_is_handed_to_the_caller(client, rsps, sleeps):
    add_token(rsps)
    rsps.post(URL["report"], status=429, body="", headers={"Retry-After": "120"})
    with pytest.raises(ApiError) as info:
        client.flow_report(FLOW)
    assert info.value.retryable and info.value.retry_after == 120.0 and info.value.http_status == 429
    assert sleeps == [] and client.calls["consulterCRDetaille"] == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_reads_is_retried_with_bounded_backoff(client, rsps, sleeps, status):
    add_token(rsps)
    rsps.post(URL["history"], status=status, body="<html>Service Unavailable</html>", content_type="text/html")
    with pytest.raises(ApiError) as info:
        client.invoice_history(1)
    err = info.value
    assert err.retryable and err.http_status == status and err.code == "invalid_response"
    assert sleeps == [0.5, 1.0, 2.0]
    assert client.calls["consulterHistoriqueFacture"] == 4  # 1 + max_retries


def test_5xx_then_success(client, rsps, sleeps):
    add_token(rsps)
    rsps.post(URL["structures"], status=503, json={"codeRetour": 99, "libelle": "indisponible"})
    rsps.post(URL["structures"], json=ok(listeStructures=[]))
    assert client.search_structures("20002341400101") == []
    assert sleeps == [0.5]


def test_backoff_is_capped_by_max_wait(rsps):
    waits = []
    chorus = ChorusClient(
        CREDS, ENDPOINTS, token_cache=TokenCache(), sleep=waits.append, max_retries=5, backoff=1.0, max_wait=3.0
    )
    add_token(rsps)
    rsps.post(URL["report"], status=500, json={})
    with pytest.raises(ApiError):
        chorus.flow_report(FLOW)
    assert waits == [1.0, 2.0, 3.0, 3.0, 3.0]


def test_no_retry_when_max_retries_is_zero(rsps):
    waits = []
    chorus = ChorusClient(CREDS, ENDPOINTS, token_cache=TokenCache(), sleep=waits.append, max_retries=0)
    add_token(rsps)
    rsps.post(URL["report"], status=503, json={})
    with pytest.raises(ApiError):
        chorus.flow_report(FLOW)
    assert waits == [] and chorus.calls["consulterCRDetaille"] == 1


def test_read_timeout_is_retried(client, rsps, sleeps):
    add_token(rsps)
    rsps.post(URL["report"], body=requests.exceptions.ReadTimeout("read timed out"))
    rsps.post(URL["report"], json=ok(etatCourantDepotFlux="IN_INTEGRE"))
    assert client.flow_report(FLOW).state == "IN_INTEGRE"
    assert sleeps == [0.5]


def test_read_network_failures_end_in_a_transport_error(client, rsps, sleeps):
    add_token(rsps)
    rsps.post(URL["search"], body=requests.exceptions.ConnectionError("Connection reset by peer"))
    with pytest.raises(TransportError) as info:
        list(client.search_invoices())
    assert type(info.value) is TransportError and info.value.retryable
    assert isinstance(info.value.__cause__, requests.exceptions.ConnectionError)
    assert sleeps == [0.5, 1.0, 2.0] and client.calls["rechercherFactureParFournisseur"] == 4


def test_token_endpoint_failure_is_retried_on_reads(client, rsps, sleeps):
    rsps.post(TOKEN_URL, body=requests.exceptions.ConnectionError("refused"))
    add_token(rsps)
    rsps.post(URL["report"], json=ok(etatCourantDepotFlux="IN_RECU"))
    assert client.flow_report(FLOW).state == "IN_RECU"
    assert sleeps == [0.5]


# --------------------------------------------------------------------------- writes: outcome unknown


def refused_connection():
    """What requests raises when the TCP connection could not even be opened."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, URL["deposit"], reason=reason))


def test_deposit_timeout_is_outcome_unknown_after_exactly_one_post(client, rsps, sleeps):
    add_token(rsps)
    rsps.post(URL["deposit"], body=requests.exceptions.ReadTimeout("Read timed out. (read timeout=12.0)"))
    with pytest.raises(OutcomeUnknownError) as info:
        deposit(client)
    err = info.value
    assert err.code == "outcome_unknown" and err.retryable
    assert err.params["operation"] == "deposerFluxFacture" and err.params["file_name"] == "FA-2025-0042.pdf"
    assert "FA-2025-0042.pdf" in str(err)
    assert len(api_calls(rsps, "deposit")) == 1 and sleeps == []


def test_deposit_cut_connection_is_outcome_unknown(client, rsps):
    add_token(rsps)
    cut = requests.exceptions.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
    )
    rsps.post(URL["deposit"], body=cut)
    with pytest.raises(OutcomeUnknownError):
        deposit(client)
    assert len(api_calls(rsps, "deposit")) == 1


def test_deposit_refused_connection_is_a_safe_transport_error(client, rsps):
    add_token(rsps)
    rsps.post(URL["deposit"], body=refused_connection())
    with pytest.raises(TransportError) as info:
        deposit(client)
    assert type(info.value) is TransportError and info.value.retryable
    assert "nothing was sent" in str(info.value)
    assert len(api_calls(rsps, "deposit")) == 1


def test_deposit_connect_timeout_is_a_safe_transport_error(client, rsps):
    add_token(rsps)
    rsps.post(URL["deposit"], body=requests.exceptions.ConnectTimeout("connect timed out"))
    with pytest.raises(TransportError) as info:
        deposit(client)
    assert type(info.value) is TransportError


def test_deposit_without_a_token_sends_nothing(client, rsps):
    rsps.post(TOKEN_URL, body=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(TransportError) as info:
        deposit(client)
    assert type(info.value) is TransportError
    assert api_calls(rsps, "deposit") == [] and "deposerFluxFacture" not in client.calls


@pytest.mark.parametrize("status", [429, 503])
def test_deposit_429_503_is_retryable_but_not_retried(client, rsps, sleeps, status):
    add_token(rsps)
    rsps.post(URL["deposit"], status=status, body="busy", headers={"Retry-After": "3"})
    with pytest.raises(ApiError) as info:
        deposit(client)
    assert not isinstance(info.value, OutcomeUnknownError)
    assert info.value.retryable and info.value.retry_after == 3.0 and info.value.http_status == status
    assert len(api_calls(rsps, "deposit")) == 1 and sleeps == []


@pytest.mark.parametrize("status", [500, 502, 504])
def test_deposit_other_5xx_is_outcome_unknown(client, rsps, sleeps, status):
    add_token(rsps)
    rsps.post(URL["deposit"], status=status, body="<html>Gateway</html>", content_type="text/html")
    with pytest.raises(OutcomeUnknownError) as info:
        deposit(client)
    assert info.value.params["http_status"] == status
    assert len(api_calls(rsps, "deposit")) == 1 and sleeps == []


def test_deposit_5xx_with_a_chorus_error_is_a_refusal(client, rsps):
    add_token(rsps)
    rsps.post(URL["deposit"], status=500, json={"codeRetour": 1, "libelle": "Erreur technique"})
    with pytest.raises(ApiError) as info:
        deposit(client)
    assert not isinstance(info.value, OutcomeUnknownError) and info.value.chorus_code == 1


def test_deposit_unreadable_success_is_outcome_unknown(client, rsps):
    add_token(rsps)
    rsps.post(URL["deposit"], body="<html>OK</html>", content_type="text/html")
    with pytest.raises(OutcomeUnknownError):
        deposit(client)


def test_deposit_success_without_flow_number_is_outcome_unknown(client, rsps):
    add_token(rsps)
    rsps.post(URL["deposit"], json=ok())
    with pytest.raises(OutcomeUnknownError) as info:
        deposit(client)
    assert "numeroFluxDepot" in str(info.value)


def test_deposit_4xx_non_json_is_a_refusal(client, rsps):
    add_token(rsps)
    rsps.post(URL["deposit"], status=413, body="<html>Too large</html>", content_type="text/html")
    with pytest.raises(ApiError) as info:
        deposit(client)
    assert info.value.code == "invalid_response" and info.value.http_status == 413 and not info.value.retryable


def test_recycle_timeout_is_outcome_unknown(client, rsps):
    add_token(rsps)
    rsps.post(URL["recycle"], body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(OutcomeUnknownError) as info:
        client.recycle_invoice(4242, recipient_siret="20002341400101")
    assert info.value.params["chorus_id"] == 4242 and info.value.params["operation"] == "recyclerFacture"
    assert len(api_calls(rsps, "recycle")) == 1


# --------------------------------------------------------------------------- secrets


def test_secrets_never_reach_errors_or_logs(client, rsps, caplog):
    caplog.set_level(logging.DEBUG, logger="odoo_chorus_rouen")
    leak = f"{SECRET} {PASSWORD} {CPRO_ACCOUNT} tok-1"
    add_token(rsps)
    errors: list[ChorusError] = []
    scenarios = [
        (URL["report"], {"status": 200, "json": {"codeRetour": 5, "libelle": f"echo {leak}"}}),
        (URL["report"], {"status": 400, "json": {"codeRetour": 6, "libelle": f"echo {leak}"}}),
        (URL["report"], {"status": 403, "headers": {"WWW-Authenticate": f'Bearer error_description="{leak}"'}}),
        (URL["report"], {"status": 401, "headers": {"WWW-Authenticate": f'Bearer error_description="{leak}"'}}),
        (URL["report"], {"body": requests.exceptions.ConnectionError(f"boom {leak}")}),
        (URL["deposit"], {"body": requests.exceptions.ReadTimeout(f"boom {leak}")}),
        (URL["deposit"], {"status": 503, "json": {"codeRetour": 7, "libelle": f"echo {leak}"}}),
    ]
    for url, kwargs in scenarios:
        rsps.upsert(responses.POST, url, **kwargs)
        with pytest.raises(ChorusError) as info:
            if url == URL["deposit"]:
                deposit(client)
            else:
                client.flow_report(FLOW)
        errors.append(info.value)
    # The token endpoint never sees an access token; it could only echo the application secret.
    token_leak = f"{SECRET} {PASSWORD} {CPRO_ACCOUNT}"
    rsps.replace(
        responses.POST, TOKEN_URL, status=401, json={"error": "invalid_client", "error_description": token_leak}
    )
    client._auth.invalidate()
    with pytest.raises(AuthenticationError) as info:
        client.flow_report(FLOW)
    errors.append(info.value)

    assert {type(e).__name__ for e in errors} >= {"ApiError", "AuthenticationError", "TransportError"}
    texts = [caplog.text]
    for err in errors:
        texts += [str(err), repr(err), json.dumps(err.to_dict(), default=str), repr(err.params)]
    for text in texts:
        for secret in (SECRET, PASSWORD, CPRO_ACCOUNT, "tok-1"):
            assert secret not in text, (secret, text)
    assert "deposerFluxFacture" in caplog.text  # the logs do talk about the calls


def test_debug_log_summarizes_the_file(client, rsps, caplog):
    caplog.set_level(logging.DEBUG, logger="odoo_chorus_rouen.core.client")
    add_token(rsps)
    rsps.post(URL["deposit"], json=ok(numeroFluxDepot=FLOW))
    big = b"x" * 30_000
    client.deposit_flow(big, "big.pdf", "IN_DP_E2_CII_FACTURX")
    b64 = base64.b64encode(big).decode()
    assert b64[:100] not in caplog.text
    assert "<base64, 40000 chars>" in caplog.text and "big.pdf" in caplog.text
    assert "Authorization" not in caplog.text and "cpro-account" not in caplog.text


# --------------------------------------------------------------------------- real loopback sockets


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RawServer:
    """A loopback TCP server that answers the token request and misbehaves on the API request."""

    def __init__(self, api_behaviour):
        self.api_behaviour = api_behaviour
        self.api_requests = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(rest) < length:
                rest += conn.recv(65536)
            if b"/api/oauth/token" in head.split(b"\r\n")[0]:
                body = b'{"access_token":"tok-raw","token_type":"Bearer","expires_in":3600}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                return
            self.api_requests += 1
            self.api_behaviour(conn)

    def close(self):
        self.stop.set()
        self.sock.close()
        self.thread.join(2)


def _raw_client(url, timeout=1.0):
    return ChorusClient(CREDS, url, token_cache=TokenCache(), timeout=timeout, sleep=lambda s: None)


def test_real_refused_connection_on_deposit_is_safe():
    chorus = _raw_client(f"http://127.0.0.1:{_free_port()}")
    chorus._auth.cache.put(chorus._auth.key, _fake_token())
    with pytest.raises(TransportError) as info:
        deposit(chorus)
    assert type(info.value) is TransportError and "nothing was sent" in str(info.value)


def test_real_connection_closed_after_the_request_is_outcome_unknown():
    server = RawServer(lambda conn: None)  # reads the whole request, then closes without a word
    try:
        with pytest.raises(OutcomeUnknownError):
            deposit(_raw_client(server.url))
        assert server.api_requests == 1
    finally:
        server.close()


def test_real_read_timeout_on_deposit_is_outcome_unknown():
    server = RawServer(lambda conn: time.sleep(1.5))
    try:
        started = time.monotonic()
        with pytest.raises(OutcomeUnknownError):
            deposit(_raw_client(server.url, timeout=0.3))
        assert time.monotonic() - started < 1.4
        assert server.api_requests == 1
    finally:
        server.close()


def _fake_token():
    from odoo_chorus_rouen.core.auth import Token

    return Token("tok-fake", "Bearer", 3600, time.monotonic() + 3000)
