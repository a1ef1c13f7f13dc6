"""The client is right whichever reading the real platform uses (CHORUS_PRO_API.md §1.5, §3.3, §10).

Each variant is run against the sandbox's two readings (its switches) and its two personalities:
"no result" as ``codeRetour`` 20000 or as 0 with an empty list; functional errors on HTTP 200 or 400;
zero-valued optional criteria applied as filters or ignored; and every documented flow state, none of
the intermediate ones final, in the client, the outbox and the addon's sync.
"""

import itertools
from types import SimpleNamespace

import pytest
import requests

from odoo_chorus_rouen.core.auth import TokenCache
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.client_answers import FlowReport
from odoo_chorus_rouen.core.errors import ApiError
from odoo_chorus_rouen.core.outbox import Outbox
from odoo_chorus_rouen.core.status import FINAL_FLOW_STATES, FLOW_STATES, REJECTED_FLOW_STATES
from odoo_chorus_rouen.sandbox import SandboxServer
from odoo_chorus_rouen.sandbox.flows import FLOW_STAGES
from odoo_chorus_rouen.sandbox.qualification import QUALIFICATION_FLOW_STAGES
from odoo_chorus_rouen.sandbox.sample_invoices import make_invoice

PLATFORMS = {
    # personality -> (supplier, recipient) that the personality integrates
    "sandbox": ({"siret": "88412345600011"}, "20002341400101"),
    "qualification": ({"siret": "99000001000019", "name": "Fournisseur de qualification"}, "13000001100010"),
}
READINGS = list(itertools.product(PLATFORMS, (200, 400), (20000, 0), ("filter", "ignore")))
READING_IDS = [f"{p}-http{h}-empty{e}-zero_{z}" for p, h, e, z in READINGS]


@pytest.fixture(scope="module", params=READINGS, ids=READING_IDS)
def platform(request):
    personality, http, empty, zero = request.param
    with SandboxServer(platform=personality, functional_errors_http=http, empty_search_code=empty,
                       zero_criteria=zero) as sandbox:
        client = ChorusClient(sandbox.credentials, sandbox.url, token_cache=TokenCache(), timeout=10)
        supplier, recipient = PLATFORMS[personality]
        data, name, syntax = make_invoice(f"READ-{http}-{empty}", supplier=supplier, buyer_siret=recipient)
        flow = client.deposit_flow(data, name, syntax)
        yield SimpleNamespace(sandbox=sandbox, client=client, flow=flow, http=http, empty=empty, zero=zero,
                              personality=personality, number=f"READ-{http}-{empty}")
        client.close()


def test_no_result_is_an_empty_result_in_every_reading(platform):
    client = platform.client
    raw = requests.post(
        platform.sandbox.url + "/cpro/factures/v1/rechercher/fournisseur", json={"numeroFacture": "NOPE"},
        headers={"Authorization": f"Bearer {client._auth.token().access_token}",
                 "cpro-account": platform.sandbox.credentials.cpro_account}, timeout=5,
    )
    if platform.empty:  # the reading is really the one asked for
        assert (raw.status_code, raw.json()["codeRetour"]) == (platform.http, 20000)
    else:
        assert (raw.status_code, raw.json()["codeRetour"], raw.json()["listeFactures"]) == (200, 0, [])
    assert list(client.search_invoices(invoice_number="NOPE")) == []
    assert client.search_structures("20002341400028" if platform.personality == "qualification"
                                    else "13000001100010") == []


def test_a_functional_error_is_an_api_error_on_200_or_400(platform):
    with pytest.raises(ApiError) as err:
        platform.client.flow_report("CPP0011106000000000999999")
    assert (err.value.http_status, err.value.chorus_code) == (platform.http, 20000)
    assert not err.value.retryable


def test_zero_valued_criteria_never_hide_an_invoice_from_the_client(platform):
    client = platform.client
    found = [inv.number for inv in client.search_invoices(flow_number=platform.flow.flow_number)]
    assert found == [platform.number], "the client sends no zero-valued criterion"
    # What the switch does to a client that sends every criterion at its zero value (the Go client).
    raw = requests.post(
        platform.sandbox.url + "/cpro/factures/v1/rechercher/fournisseur",
        json={"numeroFluxDepot": platform.flow.flow_number, "montantTTCMin": 0, "montantTTCMax": 0, "idFournisseur": 0},
        headers={"Authorization": f"Bearer {client._auth.token().access_token}",
                 "cpro-account": platform.sandbox.credentials.cpro_account}, timeout=5,
    ).json()
    assert raw["parametresRetour"]["total"] == (1 if platform.zero == "ignore" else 0)


def test_the_attached_in_every_reading(platform):
    supplier, _recipient = PLATFORMS[platform.personality]
    assert supplier["siret"] in [s.identifier for s in platform.client.supplier_structures()]


@pytest.mark.parametrize("personality", list(PLATFORMS))
def test_no_attached_structure_is_an_empty_list(personality):
    for empty in (20000, 0):
        with SandboxServer(platform=personality, empty_search_code=empty, functional_errors_http=400) as sandbox:
            for structure in sandbox.structures():
                if structure["typeStructure"] == "PRIVEE":
                    requests.post(f"{sandbox.url}/sandbox/directory/{structure['identifiantStructure']}",
                                  json={"attached": False}, timeout=5).raise_for_status()
            with ChorusClient(sandbox.credentials, sandbox.url, token_cache=TokenCache(), timeout=10) as client:
                assert client.supplier_structures() == []


# --------------------------------------------------------------------------------------------------
# flow states: every documented one, none of the intermediate ones final
# --------------------------------------------------------------------------------------------------
INTERMEDIATE = sorted(set(FLOW_STATES) - FINAL_FLOW_STATES)


def test_intermediate_states_are_the_documented_ones_and_none_is_final():
    assert {"IN_RECU", "IN_TRAITE_SE_CPP", "IN_EN_ATTENTE_TRAITEMENT_CPP", "IN_EN_COURS_TRAITEMENT_CPP",
            "IN_EN_ATTENTE_RETRAITEMENT_CPP", "QP_RECEVABLE", "QP_RECEVABLE_AVEC_ERREUR",
            "IN_DEPOT_PORTAIL_EN_ATTENTE_TRAITEMENT_SE_CPP"} <= set(INTERMEDIATE)
    assert FINAL_FLOW_STATES == {"IN_INTEGRE", "IN_INTEGRE_PARTIEL", "IN_REJETE", "IN_INCIDENTE", "QP_IRRECEVABLE"}
    assert set(FLOW_STAGES) | set(QUALIFICATION_FLOW_STAGES) <= set(INTERMEDIATE), "the sandbox emits only these"
    assert REJECTED_FLOW_STATES == {"IN_REJETE", "IN_INCIDENTE", "QP_IRRECEVABLE"}


@pytest.mark.parametrize("state", sorted(FLOW_STATES))
def test_client_and_outbox_agree_on_every_flow_state(state, tmp_path):
    report = FlowReport(flow_number="CPP0011117000000000300001", state=state, state_date=None, deposit_date=None,
                        file_name=None)
    assert report.final is (state in FINAL_FLOW_STATES)
    if state == "IN_RECU":
        assert not report.final, "IN_RECU is not a success (one production client reads it so)"

    class Client:
        def flow_report(self, number):
            return report

    outbox = Outbox(str(tmp_path / "journal.sqlite3"))
    item = SimpleNamespace(flow_number=report.flow_number, flow_state=None)
    try:
        assert outbox._flow_pending(Client(), item) is (state not in FINAL_FLOW_STATES)
    finally:
        outbox.close()
