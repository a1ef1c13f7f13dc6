"""``chorus-rouen send`` and ``chorus-rouen doctor`` on the sandbox's qualification personality (issue 20)."""

import json

import pytest

from odoo_chorus_rouen import cli
from odoo_chorus_rouen.cli_recipient_map import QualificationMapper
from odoo_chorus_rouen.core.recipient_map import parse_map
from odoo_chorus_rouen.core.validation import validate
from odoo_chorus_rouen.core.validation_facts import read_facts
from odoo_chorus_rouen.core.validation_input import extract_xml
from odoo_chorus_rouen.sandbox import SandboxServer

PRINCIPAL_FILE, PRINCIPAL_NUMBER = "facturx_principal_invoice.pdf", "FAC-2026-0001"
TRANSPORTS_FILE = "facturx_transports_invoice.pdf"  # FAC-2026-0002, service code DIR-MOBILITES
TEST_SUPPLIER, NOT_ATTACHED = "99000001000019", "99000002800011"
TEST_EJ, TEST_SERVICE = "13000001100010", "13000002900012"


@pytest.fixture(scope="module")
def qualification():
    with SandboxServer(platform="qualification") as server:
        yield server


@pytest.fixture
def chorus(tmp_path, monkeypatch, capsys, qualification):
    """``chorus(*argv) -> (exit status, stdout, stderr)`` against the qualification sandbox, one journal per test."""
    monkeypatch.setenv("CHORUS_PRO_JOURNAL", str(tmp_path / "journal.sqlite3"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    creds = qualification.credentials
    for key, value in (("BASE_URL", qualification.url), ("CLIENT_ID", creds.client_id),
                       ("CLIENT_SECRET", creds.client_secret), ("LOGIN", creds.login),
                       ("PASSWORD", creds.password), ("TIMEOUT", "10")):
        monkeypatch.setenv(f"CHORUS_PRO_{key}", value)
    for key in ("CHORUS_PRO_RECIPIENT_MAP", "CHORUS_PRO_TEST_SUPPLIER", "CHORUS_PRO_ENV"):
        monkeypatch.delenv(key, raising=False)

    def run(*argv):
        capsys.readouterr()
        status = cli.main([*map(str, argv)])
        out = capsys.readouterr()
        return status, out.out, out.err

    return run


def deposited_facts(sandbox, number):
    deposit = [d for d in sandbox.deposits(number) if d["numeroFluxDepot"]][-1]
    fmt, xml = extract_xml(sandbox.flow_file(deposit["numeroFluxDepot"]))
    return read_facts(xml, fmt), deposit["numeroFluxDepot"]


def test_without_a_map_a_recipient_the_platform_lacks_is_refused_before_any_deposit(chorus, qualification,
                                                                                  invoices_dir):
    before = len(qualification.deposits())
    status, out, err = chorus("send", "--test-supplier", TEST_SUPPLIER, invoices_dir / PRINCIPAL_FILE)
    assert status == 2
    assert "does not hold the recipient Budget Principal (SIRET 200 023 414 00101)" in err
    assert "--recipient-map 20002341400101=TEST_SIRET" in err and "CHORUS_PRO_RECIPIENT_MAP" in err
    assert len(qualification.deposits()) == before, "nothing deposited"


def test_an_unattached_supplier_is_refused_before_any_deposit(chorus, qualification, invoices_dir):
    before = len(qualification.deposits())
    status, _out, err = chorus("send", "--recipient-map", f"20002341400101={TEST_EJ}", invoices_dir / PRINCIPAL_FILE)
    assert status == 2
    assert "the supplier SIRET 884 123 456 00011 is not attached to the technical account" in err
    assert "--test-supplier" in err and "990 000 010 00019" in err
    status, _out, err = chorus("send", "--recipient-map", f"20002341400101={TEST_EJ}", "--test-supplier",
                               NOT_ATTACHED, invoices_dir / PRINCIPAL_FILE)
    assert status == 2 and "990 000 028 00011 is not attached" in err
    assert len(qualification.deposits()) == before


def test_with_the_map_the_test_recipient_gets_it_and_the_output_says_so(chorus, qualification, invoices_dir):
    status, out, err = chorus("send", "--recipient-map", f"200 023 414 00101={TEST_EJ}", "--test-supplier",
                              TEST_SUPPLIER, invoices_dir / PRINCIPAL_FILE)
    assert status == 0, err
    assert ("sandbox: sent to test recipient 130 000 011 00010 instead of Budget Principal (SIRET 200 023 414 00101); "
            "from test supplier 990 000 010 00019 instead of 884 123 456 00011") in out
    assert "deposited as flow CPP" in out
    facts, flow = deposited_facts(qualification, PRINCIPAL_NUMBER)
    assert (facts.buyer_siret, facts.seller_siret) == (TEST_EJ, TEST_SUPPLIER)
    assert qualification.flow(flow)["etatCourantDepotFlux"] == "IN_INTEGRE"
    deposits = qualification.deposits_of(PRINCIPAL_NUMBER)
    # The same command again: the journal knows the (mapped) file, nothing is deposited twice.
    status, out, _err = chorus("send", "--recipient-map", f"20002341400101={TEST_EJ}", "--test-supplier",
                               TEST_SUPPLIER, invoices_dir / PRINCIPAL_FILE)
    assert status == 0 and "deposited as flow" in out
    assert qualification.deposits_of(PRINCIPAL_NUMBER) == deposits


def test_the_map_from_the_environment_with_a_test_service_code(chorus, qualification, invoices_dir, monkeypatch):
    monkeypatch.setenv("CHORUS_PRO_RECIPIENT_MAP", f"20002341400036={TEST_SERVICE}:SERVICE_QUALIF")
    monkeypatch.setenv("CHORUS_PRO_TEST_SUPPLIER", TEST_SUPPLIER)
    status, out, err = chorus("send", invoices_dir / TRANSPORTS_FILE)
    assert status == 0, err
    assert "service code SERVICE_QUALIF" in out
    facts, flow = deposited_facts(qualification, "FAC-2026-0002")
    assert (facts.buyer_siret, facts.service_code) == (TEST_SERVICE, "SERVICE_QUALIF")
    assert qualification.flow(flow)["etatCourantDepotFlux"] == "IN_INTEGRE"


@pytest.mark.parametrize(
    ("argv", "variable", "says"),
    [
        (["--recipient-map", "20002341400101=123"], None, "the test SIRET 123 is not a valid SIRET"),
        (["--recipient-map", "nonsense"], None, "expected REAL_SIRET=TEST_SIRET"),
        ([], "20002341400101=13000001100010,oops", "recipient map oops"),
        (["--test-supplier", "1234"], None, "--test-supplier 1234: not a valid SIRET"),
    ],
)
def test_bad_maps_are_usage_errors(chorus, qualification, invoices_dir, monkeypatch, argv, variable, says):
    if variable:
        monkeypatch.setenv("CHORUS_PRO_RECIPIENT_MAP", variable)
    before = len(qualification.deposits())
    status, _out, err = chorus("send", *argv, invoices_dir / PRINCIPAL_FILE)
    assert status == 2 and says in err
    assert len(qualification.deposits()) == before


def test_production_never_maps(read_sample):
    data = read_sample(PRINCIPAL_FILE)
    facts = validate(data).facts
    mapper = QualificationMapper("production", parse_map([f"20002341400101={TEST_EJ}"]), TEST_SUPPLIER)

    class NoNetwork:
        def __getattr__(self, name):
            raise AssertionError("production needs no look-up")

    assert mapper.prepare(data, facts, NoNetwork()).data == data
    assert "not used" in mapper.production_note()
    assert QualificationMapper("production", parse_map([]), None).production_note() == ""


# --------------------------------------------------------------------------------------------------
# doctor
# --------------------------------------------------------------------------------------------------
def test_doctor_names_what_is_missing_on_qualification(chorus, tmp_path):
    status, out, _err = chorus("doctor", "--supplier", "88412345600011")
    assert status == 1
    lines = out.splitlines()
    assert lines[0].startswith("ok      settings: platform sandbox")
    assert "ok      access token: obtained" in out
    assert "ok      technical account TECH_1_sandbox@cpro.fr: accepted" in out
    assert ("FAILED  supplier 884 123 456 00011: not on this platform: use the test supplier of your data set "
            "(--supplier, CHORUS_PRO_TEST_SUPPLIER); attached to the account: 990 000 010 00019") in out
    assert "FAILED  recipient Budget Principal (SIRET 200 023 414 00101): not on this platform: map it" in out
    assert "technical account password: expires on" in out and "(in 424 days)" in out


def test_doctor_passes_with_the_data_set_and_keeps_the_raw_answers_without_secrets(chorus, tmp_path, qualification):
    log = tmp_path / "evidence.log"
    status, out, err = chorus("doctor", "--supplier", TEST_SUPPLIER, "--log", log,
                              "--recipient-map", f"20002341400101={TEST_EJ}",
                              "--recipient-map", f"20002341400036={TEST_SERVICE}:SERVICE_QUALIF")
    assert status == 0, out + err
    assert "ok      supplier 990 000 010 00019 (Fournisseur de qualification (jeu de données)): on Chorus Pro and " \
           "attached to the technical account" in out
    assert "ok      test recipient 130 000 011 00010 for Budget Principal (SIRET 200 023 414 00101): known, " \
           "engagement number required" in out
    assert f"Raw answers of the platform: {log}" in out
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert {r["operation"] for r in records} >= {"recupererStructuresActivesPourFournisseur", "rechercherStructure",
                                                "consulterStructure", "rechercherServicesStructure"}
    text = log.read_text()
    for secret in (qualification.credentials.client_secret, qualification.credentials.password):
        assert secret not in text


def test_doctor_reports_an_unattached_supplier_and_a_wrong_map(chorus):
    status, out, _err = chorus("doctor", "--supplier", NOT_ATTACHED, "--recipient-map",
                               f"20002341400036={TEST_SERVICE}")
    assert status == 1
    assert ("FAILED  supplier 990 000 028 00011 (Structure privée non rattachée au compte technique): on Chorus Pro "
            "but not attached to the technical account TECH_1_sandbox@cpro.fr") in out
    assert "it requires a service code: give it in the map (REAL=TEST:SERVICE)" in out


def test_doctor_refused_password_and_missing_settings(chorus, monkeypatch):
    monkeypatch.setenv("CHORUS_PRO_PASSWORD", "wrong")
    status, out, _err = chorus("doctor")
    assert status == 1
    assert "FAILED  technical account TECH_1_sandbox@cpro.fr: refused by Chorus Pro" in out
    monkeypatch.delenv("CHORUS_PRO_CLIENT_SECRET")
    status, out, _err = chorus("doctor")
    assert status == 2 and "FAILED  settings: missing credentials: client secret" in out


def test_doctor_on_the_default_sandbox_checks_the_eight_budgets(tmp_path, monkeypatch, capsys):
    with SandboxServer() as sandbox:
        creds = sandbox.credentials
        for key, value in (("BASE_URL", sandbox.url), ("CLIENT_ID", creds.client_id), ("LOGIN", creds.login),
                           ("CLIENT_SECRET", creds.client_secret), ("PASSWORD", creds.password)):
            monkeypatch.setenv(f"CHORUS_PRO_{key}", value)
        monkeypatch.delenv("CHORUS_PRO_RECIPIENT_MAP", raising=False)
        status = cli.main(["doctor", "--supplier", "88412345600011", "--log", str(tmp_path / "d.log")])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.count("ok      recipient Budget") == 8
    assert "Budget annexe des Transports (SIRET 200 023 414 00036): known, engagement number required, service " \
           "code required" in out


def test_doctor_tells_a_refused_application_from_an_unreachable_platform(chorus, monkeypatch):
    monkeypatch.setenv("CHORUS_PRO_CLIENT_SECRET", "wrong")
    status, out, _err = chorus("doctor")
    assert status == 1
    assert "FAILED  access token: PISTE refused the application credentials" in out
    assert "check the client id and secret" in out
    monkeypatch.setenv("CHORUS_PRO_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    status, out, _err = chorus("doctor", "--timeout", "3")
    assert status == 1
    assert "FAILED  platform: cannot be reached" in out and "access token" not in out
