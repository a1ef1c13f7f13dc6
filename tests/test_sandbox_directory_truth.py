"""The sandbox's control API changes what its directory says of a SIRET (requirements, status), and the
platform side (directory answers and deposit checks) follows at once."""

from __future__ import annotations

import pytest
import requests

from odoo_chorus_rouen.core.auth import TokenCache
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.payload import build_deposit
from odoo_chorus_rouen.sandbox import SandboxServer
from odoo_chorus_rouen.sandbox.directory_truth import set_truth, truth_of
from odoo_chorus_rouen.sandbox.sample_invoices import make_cii

PRINCIPAL = "20002341400101"  # requires an engagement number, no service code
WATER = "20002341400069"


@pytest.fixture
def sandbox():
    with SandboxServer(port=0, state_path=":memory:", processing_delay=0) as server:
        yield server


@pytest.fixture
def client(sandbox):
    with ChorusClient(sandbox.credentials, sandbox.url, token_cache=TokenCache(), sleep=lambda _s: None,
                      timeout=10.0) as chorus:
        yield chorus


def control(sandbox, method, siret, body=None):
    answer = requests.request(method, f"{sandbox.url}/sandbox/directory/{siret}", json=body, timeout=10)
    return answer.status_code, answer.json()


def deposit_state(client, number, **options):
    data = make_cii(number, **options)
    body = build_deposit(data, f"{number}.xml")
    flow = client.deposit_flow(data, body["nomFichier"], body["syntaxeFlux"], body=body).flow_number
    report = client.flow_report(flow)
    return report.state, " ".join(dp.message or "" for dp in report.dp_errors)


def test_get_tells_the_current_truth(sandbox):
    status, body = control(sandbox, "GET", PRINCIPAL)
    assert status == 200
    assert body["siret"] == PRINCIPAL
    assert body["engagement_required"] is True
    assert body["service_code_required"] is False
    assert body["active"] is True


def test_a_service_code_required_after_the_fact_shows_in_the_directory_and_rejects_deposits(sandbox, client):
    state, _ = deposit_state(client, "FAC-T-0001", buyer_siret=PRINCIPAL)
    assert state == "IN_INTEGRE"
    status, body = control(sandbox, "POST", PRINCIPAL, {"service_code_required": True})
    assert status == 200 and body["service_code_required"] is True and body["engagement_required"] is True
    structure = client.search_structures(PRINCIPAL)[0]
    assert client.get_structure(structure.structure_id).requirements.service_code is True
    state, messages = deposit_state(client, "FAC-T-0002", buyer_siret=PRINCIPAL)
    assert state == "IN_REJETE"
    assert "code service" in messages.lower()
    # and back: the same invoice without a service code passes again
    control(sandbox, "POST", PRINCIPAL, {"service_code_required": False})
    assert deposit_state(client, "FAC-T-0003", buyer_siret=PRINCIPAL)[0] == "IN_INTEGRE"


def test_engagement_no_longer_required_and_inactive_structure(sandbox, client):
    control(sandbox, "POST", WATER, {"engagement_required": False})
    assert deposit_state(client, "FAC-T-0010", buyer_siret=WATER, engagement=None)[0] == "IN_INTEGRE"
    status, body = control(sandbox, "POST", WATER, {"active": False})
    assert status == 200 and body["active"] is False
    assert client.search_structures(WATER)[0].active is False
    assert deposit_state(client, "FAC-T-0011", buyer_siret=WATER)[0] == "IN_REJETE"


def test_chorus_names_and_python_api(sandbox):
    truth = set_truth(sandbox.store, PRINCIPAL, {"gestionNumeroEJOuCodeService": True, "statut": "INACTIVE"})
    assert truth["service_or_engagement_required"] is True and truth["active"] is False
    assert truth_of(sandbox.store, PRINCIPAL) == truth


@pytest.mark.parametrize(
    ("siret", "body", "status", "fragment"),
    [
        (PRINCIPAL, {"service_code": True}, 400, "unknown key"),
        (PRINCIPAL, {"active": "maybe"}, 400, "active must be true or false"),
        (PRINCIPAL, {}, 400, "expected"),
        ("99999999999999", {"active": False}, 404, "no structure"),
    ],
)
def test_bad_requests_say_what_is_wrong(sandbox, siret, body, status, fragment):
    code, answer = control(sandbox, "POST", siret, body)
    assert code == status
    assert fragment in answer["error"]
    assert truth_of(sandbox.store, PRINCIPAL)["active"] is True  # nothing changed
