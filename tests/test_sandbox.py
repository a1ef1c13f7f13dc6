"""The local Chorus Pro sandbox: gateway rules, directory, deposits, invoices, control API, faults, persistence.

Raw HTTP with ``requests`` (the wire as a client sees it); one test drives it with ``core.client``.
Every sandbox runs on 127.0.0.1 on a free port; deposits are checked by ``core.validation``.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
import requests
from stdnum import luhn

from odoo_chorus_rouen.core.auth import Credentials, Endpoints, TokenCache
from odoo_chorus_rouen.core.budgets import BUDGETS
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.errors import OutcomeUnknownError
from odoo_chorus_rouen.core.payload import build_deposit, deposit_filename
from odoo_chorus_rouen.core.status import FLOW_STATES, INVOICE_STATUSES
from odoo_chorus_rouen.core.validation import extract_xml, read_facts
from odoo_chorus_rouen.sandbox import DEFAULT_CREDENTIALS, ROUTES, SandboxServer
from odoo_chorus_rouen.sandbox.directory import load_directory_file
from odoo_chorus_rouen.sandbox.sample_invoices import SECOND_SUPPLIER, deposit_body, make_cii, make_facturx

ROOT = Path(__file__).resolve().parent.parent
INVOICES = ROOT / "data" / "invoices"

DEPOSIT = "/cpro/factures/v1/deposer/flux"
CR_DETAILLE = "/cpro/transverses/v1/consulterCRDetaille"
CR = "/cpro/transverses/v1/consulterCR"
SEARCH = "/cpro/factures/v1/rechercher/fournisseur"
CONSULT = "/cpro/factures/v1/consulter/fournisseur"
HISTORY = "/cpro/factures/v1/consulter/historique"
RECYCLE = "/cpro/factures/v1/recycler"
COMPLETE = "/cpro/factures/v1/completer"
STRUCT_SEARCH = "/cpro/structures/v1/rechercher"
STRUCT_READ = "/cpro/structures/v1/consulter"
SERVICES = "/cpro/structures/v1/rechercher/services"
SERVICE_READ = "/cpro/structures/v1/consulter/service"
HEALTH = "/cpro/transverses/v1/health-check"

PRINCIPAL = "20002341400101"
TRANSPORTS = "20002341400036"
COMMUNE_EJ_OR_SERVICE = "21769990900016"
DISSOLVED = "25769991800013"
DEMO_SUPPLIER = "88412345600011"
WWW_ACCOUNT = 'Bearer realm="PISTE",error="Unauthorized",error_description="login or password incorrects"'


def _siret(prefix8: str, nic4: str = "0001") -> str:
    siren = prefix8 + luhn.calc_check_digit(prefix8)
    return siren + nic4 + luhn.calc_check_digit(siren + nic4)


UNKNOWN_SIRET = _siret("99887766")


class Api:
    """A raw PISTE client: token + the two headers; returns (HTTP status, JSON body or bytes)."""

    def __init__(self, sandbox: SandboxServer) -> None:
        self.sb = sandbox
        self.session = requests.Session()
        self.token = self.new_token()

    def new_token(self) -> str:
        creds = self.sb.credentials
        answer = self.session.post(
            self.sb.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
                "scope": "openid",
            },
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["access_token"]
        return self.token

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "cpro-account": self.sb.credentials.cpro_account,
            "Content-Type": "application/json;charset=utf-8",
        }

    def raw(self, path: str, body: object = None, method: str = "POST", timeout: float = 10, **kwargs):
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        data = kwargs.pop("data", None)
        if data is None and body is not None:
            data = json.dumps(body).encode()
        return self.session.request(method, self.sb.url + path, data=data, headers=headers, timeout=timeout, **kwargs)

    def call(self, path: str, body: object = None, method: str = "POST", expect: int | None = 200):
        response = self.raw(path, {} if body is None and method == "POST" else body, method)
        if expect is not None:
            assert response.status_code == expect, (response.status_code, response.text)
        try:
            return response.json()
        except ValueError:
            return response.content

    def deposit(self, data: bytes, name: str, syntax: str, expect: int = 200) -> dict:
        return self.call(DEPOSIT, deposit_body(data, name, syntax), expect=expect)

    def deposit_cii(self, number: str, **options) -> str:
        answer = self.deposit(make_cii(number, **options), f"{number}.xml", "IN_DP_E1_CII_16B")
        assert answer["codeRetour"] == 0, answer
        return answer["numeroFluxDepot"]

    def report(self, flow: str) -> dict:
        return self.call(CR_DETAILLE, {"numeroFluxDepot": flow})

    def search(self, **criteria) -> dict:
        return self.call(SEARCH, criteria)

    def invoice_of(self, flow: str) -> dict:
        found = self.search(numeroFluxDepot=flow)["listeFactures"]
        assert len(found) == 1, found
        return found[0]


@pytest.fixture
def sandbox():
    with SandboxServer() as sb:
        yield sb


@pytest.fixture
def api(sandbox):
    return Api(sandbox)


# --------------------------------------------------------------------------------------------------
# directory file
# --------------------------------------------------------------------------------------------------
def test_shipped_directory_matches_core_budgets():
    structures = {s["identifiantStructure"]: s for s in load_directory_file()}
    ids = [s["idStructureCPP"] for s in structures.values()]
    assert len(ids) == len(set(ids))
    for budget in BUDGETS:
        structure = structures[budget.siret]
        assert budget.name in structure["designationStructure"]
        assert structure["budget"] == budget.key
        assert (structure["typeStructure"], structure["statut"]) == ("PUBLIQUE", "ACTIVE")
        params = structure["parametres"]
        assert params["numeroEJDoitEtreRenseigne"] == budget.requirements.engagement
        assert params["codeServiceDoitEtreRenseigne"] >= budget.requirements.service_code
        assert params["gestionNumeroEJOuCodeService"] == budget.requirements.service_or_engagement
        codes = [service["codeService"] for service in structure["services"]]
        assert codes.count("FACTURES_PUBLIQUES") == 1
        assert any(s["estActif"] and s["codeService"] != "FACTURES_PUBLIQUES" for s in structure["services"])
    # The documented sandbox choice: Transports also demands a service code.
    assert structures[TRANSPORTS]["parametres"]["codeServiceDoitEtreRenseigne"] is True
    assert any(not s["estActif"] for s in structures[PRINCIPAL]["services"])
    for siret, name in (
        (DEMO_SUPPLIER, "Normandie Services Numériques SAS"),
        ("51234567900017", "Atelier Seine Maintenance SARL"),
    ):
        assert structures[siret]["typeStructure"] == "PRIVEE"
        assert structures[siret]["designationStructure"] == name
    flags = {tuple(s["parametres"].values()) for s in structures.values() if s["typeStructure"] == "PUBLIQUE"}
    assert len(flags) >= 5  # none, EJ, service, both, EJ-or-service


# --------------------------------------------------------------------------------------------------
# token and gateway
# --------------------------------------------------------------------------------------------------
def test_token_endpoint(sandbox):
    creds = sandbox.credentials
    good = {
        "grant_type": "client_credentials",
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "scope": "openid",
    }
    answer = requests.post(sandbox.token_url, data=good, timeout=5)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "openid"
    assert len(body["access_token"]) > 20
    basic = requests.post(
        sandbox.token_url,
        data={"grant_type": "client_credentials"},
        auth=(creds.client_id, creds.client_secret),
        timeout=5,
    )
    assert basic.status_code == 200
    bad = requests.post(sandbox.token_url, data={**good, "client_secret": "nope"}, timeout=5)
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_client")
    grant = requests.post(sandbox.token_url, data={**good, "grant_type": "password"}, timeout=5)
    assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")
    assert tuple(sandbox.credentials) == tuple(DEFAULT_CREDENTIALS)
    assert DEFAULT_CREDENTIALS.as_dict() == {
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        "login": "TECH_1_sandbox@cpro.fr",
        "password": "sandbox-password",
    }


def test_gateway_rules(api, sandbox):
    url = sandbox.url
    no_token = requests.post(
        url + SEARCH, json={}, headers={"cpro-account": sandbox.credentials.cpro_account}, timeout=5
    )
    assert no_token.status_code == 401 and "Bearer" in no_token.headers["WWW-Authenticate"]
    bad_token = api.raw(SEARCH, {}, headers={"Authorization": "Bearer forged"})
    assert bad_token.status_code == 401
    unknown = api.raw("/cpro/factures/v1/soumettre", {})
    assert (unknown.status_code, unknown.content) == (403, b"")
    assert api.raw(SEARCH, method="GET").status_code == 403  # POST-only route
    assert requests.get(url + "/somewhere", timeout=5).status_code == 403
    missing = api.raw(SEARCH, {}, headers={"cpro-account": ""})
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == WWW_ACCOUNT
    wrong = base64.b64encode(b"TECH_1_sandbox@cpro.fr:wrong").decode()
    assert api.raw(SEARCH, {}, headers={"cpro-account": wrong}).status_code == 401
    assert api.raw(SEARCH, data=b"a=1", headers={"Content-Type": "text/plain"}).status_code == 415
    assert api.raw(SEARCH, data=b"{not json").status_code == 415
    array = api.raw(SEARCH, data=b"[]")
    assert array.status_code == 400 and "codeRetour" in array.json()
    health = api.call(HEALTH, method="GET")
    assert health["codeRetour"] == 0 and health["statusCodeValue"] == 200
    assert sandbox.calls()["rechercherFactureParFournisseur"] >= 5


def test_token_expires_with_the_sandbox_clock(api, sandbox):
    assert api.raw(SEARCH, {}).status_code == 200
    sandbox.advance(3601)
    expired = api.raw(SEARCH, {})
    assert expired.status_code == 401 and "expired" in expired.headers["WWW-Authenticate"]
    api.new_token()
    assert api.raw(SEARCH, {}).status_code == 200


# --------------------------------------------------------------------------------------------------
# directory API
# --------------------------------------------------------------------------------------------------
def test_structure_operations(api):
    found = api.call(
        STRUCT_SEARCH, {"structure": {"identifiantStructure": "200 023 414 00036", "typeIdentifiantStructure": "SIRET"}}
    )
    assert found["codeRetour"] == 0 and found["parametresRetour"]["total"] == 1
    item = found["listeStructures"][0]
    assert item["statut"] == "ACTIVE" and item["identifiantStructure"] == TRANSPORTS
    details = api.call(STRUCT_READ, {"idStructureCPP": item["idStructureCPP"], "codeLangue": "FR"})
    assert details["informationGenerales"]["structurePriveePublique"] == "PUBLIQUE"
    assert details["parametres"]["codeServiceDoitEtreRenseigne"] is True
    assert details["parametres"]["numeroEJDoitEtreRenseigne"] is True
    page = api.call(
        SERVICES,
        {"idStructure": item["idStructureCPP"], "parametresRechercherServicesStructure": {"nbResultatsParPage": 2}},
    )
    assert page["parametresRetour"] == {"nbResultatsParPage": 2, "pageCourante": 1, "pages": 2, "total": 3}
    services = api.call(SERVICES, {"idStructure": item["idStructureCPP"]})["listeServices"]
    by_code = {s["codeService"]: s for s in services}
    assert by_code["DIR-MOBILITES"]["estActif"] and not by_code["DIR-TRANSPORTS-2019"]["estActif"]
    commune = api.call(STRUCT_SEARCH, {"structure": {"identifiantStructure": COMMUNE_EJ_OR_SERVICE}})
    commune_id = commune["listeStructures"][0]["idStructureCPP"]
    tech = next(
        s
        for s in api.call(SERVICES, {"idStructure": commune_id})["listeServices"]
        if s["codeService"] == "SERV-TECHNIQUE"
    )
    service = api.call(SERVICE_READ, {"idStructure": commune_id, "idService": tech["idService"]})
    assert service["parametres"]["numeroEngagement"] is True
    assert service["informationsGenerales"]["codeService"] == "SERV-TECHNIQUE"
    nothing = api.call(STRUCT_SEARCH, {"structure": {"identifiantStructure": UNKNOWN_SIRET}})
    assert (nothing["codeRetour"], nothing["libelle"], nothing["listeStructures"]) == (20000, "TRA_MSG_00.015", [])
    unknown = api.call(STRUCT_READ, {"idStructureCPP": 1})
    assert unknown["codeRetour"] != 0
    # Private structures: only those attached to the technical account, unless asked otherwise.
    api.sb.add_structure(siret=_siret("11223344"), name="Not attached", rattacheCompteTechnique=False)
    hidden = api.call(STRUCT_SEARCH, {"structure": {"identifiantStructure": _siret("11223344")}})
    assert hidden["parametresRetour"]["total"] == 0
    shown = api.call(
        STRUCT_SEARCH,
        {"structure": {"identifiantStructure": _siret("11223344")}, "restreindreStructuresPrivees": False},
    )
    assert shown["parametresRetour"]["total"] == 1


# --------------------------------------------------------------------------------------------------
# deposits
# --------------------------------------------------------------------------------------------------
def test_flow_and_invoice_move_along_the_clock():
    with SandboxServer(processing_delay=10) as sandbox:
        api = Api(sandbox)
        flow = api.deposit_cii("FAC-CLK-0001")
        assert flow.startswith("CPP0011106") and len(flow) == 25
        states = []
        for _ in range(4):
            report = api.report(flow)
            states.append(report["etatCourantDepotFlux"])
            sandbox.advance(10)
        assert states == [
            "IN_DEPOT_PORTAIL_EN_ATTENTE_TRAITEMENT_SE_CPP",
            "IN_RECU",
            "IN_EN_COURS_TRAITEMENT_CPP",
            "IN_INTEGRE",
        ]
        assert all(state in FLOW_STATES for state in states)
        assert report["listeErreurDP"] == [] and report["codeInterfaceDepotFlux"] == "FSO1106A"
        # Integrated 30 s after the deposit; the clock is now 10 s later: one routing step done.
        invoice = api.invoice_of(flow)
        assert invoice["statut"] == "EN_COURS_ACHEMINEMENT"
        assert isinstance(invoice["identifiantFactureCPP"], int)
        sandbox.advance(10)
        invoice = api.invoice_of(flow)
        assert invoice["statut"] == "MISE_A_DISPOSITION"
        assert invoice["codeDestinataire"] == PRINCIPAL and invoice["numeroBonCommande"] == "EJ2026-000101"
        assert invoice["montantTTC"] == 1200.0 and invoice["typeFacture"] == "FACTURE"
        history = api.call(HISTORY, {"idFacture": invoice["identifiantFactureCPP"]})
        assert history["statutCourantCode"] == "MISE_A_DISPOSITION"
        codes = [entry["histoStatutCode"] for entry in history["historiquesDesStatuts"]["histoStatut"]]
        assert codes == ["MISE_A_DISPOSITION", "EN_COURS_ACHEMINEMENT", "DEPOSEE"]
        facture = api.call(CONSULT, {"identifiantFactureCPP": invoice["identifiantFactureCPP"]})["facture"]
        assert facture["numeroFacture"] == "FAC-CLK-0001" and facture["fournisseur"]["codeFournisseur"] == DEMO_SUPPLIER
        cr = api.call(CR, {"numeroFluxDepot": flow})
        assert cr["etatCourantFlux"] == "IN_INTEGRE" and base64.b64decode(cr["fichierCR"]).startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("name", "syntax"),
    [
        ("facturx_principal_invoice.pdf", "IN_DP_E2_CII_FACTURX"),
        ("cii_eau_invoice.xml", "IN_DP_E1_CII_16B"),
        ("ubl_assainissement_invoice.xml", "IN_DP_E1_UBL_INVOICE"),
        ("facturx_transports_invoice.pdf", "IN_DP_E2_CII_FACTURX"),
        ("facturx_dechets_credit_note.pdf", "IN_DP_E2_CII_FACTURX"),
    ],
)
def test_good_samples_are_integrated(api, name, syntax):
    path = INVOICES / name
    if not path.exists():
        pytest.skip(f"{path} not generated")
    answer = api.deposit(path.read_bytes(), name, syntax)
    assert answer["codeRetour"] == 0 and answer["syntaxeFlux"] == syntax
    report = api.report(answer["numeroFluxDepot"])
    assert report["etatCourantDepotFlux"] == "IN_INTEGRE", report
    assert api.invoice_of(answer["numeroFluxDepot"])["statut"] == "MISE_A_DISPOSITION"


def test_facturx_made_here_and_credit_note(api):
    flow = api.deposit(make_facturx("FAC-FX-0001"), "fx.pdf", "IN_DP_E2_CII_FACTURX")["numeroFluxDepot"]
    assert api.report(flow)["etatCourantDepotFlux"] == "IN_INTEGRE"
    flow = api.deposit_cii("AV-FX-0001", type_code="381", preceding_invoice="FAC-FX-0001")
    invoice = api.invoice_of(flow)
    assert (invoice["typeFacture"], invoice["numeroFactureOrigine"]) == ("AVOIR", "FAC-FX-0001")


def test_refusals_at_deposit_time_are_recorded():
    with SandboxServer(max_file_size=50_000) as sandbox:
        api = Api(sandbox)
        cii = make_cii("FAC-REF-0001")
        cases = [
            (deposit_body(cii, "a.xml", "IN_DP_E9_NOPE"), 20002),
            (deposit_body(make_facturx("FAC-REF-0002"), "b.pdf", "IN_DP_E1_CII_16B"), 20003),
            (deposit_body(cii, "c.xml", "IN_DP_E2_CII_FACTURX"), 20003),
            (deposit_body(b"just some text", "d.xml", "IN_DP_E1_CII_16B"), 20003),
            ({"fichierFlux": "%%%not base64%%%", "nomFichier": "e.xml", "syntaxeFlux": "IN_DP_E1_CII_16B"}, 20005),
            ({"nomFichier": "f.xml", "syntaxeFlux": "IN_DP_E1_CII_16B"}, 20004),
            (deposit_body(cii, "g.xml", "IN_DP_E1_PES_FACTURE"), 20006),
        ]
        for body, code in cases:
            answer = api.call(DEPOSIT, body)
            assert answer["codeRetour"] == code, (body.get("nomFichier"), answer)
            assert "numeroFluxDepot" not in answer and answer["libelle"]
        big = api.raw(DEPOSIT, deposit_body(cii + b" " * 60_000, "big.xml", "IN_DP_E1_CII_16B"))
        assert big.status_code == 413 and big.json()["libelle"] == "GDP_MSG_11.022"
        deposits = sandbox.deposits()
        assert len(deposits) == len(cases) + 1 and {d["outcome"] for d in deposits} == {"refused"}
        assert sandbox.deposits_of("FAC-REF-0002") == 1  # the number was read from the mismatching file
        assert sandbox.state()["counts"]["flows"] == 0


def test_schema_error_rejects_the_flow(api):
    broken = make_cii("FAC-XSD-0001").replace(b"<ram:TypeCode>380</ram:TypeCode>", b"", 1)
    flow = api.deposit(broken, "broken.xml", "IN_DP_E1_CII_16B")["numeroFluxDepot"]
    report = api.report(flow)
    assert report["etatCourantDepotFlux"] == "IN_REJETE" and report["listeErreurDP"] == []
    errors = report["listeErreurTechnique"]
    assert errors and errors[0]["codeErreur"] == "REJ_XSD" and "TypeCode" in errors[0]["libelleErreur"]
    assert api.search(numeroFluxDepot=flow)["listeFactures"] == []
    assert api.sb.deposits_of("FAC-XSD-0001") == 1


# Why each broken sample of data/invoices (README.rst there) must be rejected:
# file -> (error list, text the message must contain, recipient id the DP error must carry or None).
BROKEN_SAMPLES = {
    "broken_missing_engagement.pdf": (
        "dp",
        "numero d'engagement est obligatoire pour la structure destinataire 20002341400101",
        PRINCIPAL,
    ),
    "broken_wrong_siret.pdf": (
        "dp",
        "identifiant destinataire de la demande de paiement (balise : FichierXml.SupplyChainTradeTransaction."
        "ApplicableHeaderTradeAgreement.BuyerTradeParty.SpecifiedLegalOrganization.ID.value) n'est pas reference",
        "20002341400102",  # 200 023 414 00102: wrong check digit
    ),
    "broken_schema_error.xml": ("technical", "BuyerReference", None),
    "broken_credit_note_without_reference.pdf": (
        "dp",
        "La reference de la facture d'origine est obligatoire pour un avoir (balise : FichierXml."
        "SupplyChainTradeTransaction.ApplicableHeaderTradeSettlement.InvoiceReferencedDocument.IssuerAssignedID.value)",
        "20002341400028",
    ),
}
SAMPLE_FILES = sorted(p.name for p in INVOICES.glob("*") if p.suffix in (".pdf", ".xml")) if INVOICES.is_dir() else []


def test_every_broken_sample_has_an_expected_rejection():
    broken = {name for name in SAMPLE_FILES if name.startswith("broken_")}
    assert broken == set(BROKEN_SAMPLES)


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_each_sample_deposited_through_the_core_client(sandbox, name):
    """Good samples integrate and can be found; each broken one is rejected for its own reason."""
    data = (INVOICES / name).read_bytes()
    fmt, xml = extract_xml(data)
    number = read_facts(xml, fmt).number
    body = build_deposit(data, deposit_filename(number, fmt), fmt)
    with ChorusClient(
        Credentials.coerce(sandbox.credentials),
        Endpoints.from_base_url(sandbox.url),
        timeout=10,
        sleep=lambda _seconds: None,
        token_cache=TokenCache(),
    ) as client:
        result = client.deposit_flow(data, body["nomFichier"], body["syntaxeFlux"])
        report = client.flow_report(result.flow_number)
        found = list(client.search_invoices(flow_number=result.flow_number))
        by_number = list(client.search_invoices(invoice_number=number))
    assert sandbox.deposits_of(number) == 1
    if name not in BROKEN_SAMPLES:
        assert report.state == "IN_INTEGRE", report
        assert report.dp_errors == () and report.technical_errors == ()
        assert [invoice.number for invoice in found] == [number]
        assert [invoice.chorus_id for invoice in by_number] == [found[0].chorus_id]
        assert found[0].status == "MISE_A_DISPOSITION"
        return
    kind, expected, recipient = BROKEN_SAMPLES[name]
    assert report.state == "IN_REJETE", report
    assert found == [] and by_number == []
    if kind == "technical":
        assert report.dp_errors == ()
        assert report.technical_errors, report
        assert all(error.code == "REJ_XSD" for error in report.technical_errors), report.technical_errors
        assert any(expected in error.label and ".xsd" in error.label for error in report.technical_errors)
        return
    assert report.technical_errors == ()
    (error,) = report.dp_errors  # exactly one problem: the one the file name gives
    assert expected in error.message, error.message
    assert (error.invoice_number, error.supplier_id, error.recipient_id) == (number, DEMO_SUPPLIER, recipient)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"supplier": {**SECOND_SUPPLIER, "siret": UNKNOWN_SIRET}},
            "identifiant fournisseur de la demande de paiement",
        ),
        ({"buyer_siret": UNKNOWN_SIRET}, "identifiant destinataire de la demande de paiement"),
        ({"buyer_siret": DISSOLVED}, "n'est pas active"),
        ({"engagement": None}, "numero d'engagement est obligatoire pour la structure destinataire 20002341400101"),
        ({"buyer_siret": TRANSPORTS}, "code service est obligatoire pour la structure destinataire 20002341400036"),
        ({"buyer_siret": COMMUNE_EJ_OR_SERVICE, "engagement": None}, "numero d'engagement ou le code service"),
        ({"service_code": "DIR-INCONNU"}, "Le code service DIR-INCONNU"),
        ({"service_code": "DIR-PATRIMOINE-2019"}, "n'est pas actif"),
        ({"service_code": "FACTURES_PUBLIQUES"}, "reserve aux factures entre entites publiques"),
        (
            {"buyer_siret": COMMUNE_EJ_OR_SERVICE, "service_code": "SERV-TECHNIQUE", "engagement": None},
            "obligatoire pour le service SERV-TECHNIQUE",
        ),
        ({"number": "FAC#2026#0001"}, "est invalide"),
    ],
)
def test_routing_rejections(api, options, expected):
    number = options.pop("number", "FAC-RTE-0001")
    flow = api.deposit_cii(number, **options)
    report = api.report(flow)
    assert report["etatCourantDepotFlux"] == "IN_REJETE", report
    messages = [error["libelleErreurDP"] for error in report["listeErreurDP"]]
    assert any(expected in message for message in messages), messages
    assert report["listeErreurDP"][0]["numeroDP"] == number
    assert api.search(numeroFluxDepot=flow)["codeRetour"] == 20000


def test_inactive_supplier_and_service_codes_that_pass(api, sandbox):
    inactive = _siret("55443322")
    sandbox.add_structure(siret=inactive, name="Dormant SARL", statut="INACTIVE")
    flow = api.deposit_cii("FAC-INA-0001", supplier={**SECOND_SUPPLIER, "siret": inactive})
    assert "n'est pas active" in api.report(flow)["listeErreurDP"][0]["libelleErreurDP"]
    for number, options in (
        ("FAC-OK-0001", {"buyer_siret": TRANSPORTS, "service_code": "DIR-MOBILITES"}),
        ("FAC-OK-0002", {"buyer_siret": COMMUNE_EJ_OR_SERVICE, "service_code": "SERV-CULTURE", "engagement": None}),
        ("FAC-OK-0003", {"buyer_siret": "25769990000011", "engagement": None}),
    ):
        assert api.report(api.deposit_cii(number, **options))["etatCourantDepotFlux"] == "IN_INTEGRE"


def test_duplicate_invoice_number(api, sandbox):
    first = api.deposit_cii("FAC-DUP-0001")
    assert api.report(first)["etatCourantDepotFlux"] == "IN_INTEGRE"
    second = api.deposit_cii("FAC-DUP-0001", buyer_siret="20002341400069")  # another budget: still a duplicate
    report = api.report(second)
    assert report["etatCourantDepotFlux"] == "IN_REJETE"
    assert "doublon" in report["listeErreurDP"][0]["libelleErreurDP"]
    # Another supplier may use the same number.
    other = api.deposit_cii("FAC-DUP-0001", supplier=SECOND_SUPPLIER)
    assert api.report(other)["etatCourantDepotFlux"] == "IN_INTEGRE"
    # REJETEE by the recipient frees the number.
    chorus_id = api.invoice_of(first)["identifiantFactureCPP"]
    sandbox.set_invoice_status(chorus_id, "REJETEE", "Montant errone")
    third = api.deposit_cii("FAC-DUP-0001")
    assert api.report(third)["etatCourantDepotFlux"] == "IN_INTEGRE"
    assert sandbox.deposits_of("FAC-DUP-0001") == 4
    listed = requests.get(sandbox.url + "/sandbox/deposits", params={"invoice": "FAC-DUP-0001"}, timeout=5).json()
    assert listed["count"] == 4 and [d["outcome"] for d in listed["deposits"]] == ["accepted"] * 4


def test_two_pending_deposits_of_one_number_are_settled_in_order():
    with SandboxServer(processing_delay=5) as sandbox:
        api = Api(sandbox)
        first, second = api.deposit_cii("FAC-ORD-0001"), api.deposit_cii("FAC-ORD-0001")
        sandbox.advance(20)
        assert api.report(first)["etatCourantDepotFlux"] == "IN_INTEGRE"
        assert api.report(second)["etatCourantDepotFlux"] == "IN_REJETE"


def test_archive_with_several_invoices(api):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for number, options in (("FAC-TAR-0001", {}), ("FAC-TAR-0002", {"engagement": None}), ("FAC-TAR-0003", {})):
            data = make_cii(number, **options)
            info = tarfile.TarInfo(f"{number}.xml")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    answer = api.deposit(buffer.getvalue(), "xml_cii_chorus_lot_factures.tar.gz", "IN_DP_E1_CII_16B")
    report = api.report(answer["numeroFluxDepot"])
    assert report["etatCourantDepotFlux"] == "IN_INTEGRE_PARTIEL"
    assert [e["numeroDP"] for e in report["listeErreurDP"]] == ["FAC-TAR-0002"]
    found = api.search(numeroFluxDepot=answer["numeroFluxDepot"])["listeFactures"]
    assert sorted(i["numeroFacture"] for i in found) == ["FAC-TAR-0001", "FAC-TAR-0003"]


# --------------------------------------------------------------------------------------------------
# invoices: search, recycle, complete
# --------------------------------------------------------------------------------------------------
def test_search_paging_over_thousands_of_invoices(api, sandbox):
    seeded = sandbox.seed_invoices(1200)
    assert seeded["count"] == 1200
    default = api.search()
    assert default["parametresRetour"] == {"nbResultatsParPage": 10, "pageCourante": 1, "pages": 120, "total": 1200}
    seen, timings = [], []
    for page in range(1, 13):
        started = time.perf_counter()
        answer = api.search(rechercheFactureParFournisseur={"pageResultatDemandee": page, "nbResultatsParPage": 100})
        timings.append(time.perf_counter() - started)
        assert answer["parametresRetour"] == {
            "nbResultatsParPage": 100,
            "pageCourante": page,
            "pages": 12,
            "total": 1200,
        }
        seen += [item["identifiantFactureCPP"] for item in answer["listeFactures"]]
    assert len(seen) == len(set(seen)) == 1200 and seen == sorted(seen)
    assert sorted(timings)[len(timings) // 2] < 0.05, timings  # a page of 100 in a few ms
    past = api.search(rechercheFactureParFournisseur={"pageResultatDemandee": 13, "nbResultatsParPage": 100})
    assert past["codeRetour"] == 0 and past["listeFactures"] == []
    capped = api.search(rechercheFactureParFournisseur={"nbResultatsParPage": 5000})
    assert capped["parametresRetour"]["nbResultatsParPage"] == 1000 and len(capped["listeFactures"]) == 1000
    last = api.search(rechercheFactureParFournisseur={"nbResultatsParPage": 1, "triSens": "Descendant"})
    assert last["listeFactures"][0]["identifiantFactureCPP"] == seeded["last_id"]
    # Changed since: only the invoices whose status moved after that moment.
    mark = sandbox.advance(60)
    for chorus_id in range(seeded["first_id"], seeded["first_id"] + 5):
        sandbox.set_invoice_status(chorus_id, "MANDATEE")
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(mark - 1)) + time.strftime("%z")
    since = since[:-2] + ":" + since[-2:]
    changed = api.search(periodeDateHeureEtatCourantDu=since)
    assert changed["parametresRetour"]["total"] == 5
    assert api.search(statutCourant=["MANDATEE"])["parametresRetour"]["total"] == 5
    assert api.search(statutCourant="MISE_A_DISPOSITION")["parametresRetour"]["total"] == 1195
    assert (
        api.search(numeroFacture="SEED-000007")["listeFactures"][0]["identifiantFactureCPP"] == seeded["first_id"] + 6
    )
    before = api.search(periodeDateHeureEtatCourantAu=since)
    assert before["parametresRetour"]["total"] == 1195
    nothing = api.search(numeroFacture="NOPE")
    assert (nothing["codeRetour"], nothing["libelle"], nothing["parametresRetour"]["total"]) == (
        20000,
        "TRA_MSG_00.015",
        0,
    )
    bad_date = api.search(periodeDateHeureEtatCourantDu="yesterday")
    assert bad_date["codeRetour"] != 0


def test_recycle_and_complete(api, sandbox):
    flow = api.deposit_cii("FAC-REC-0001")
    chorus_id = api.invoice_of(flow)["identifiantFactureCPP"]
    not_yet = api.call(RECYCLE, {"identifiantFactureCPP": chorus_id, "destinataire": {"codeDestinataire": PRINCIPAL}})
    assert not_yet["codeRetour"] == 20002
    sandbox.set_invoice_status(chorus_id, "A_RECYCLER", "Mauvais budget")
    refused = api.call(
        RECYCLE,
        {
            "identifiantFactureCPP": chorus_id,
            "destinataire": {"codeDestinataire": TRANSPORTS, "codeServiceExecutant": "NOPE"},
        },
    )
    assert refused["codeRetour"] == 20003 and "NOPE" in refused["libelle"]
    done = api.call(
        RECYCLE,
        {
            "identifiantFactureCPP": chorus_id,
            "commentaire": "Budget corrige",
            "destinataire": {"codeDestinataire": TRANSPORTS, "codeServiceExecutant": "DIR-MOBILITES"},
            "reference": {"numeroBonCommande": "EJ-NOUVEAU"},
        },
    )
    assert (done["codeRetour"], done["statutFacture"], done["numeroFacture"]) == (0, "DEPOSEE", "FAC-REC-0001")
    invoice = api.invoice_of(flow)
    assert (invoice["codeDestinataire"], invoice["codeServiceExecutant"], invoice["numeroBonCommande"]) == (
        TRANSPORTS,
        "DIR-MOBILITES",
        "EJ-NOUVEAU",
    )
    assert invoice["statut"] == "MISE_A_DISPOSITION"  # routing_delay 0: moved on again
    history = api.call(
        HISTORY, {"idFacture": chorus_id, "paramRechercheHistoStatuts": {"triSensListeHistoStatut": "Ascendant"}}
    )
    codes = [e["histoStatutCode"] for e in history["historiquesDesStatuts"]["histoStatut"]]
    assert codes == [
        "DEPOSEE",
        "EN_COURS_ACHEMINEMENT",
        "MISE_A_DISPOSITION",
        "A_RECYCLER",
        "DEPOSEE",
        "EN_COURS_ACHEMINEMENT",
        "MISE_A_DISPOSITION",
    ]
    ids = [e["histoStatutId"] for e in history["historiquesDesStatuts"]["histoStatut"]]
    assert ids == sorted(ids)
    wrong = api.call(COMPLETE, {"identifiantFactureCPP": chorus_id, "commentaire": "x"})
    assert (wrong["codeRetour"], wrong["libelle"]) == (20002, "GDP_MSG_11.033")
    sandbox.set_invoice_status(chorus_id, "SUSPENDUE", "Piece justificative manquante")
    completed = api.call(COMPLETE, {"identifiantFactureCPP": chorus_id, "commentaire": "PV de reception joint"})
    assert completed["codeRetour"] == 0 and completed["numeroFacture"] == "FAC-REC-0001"
    assert api.invoice_of(flow)["statut"] == "COMPLETEE"
    missing = api.call(CONSULT, {"identifiantFactureCPP": 1})
    assert missing["codeRetour"] == 20000


def test_functional_errors_as_http_400():
    with SandboxServer(functional_errors_http=400) as sandbox:
        api = Api(sandbox)
        error = api.call(CR_DETAILLE, {"numeroFluxDepot": "CPP0011106000000000999999"}, expect=400)
        assert error["codeRetour"] == 20000 and error["libelle"]
        # "No result" is a functional code too: 400 with the same body (a client must read it as empty).
        assert api.call(SEARCH, {"numeroFacture": "NOPE"}, expect=400)["codeRetour"] == 20000
        assert api.call(DEPOSIT, deposit_body(b"x", "x.xml", "IN_DP_NOPE"), expect=400)["codeRetour"] == 20002
        sandbox.configure(functional_errors_http=200)
        assert api.call(CR_DETAILLE, {"numeroFluxDepot": "CPP0011106000000000999999"}, expect=200)


# --------------------------------------------------------------------------------------------------
# control API
# --------------------------------------------------------------------------------------------------
def test_control_endpoint_over_http(api, sandbox):
    base = sandbox.url + "/sandbox"
    state = requests.get(base + "/state", timeout=5).json()
    assert state["counts"]["structures"] == 14 and state["config"]["functional_errors_http"] == 200
    # Register the Odoo company as a supplier, then deposit for it.
    company = _siret("44556677")
    added = requests.post(base + "/structures", json={"siret": company, "name": "Odoo Test Company"}, timeout=5)
    assert added.status_code == 201 and added.json()["typeStructure"] == "PRIVEE"
    assert requests.get(base + "/structures", params={"siret": company}, timeout=5).json()["structures"]
    flow = api.deposit_cii("ODOO-0001", supplier={**SECOND_SUPPLIER, "siret": company, "name": "Odoo Test Company"})
    assert api.report(flow)["etatCourantDepotFlux"] == "IN_INTEGRE"
    flow_info = requests.get(f"{base}/flows/{flow}", timeout=5).json()
    assert flow_info["final"] and len(flow_info["identifiantsFactureCPP"]) == 1
    assert requests.get(f"{base}/flows/{flow}/file", timeout=5).content.startswith(b"<?xml")
    chorus_id = flow_info["identifiantsFactureCPP"][0]
    moved = requests.post(f"{base}/invoices/{chorus_id}/status", json={"status": "MISE_EN_PAIEMENT"}, timeout=5)
    assert moved.status_code == 200 and moved.json()["statut"] == "MISE_EN_PAIEMENT"
    assert moved.json()["history"][-1]["status"] == "MISE_EN_PAIEMENT"
    assert requests.post(f"{base}/invoices/{chorus_id}/status", json={"status": "NOPE"}, timeout=5).status_code == 400
    assert requests.post(f"{base}/invoices/999/status", json={"status": "MANDATEE"}, timeout=5).status_code == 404
    listed = requests.get(base + "/invoices", params={"number": "ODOO-0001"}, timeout=5).json()
    assert listed["count"] == 1 and sandbox.invoice_id("ODOO-0001") == chorus_id
    clock = requests.post(base + "/clock", json={"advance": 120}, timeout=5).json()
    assert clock["offset"] == pytest.approx(120)
    assert requests.post(base + "/clock", json={"advance": -5}, timeout=5).status_code == 400
    seeded = requests.post(base + "/invoices/seed", json={"count": 3, "prefix": "HTTP-"}, timeout=5)
    assert seeded.status_code == 201 and seeded.json()["count"] == 3
    service = requests.post(f"{base}/structures/26311001/services", json={"code": "DIR-NEW", "name": "New"}, timeout=5)
    assert service.status_code == 201 and service.json()["estActif"] is True
    assert requests.post(base + "/structures", json={"siret": "123"}, timeout=5).status_code == 400
    assert requests.post(base + "/faults", json={"kind": "cut", "oops": 1}, timeout=5).status_code == 400
    assert requests.post(base + "/faults", json={"kind": "meteor"}, timeout=5).status_code == 400
    queued = requests.post(base + "/faults", json={"kind": "http_503", "count": 2}, timeout=5).json()["queued"]
    assert [(f["kind"], f["remaining"]) for f in queued] == [("http_503", 2)]
    assert requests.delete(base + "/faults", timeout=5).json()["queued"] == []
    assert requests.get(base + "/nothing", timeout=5).status_code == 404
    assert requests.get(base + "/calls", timeout=5).json()["deposerFluxFacture"] == 1
    config = requests.post(base + "/config", json={"processing_delay": 3}, timeout=5).json()
    assert config["processing_delay"] == 3
    reset = requests.post(base + "/reset", json={}, timeout=5).json()
    assert reset["counts"]["invoices"] == 0 and reset["counts"]["structures"] == 14
    assert reset["clock"]["offset"] == 0
    assert api.raw(SEARCH, {}).status_code == 401  # tokens are gone too


def test_every_invoice_status_can_be_set(api, sandbox):
    seeded = sandbox.seed_invoices(1)
    for status in INVOICE_STATUSES:
        sandbox.set_invoice_status(seeded["first_id"], status)
    assert api.search(numeroFacture="SEED-000001")["listeFactures"][0]["statut"] == list(INVOICE_STATUSES)[-1]
    assert set(ROUTES.values()) >= {("deposerFluxFacture", "op_deposer_flux")}


# --------------------------------------------------------------------------------------------------
# faults
# --------------------------------------------------------------------------------------------------
def test_faults_before_processing(api, sandbox):
    body = deposit_body(make_cii("FAC-FLT-0001"), "f.xml", "IN_DP_E1_CII_16B")
    sandbox.inject_fault("http_500", operation="deposerFluxFacture")
    sandbox.inject_fault("http_503", operation="deposerFluxFacture", retry_after=7)
    sandbox.inject_fault("http_429", operation="deposerFluxFacture", retry_after=3)
    first, second, third = (api.raw(DEPOSIT, body) for _ in range(3))
    assert first.status_code == 500 and "codeRetour" not in first.json()
    assert (second.status_code, second.headers["Retry-After"]) == (503, "7")
    assert (third.status_code, third.headers["Retry-After"]) == (429, "3")
    assert sandbox.deposits_of("FAC-FLT-0001") == 0
    assert api.raw(DEPOSIT, body).status_code == 200
    assert sandbox.deposits_of("FAC-FLT-0001") == 1
    # Operation filter: a fault for searches leaves deposits alone, and the other way round.
    sandbox.inject_fault("http_503", operation="rechercherFactureParFournisseur")
    assert api.raw(CR_DETAILLE, {"numeroFluxDepot": "x"}).status_code == 200
    assert api.raw(SEARCH, {}).status_code == 503
    # Token endpoint only when asked.
    sandbox.inject_fault("http_503", operation="token")
    assert api.raw(SEARCH, {}).status_code == 200
    with pytest.raises(AssertionError):
        api.new_token()
    api.new_token()
    assert sandbox.faults.describe()["queued"] == []


def test_expired_token_fault(api, sandbox):
    sandbox.inject_fault("expire_token")
    expired = api.raw(SEARCH, {})
    assert expired.status_code == 401 and "expired" in expired.headers["WWW-Authenticate"]
    assert api.raw(SEARCH, {}).status_code == 401  # the same token stays dead
    api.new_token()
    assert api.raw(SEARCH, {}).status_code == 200


def test_faults_after_processing_record_the_deposit(api, sandbox):
    body = deposit_body(make_cii("FAC-CUT-0001"), "c.xml", "IN_DP_E1_CII_16B")
    sandbox.inject_fault("cut", operation="deposerFluxFacture")
    with pytest.raises(requests.ConnectionError):
        api.raw(DEPOSIT, body)
    assert sandbox.deposits_of("FAC-CUT-0001") == 1
    assert api.search(numeroFacture="FAC-CUT-0001")["listeFactures"][0]["statut"] == "MISE_A_DISPOSITION"
    sandbox.inject_fault("http_500_after", operation="deposerFluxFacture")
    body = deposit_body(make_cii("FAC-CUT-0002"), "c2.xml", "IN_DP_E1_CII_16B")
    assert api.raw(DEPOSIT, body).status_code == 500
    assert sandbox.deposits_of("FAC-CUT-0002") == 1
    sandbox.inject_fault("slow", operation="deposerFluxFacture", delay=0.6)
    body = deposit_body(make_cii("FAC-SLOW-0001"), "s.xml", "IN_DP_E1_CII_16B")
    with pytest.raises(requests.Timeout):
        api.raw(DEPOSIT, body, timeout=0.2)
    time.sleep(0.5)
    assert sandbox.deposits_of("FAC-SLOW-0001") == 1
    sandbox.inject_fault("slow", delay=0.3)
    started = time.perf_counter()
    assert api.raw(SEARCH, {}).status_code == 200 and time.perf_counter() - started >= 0.3
    sandbox.inject_fault("incident")
    api.new_token()
    flow = api.deposit_cii("FAC-INC-0001")
    report = api.report(flow)
    assert report["etatCourantDepotFlux"] == "IN_INCIDENTE" and report["listeErreurTechnique"]
    assert api.search(numeroFacture="FAC-INC-0001")["codeRetour"] == 20000


def test_random_faults_keep_deposits_faithful(sandbox):
    api = Api(sandbox)
    sandbox.random_faults(0.3, seed=1234, delay=0.05)
    outcomes: dict[str, list[int | str]] = {}
    for index in range(40):
        number = f"FAC-RND-{index:04d}"
        body = deposit_body(make_cii(number), f"{number}.xml", "IN_DP_E1_CII_16B")
        for _attempt in range(6):
            try:
                response = api.raw(DEPOSIT, body, timeout=5)
            except requests.ConnectionError:
                outcomes.setdefault(number, []).append("cut")
                break  # outcome unknown: a careful client looks it up instead of sending again
            outcomes.setdefault(number, []).append(response.status_code)
            if response.status_code == 401:
                api.new_token()
                continue
            if response.status_code in (429, 503) or (response.status_code == 500 and not sandbox.deposits_of(number)):
                continue
            break
    drawn = sandbox.faults.describe()["drawn"]
    faulted = sum(drawn.values())
    calls = sandbox.calls()["deposerFluxFacture"]
    assert 0.15 * calls <= faulted <= 0.45 * calls, (faulted, calls, drawn)
    unprocessed = sum(
        drawn.get(f"deposerFluxFacture:{kind}", 0) for kind in ("http_500", "http_503", "http_429", "expire_token")
    )
    assert len(sandbox.deposits()) == calls - unprocessed
    for number in outcomes:
        assert sandbox.deposits_of(number) == 1, outcomes[number]
        assert len(sandbox.invoices(number=number)) == 1  # one invoice per number, whatever happened
    sandbox.random_faults(0)
    assert sandbox.faults.describe()["random"] is None


# --------------------------------------------------------------------------------------------------
# persistence, threads, client agreement, command line
# --------------------------------------------------------------------------------------------------
def test_state_survives_a_restart(tmp_path):
    state = tmp_path / "sandbox.sqlite"
    company = _siret("66778899")
    with SandboxServer(state_path=state, processing_delay=5) as sandbox:
        api = Api(sandbox)
        sandbox.add_structure(siret=company, name="Persisted SAS")
        done = api.deposit_cii("FAC-PER-0001")
        sandbox.advance(15)
        pending = api.deposit_cii("FAC-PER-0002")
        sandbox.inject_fault("http_503", count=2, operation="consulterCRDetaille")
        sandbox.random_faults(0.1, seed=7, operation="healthCheck")
        token, offset = api.token, sandbox.clock()["offset"]
        chorus_id = api.invoice_of(done)["identifiantFactureCPP"]
        sandbox.set_invoice_status(chorus_id, "SUSPENDUE", "Piece manquante")
    with SandboxServer(state_path=state, processing_delay=5) as sandbox:
        api = Api.__new__(Api)
        api.sb, api.session, api.token = sandbox, requests.Session(), token
        assert sandbox.clock()["offset"] == pytest.approx(offset)
        assert api.raw(CR_DETAILLE, {"numeroFluxDepot": done}).status_code == 503  # the queued fault survived
        assert api.raw(CR_DETAILLE, {"numeroFluxDepot": done}).status_code == 503
        assert api.report(done)["etatCourantDepotFlux"] == "IN_INTEGRE"  # same token still valid
        assert api.report(pending)["etatCourantDepotFlux"] == "IN_DEPOT_PORTAIL_EN_ATTENTE_TRAITEMENT_SE_CPP"
        sandbox.advance(15)
        assert api.report(pending)["etatCourantDepotFlux"] == "IN_INTEGRE"
        assert sandbox.invoice(chorus_id)["statut"] == "SUSPENDUE"
        assert sandbox.structures(company)[0]["designationStructure"] == "Persisted SAS"
        assert sandbox.faults.describe()["random"]["seed"] == 7
        newer = api.deposit_cii("FAC-PER-0003")
        assert newer > pending
        assert sandbox.deposits_of("FAC-PER-0001") == 1 and len(sandbox.deposits()) == 3


def test_concurrent_deposits(api, sandbox):
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            own = Api(sandbox)
            own.deposit_cii(f"FAC-THR-{index:04d}")
            own.deposit_cii("FAC-THR-SAME")
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert api.search(rechercheFactureParFournisseur={"nbResultatsParPage": 100})["parametresRetour"]["total"] == 9
    assert sandbox.deposits_of("FAC-THR-SAME") == 8
    assert len(sandbox.invoices(number="FAC-THR-SAME")) == 1


def test_core_client_agrees_with_the_sandbox(sandbox):
    client_module = pytest.importorskip("odoo_chorus_rouen.core.client")
    auth = pytest.importorskip("odoo_chorus_rouen.core.auth")
    client = client_module.ChorusClient(
        sandbox.credentials.as_dict(),
        sandbox.url,
        timeout=5,
        sleep=lambda _seconds: None,
        token_cache=auth.TokenCache(),
    )
    result = client.deposit_flow(make_cii("FAC-CLI-0001"), "FAC-CLI-0001.xml", "IN_DP_E1_CII_16B")
    report = client.flow_report(result.flow_number)
    assert report.state == "IN_INTEGRE" and report.final
    (invoice,) = list(client.search_invoices(flow_number=result.flow_number))
    assert invoice.number == "FAC-CLI-0001" and invoice.status == "MISE_A_DISPOSITION"
    history = client.invoice_history(invoice.chorus_id)
    assert history.current_status == "MISE_A_DISPOSITION" and history.entries
    (structure,) = client.search_structures(TRANSPORTS)
    assert client.get_structure(structure.structure_id).requirements.service_code is True
    assert client.health_check() is True
    assert list(client.search_invoices(invoice_number="NOPE")) == []
    sandbox.inject_fault("cut", operation="deposerFluxFacture")
    with pytest.raises(OutcomeUnknownError):
        client.deposit_flow(make_cii("FAC-CLI-0002"), "FAC-CLI-0002.xml", "IN_DP_E1_CII_16B")
    assert sandbox.deposits_of("FAC-CLI-0002") == 1


def test_command_line_serves_and_stops(tmp_path):
    state = tmp_path / "cli.sqlite"
    company = _siret("77889900")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "odoo_chorus_rouen.sandbox",
            "--port",
            "0",
            "--state",
            str(state),
            "--supplier",
            f"{company}:CLI Company",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        url = next(line.split()[-1] for line in lines if "listening on" in line)
        assert url.startswith("http://127.0.0.1:")
        state_answer = requests.get(url + "/sandbox/state", timeout=5).json()
        assert state_answer["state_path"] == str(state)
        assert requests.get(url + "/sandbox/structures", params={"siret": company}, timeout=5).json()["structures"]
    finally:
        process.terminate()
        process.wait(10)
    assert process.returncode == 0, process.stderr.read()
    assert state.exists()
