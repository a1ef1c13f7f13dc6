"""``chorus-rouen send``: the journal is scoped to one platform and account, a run sends only what it names.

Each test is a story of issue #12 told with the real command (in-process) against local sandboxes.
"""

import sqlite3

import pytest

from odoo_chorus_rouen import cli
from odoo_chorus_rouen.core.outbox import Outbox, journal_scope
from odoo_chorus_rouen.sandbox import SandboxServer

PRINCIPAL = ("facturx_principal_invoice.pdf", "FAC-2026-0001")
WATER = ("cii_eau_invoice.xml", "FAC-2026-0003")


@pytest.fixture
def two_platforms():
    with SandboxServer() as first, SandboxServer() as second:
        yield first, second


@pytest.fixture
def chorus(tmp_path, monkeypatch, capsys):
    """``chorus(sandbox, *argv, password=None) -> (exit status, stdout, stderr)``, one journal per test."""
    monkeypatch.setenv("CHORUS_PRO_JOURNAL", str(tmp_path / "journal.sqlite3"))

    def run(sandbox, *argv, password=None):
        creds = sandbox.credentials
        monkeypatch.setenv("CHORUS_PRO_BASE_URL", sandbox.url)
        monkeypatch.setenv("CHORUS_PRO_CLIENT_ID", creds.client_id)
        monkeypatch.setenv("CHORUS_PRO_CLIENT_SECRET", creds.client_secret)
        monkeypatch.setenv("CHORUS_PRO_LOGIN", creds.login)
        monkeypatch.setenv("CHORUS_PRO_PASSWORD", password or creds.password)
        monkeypatch.setenv("CHORUS_PRO_TIMEOUT", "5")
        capsys.readouterr()
        status = cli.main(["send", *map(str, argv)])
        out = capsys.readouterr()
        return status, out.out, out.err

    return run


def test_same_file_to_another_platform_is_deposited_there(chorus, two_platforms, invoices_dir):
    first, second = two_platforms
    invoice = invoices_dir / PRINCIPAL[0]
    status, out, _ = chorus(first, invoice)
    assert status == 0 and "deposited as flow CPP" in out
    status, out, err = chorus(second, invoice)
    assert status == 0, err
    assert "deposited as flow CPP" in out
    # Before the journal was scoped, the second platform was told "deposited" and received nothing.
    assert second.deposits_of(PRINCIPAL[1]) == 1
    assert first.deposits_of(PRINCIPAL[1]) == 1
    # ... and on the first platform it is still exactly once.
    assert chorus(first, invoice)[0] == 0
    assert first.deposits_of(PRINCIPAL[1]) == 1


def test_entries_are_keyed_by_urls_client_id_and_login(tmp_path):
    path = str(tmp_path / "journal.sqlite3")
    scopes = [
        journal_scope("https://a/token", "https://a", "app", "TECH_1"),
        journal_scope("https://b/token", "https://a", "app", "TECH_1"),
        journal_scope("https://a/token", "https://b", "app", "TECH_1"),
        journal_scope("https://a/token", "https://a", "other", "TECH_1"),
        journal_scope("https://a/token", "https://a", "app", "TECH_2"),
    ]
    assert len(set(scopes)) == len(scopes)
    from odoo_chorus_rouen.sandbox.sample_invoices import make_cii

    first = Outbox(path, scope=scopes[0])
    first.add(make_cii("SC-1"))
    first._update("SC-1", state="sent", flow_number="CPP1")
    for scope in scopes[1:]:
        other = Outbox(path, scope=scope)
        assert other.items() == []
        assert other.add(make_cii("SC-1")).state == "queued"  # not "sent": nothing was deposited there
        other.close()
    assert first.get("SC-1").flow_number == "CPP1"
    first.close()


def test_a_run_sends_only_the_files_it_names(chorus, two_platforms, invoices_dir):
    first, second = two_platforms
    status, _, err = chorus(first, invoices_dir / WATER[0], password="typo")
    assert status == 2
    assert "refused the credentials" in err
    assert first.deposits_of(WATER[1]) == 0
    # Another invoice to another platform: the unnamed, failed one does not go along.
    status, out, err = chorus(second, invoices_dir / PRINCIPAL[0])
    assert status == 0, err
    assert WATER[1] not in out
    assert second.deposits_of(WATER[1]) == 0 and second.deposits_of(PRINCIPAL[1]) == 1
    # Nor on the first platform once the password is right.
    status, out, err = chorus(first, invoices_dir / PRINCIPAL[0])
    assert status == 0, err
    assert first.deposits_of(WATER[1]) == 0 and first.deposits_of(PRINCIPAL[1]) == 1


def test_pending_says_where_then_sends_what_earlier_runs_left(chorus, two_platforms, invoices_dir, tmp_path):
    first, second = two_platforms
    assert chorus(first, invoices_dir / WATER[0], password="typo")[0] == 2
    # --pending on another platform: nothing of the first one's.
    status, out, _ = chorus(second, "--pending")
    assert status == 0 and "No pending invoice for sandbox " + second.url in out
    assert second.deposits_of(WATER[1]) == 0
    status, out, err = chorus(first, "--pending")
    assert status == 0 and "No pending invoice" in out
    assert f"{WATER[1]} waits until " in out and "name its file to retry it now" in out  # its back-off
    journal = sqlite3.connect(tmp_path / "journal.sqlite3")
    with journal:
        journal.execute("UPDATE items SET next_try = 0")  # the back-off is over
    journal.close()
    status, out, err = chorus(first, "--pending")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"Sending 1 pending invoice(s) to sandbox {first.url} (client id ")
    assert lines[0].endswith(WATER[1])
    assert "deposited as flow CPP" in lines[1]
    assert first.deposits_of(WATER[1]) == 1


