"""The sandbox's qualification personality: only a data set, the supplier's attachment, more flow states."""

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from odoo_chorus_rouen.core.auth import TokenCache
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.status import FINAL_FLOW_STATES, flow_status
from odoo_chorus_rouen.sandbox import SandboxServer
from odoo_chorus_rouen.sandbox.qualification import QUALIFICATION_FLOW_STAGES
from odoo_chorus_rouen.sandbox.sample_invoices import make_invoice

ROOT = Path(__file__).resolve().parent.parent
TEST_SUPPLIER = {"name": "Fournisseur de qualification", "siret": "99000001000019"}
NOT_ATTACHED = {"name": "Structure non rattachee", "siret": "99000002800011"}
TEST_RECIPIENT_EJ = "13000001100010"


@pytest.fixture
def qualification():
    with SandboxServer(platform="qualification") as server:
        yield server


def client_of(sandbox):
    return ChorusClient(sandbox.credentials, sandbox.url, token_cache=TokenCache(), timeout=10)


def deposit(client, number, **options):
    data, name, syntax = make_invoice(number, **options)
    return client.deposit_flow(data, name, syntax)


def test_only_the_data_set_no_metropole(qualification):
    with client_of(qualification) as client:
        assert client.search_structures("20002341400101") == []
        assert client.search_structures("88412345600011") == []  # no demo supplier either
        assert [s.identifier for s in client.search_structures(TEST_RECIPIENT_EJ)] == [TEST_RECIPIENT_EJ]
        attached = client.supplier_structures()
        assert [s.identifier for s in attached] == [TEST_SUPPLIER["siret"]]


def test_a_test_invoice_is_integrated(qualification):
    with client_of(qualification) as client:
        flow = deposit(client, "QUAL-0001", supplier=TEST_SUPPLIER, buyer_siret=TEST_RECIPIENT_EJ)
        report = client.flow_report(flow.flow_number)
        assert report.state == "IN_INTEGRE", report.dp_errors
        assert [i.number for i in client.search_invoices(flow_number=flow.flow_number)] == ["QUAL-0001"]


def test_a_real_recipient_is_refused_in_the_report(qualification):
    with client_of(qualification) as client:
        flow = deposit(client, "QUAL-0002", supplier=TEST_SUPPLIER)  # to the Budget Principal
        report = client.flow_report(flow.flow_number)
        assert report.state == "IN_REJETE"
        assert "destinataire" in report.dp_errors[0].message and "n'est pas reference" in report.dp_errors[0].message


def test_an_unattached_supplier_is_refused_in_the_report_as_the_platform_would(qualification):
    with client_of(qualification) as client:
        flow = deposit(client, "QUAL-0003", supplier=NOT_ATTACHED, buyer_siret=TEST_RECIPIENT_EJ)
        assert flow.flow_number, "the deposit itself is only acknowledged"
        report = client.flow_report(flow.flow_number)
        assert report.state == "IN_REJETE"
        (error,) = report.dp_errors
        assert error.supplier_id == NOT_ATTACHED["siret"]
        assert "n'est pas rattachee au compte technique" in error.message
        assert "rattacher la structure a ce compte technique sur le portail Chorus Pro" in error.message


def test_attachment_can_change_and_is_enforced_by_the_default_personality_too():
    with SandboxServer() as sandbox, client_of(sandbox) as client:
        answer = requests.post(f"{sandbox.url}/sandbox/directory/88412345600011", json={"attached": False}, timeout=5)
        assert answer.status_code == 200 and answer.json()["attached"] is False
        assert client.supplier_structures()[0].identifier == "51234567900017"
        flow = deposit(client, "QUAL-0004")
        assert client.flow_report(flow.flow_number).state == "IN_REJETE"


def test_every_processing_state_is_emitted_in_order_and_none_is_final():
    with SandboxServer(platform="qualification", processing_delay=60) as sandbox, client_of(sandbox) as client:
        flow = deposit(client, "QUAL-0005", supplier=TEST_SUPPLIER, buyer_siret=TEST_RECIPIENT_EJ)
        seen = []
        for _ in range(len(QUALIFICATION_FLOW_STAGES) + 1):
            report = client.flow_report(flow.flow_number)
            seen.append(report.state)
            assert report.final is (report.state in FINAL_FLOW_STATES)
            sandbox.advance(30)  # 3 x 60 s of processing shared by 6 states: 30 s each
        assert seen[: len(QUALIFICATION_FLOW_STAGES)] == list(QUALIFICATION_FLOW_STAGES)
        assert seen[-1] == "IN_INTEGRE"
        assert not any(flow_status(state).final for state in QUALIFICATION_FLOW_STAGES)


def test_a_flow_with_schema_errors_is_receivable_with_errors_then_rejected():
    with SandboxServer(platform="qualification", processing_delay=60) as sandbox, client_of(sandbox) as client:
        data, name, syntax = make_invoice("QUAL-0006", supplier=TEST_SUPPLIER, buyer_siret=TEST_RECIPIENT_EJ)
        broken = data.replace(b"<ram:TypeCode>380</ram:TypeCode>", b"<ram:TypeCode>380</ram:TypeCode><ram:Oops/>")
        flow = client.deposit_flow(broken, name, syntax)
        sandbox.advance(91)
        assert client.flow_report(flow.flow_number).state == "QP_RECEVABLE_AVEC_ERREUR"
        sandbox.advance(120)
        assert client.flow_report(flow.flow_number).state == "IN_REJETE"


def test_password_lasts_424_days(qualification):
    account = requests.get(f"{qualification.url}/sandbox/technical-account", timeout=5).json()
    days = (qualification.engine.store.get_meta("technical_account", {}) or {}).get("expires_at")
    assert days is None and account["status"] == "active"
    with client_of(qualification) as client:
        structure = client.supplier_structures()[0]
        expiry = client.get_structure(structure.structure_id).technical_password_expiry
    assert round((expiry.timestamp() - qualification.now()) / 86400) == 424


def test_a_state_file_keeps_its_personality(tmp_path):
    state = tmp_path / "qualification.sqlite3"
    with SandboxServer(state_path=state, platform="qualification"):
        pass
    with pytest.raises(ValueError, match="holds a qualification sandbox, not a sandbox one: give --platform"):
        SandboxServer(state_path=state)
    with SandboxServer(state_path=state, platform="qualification") as again:
        assert again.config()["platform"] == "qualification"
        again.reset()
        assert again.structures("20002341400101") == []  # the reset brings the data set back, not the Métropole


def test_command_prints_the_data_set_like_the_credentials(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "odoo_chorus_rouen.sandbox", "--port", "0", "--platform", "qualification"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = []
        while not lines or "Press Ctrl-C" not in lines[-1]:
            lines.append(process.stdout.readline())
            assert len(lines) < 40, lines
    finally:
        process.terminate()
        process.wait(10)
    text = "".join(lines)
    assert "  password       sandbox-password" in text
    assert f"  test_supplier_siret  {TEST_SUPPLIER['siret']}" in text
    assert f"  test_recipient_siret {TEST_RECIPIENT_EJ}  (" in text
    assert text.count("test_recipient_siret") == 3
    assert "20002341400101" not in text


def test_command_refuses_an_unknown_platform():
    result = subprocess.run([sys.executable, "-m", "odoo_chorus_rouen.sandbox", "--platform", "production"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "invalid choice" in result.stderr