def test_send_without_files_nor_pending_is_a_usage_error(chorus, two_platforms):
    status, _, err = chorus(two_platforms[0])
    assert status == 2
    assert "give the invoice files to send, or --pending" in err


def test_naming_a_file_again_after_a_fix_retries_now(chorus, two_platforms, invoices_dir):
    sandbox = two_platforms[0]
    invoice = invoices_dir / WATER[0]
    status, out, err = chorus(sandbox, invoice, password="typo")
    assert status == 2
    assert err.splitlines()[-1].startswith("configuration: Chorus Pro (sandbox ")
    assert "CHORUS_PRO_PASSWORD" in err and "run the same command again" in err
    # The password fixed: no "will be retried", no waiting for the 30 s back-off.
    status, out, err = chorus(sandbox, invoice)
    assert status == 0, out + err
    assert f"invoice {WATER[1]} deposited as flow CPP" in out
    assert sandbox.deposits_of(WATER[1]) == 1


def test_a_wrong_url_then_the_right_one_deposits_now(chorus, two_platforms, invoices_dir, monkeypatch):
    sandbox = two_platforms[0]
    invoice = invoices_dir / WATER[0]
    monkeypatch.setenv("CHORUS_PRO_TIMEOUT", "2")

    class Closed:  # a port nothing listens on, with the sandbox's credentials
        url = "http://127.0.0.1:9"
        credentials = sandbox.credentials

    status, out, err = chorus(Closed, invoice)
    assert status == 2 and "not deposited" in out + err
    status, out, err = chorus(sandbox, invoice)
    assert status == 0, out + err
    assert sandbox.deposits_of(WATER[1]) == 1


def test_a_back_off_is_skipped_when_the_file_is_named_again(tmp_path):
    from odoo_chorus_rouen.sandbox.sample_invoices import make_cii

    box = Outbox(str(tmp_path / "j.sqlite3"), clock=lambda: 1000.0)
    item = box.add(make_cii("BO-1"))
    box._update(item.number, attempts=3, next_try=99999.0, error="HTTP 503")
    assert box.due() == []
    assert box.retry_now("BO-1").next_try == 0
    assert [i.number for i in box.due()] == ["BO-1"]
    # An uncertain deposit is made due too, but stays uncertain: Chorus Pro is asked before any deposit.
    box._update(item.number, state="sending", next_try=99999.0)
    assert box.retry_now("BO-1").state == "sending"
    assert box.get("BO-1").next_try == 0
    box.close()


def test_journal_of_an_earlier_version_loads_and_asks_the_platform_first(tmp_path, chorus, two_platforms,
                                                                         invoices_dir):
    """Entries written before scopes existed: kept, and a deposit they recorded is searched for, not assumed."""
    sandbox = two_platforms[0]
    path = tmp_path / "journal.sqlite3"
    # First deposit on the sandbox, then turn the journal back into the earlier (unscoped) layout.
    assert chorus(sandbox, invoices_dir / PRINCIPAL[0])[0] == 0
    db = sqlite3.connect(path)
    columns = [row[1] for row in db.execute("PRAGMA table_info(items)") if row[1] not in ("scope", "error_code")]
    db.executescript(
        f"CREATE TABLE old AS SELECT {', '.join(columns)} FROM items; DROP TABLE items;"
        "ALTER TABLE old RENAME TO items;"
    )
    db.close()
    status, out, err = chorus(sandbox, invoices_dir / PRINCIPAL[0])
    assert status == 0, out + err
    assert "deposited as flow CPP" in out
    assert sandbox.deposits_of(PRINCIPAL[1]) == 1  # found on the platform, adopted, not deposited again
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM items WHERE scope = ''").fetchone()[0] == 1  # kept
    db.close()


def test_track_with_a_wrong_password_is_a_configuration_error_with_the_fix(two_platforms, monkeypatch, capsys):
    sandbox = two_platforms[0]
    creds = sandbox.credentials
    for name, value in (("BASE_URL", sandbox.url), ("CLIENT_ID", creds.client_id),
                        ("CLIENT_SECRET", creds.client_secret), ("LOGIN", creds.login), ("PASSWORD", "typo")):
        monkeypatch.setenv(f"CHORUS_PRO_{name}", value)
    assert cli.main(["track", "--invoice", "FAC-2026-0001"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("chorus-rouen track: configuration: Chorus Pro refused the credentials")
    assert "CHORUS_PRO_PASSWORD" in err[0]


def test_send_due_takes_only_the_numbers_named_even_many(tmp_path):
    from odoo_chorus_rouen.sandbox.sample_invoices import make_cii

    with SandboxServer() as sandbox:
        from odoo_chorus_rouen.core.auth import Credentials, Endpoints
        from odoo_chorus_rouen.core.client import ChorusClient

        box = Outbox(str(tmp_path / "j.sqlite3"), lambda: ChorusClient(
            Credentials.coerce(sandbox.credentials), Endpoints.from_base_url(sandbox.url), timeout=5))
        for index in range(3):
            box.add(make_cii(f"MANY-{index}"))
        named = ["MANY-1"] + [f"NOT-IN-THE-JOURNAL-{index}" for index in range(1200)]
        assert box.send_due(numbers=named) == {"sent": 1}
        assert box.get("MANY-1").state == "sent"
        assert {box.get("MANY-0").state, box.get("MANY-2").state} == {"queued"}
        assert sandbox.deposits_of("MANY-0") == 0
        box.close()
