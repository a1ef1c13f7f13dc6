"""The technical account's password: expiry date from consulterStructure, refusal once expired or locked.

Against the sandbox: its control API expires, locks or renews the account; the client reads the
date; a call answered 401 twice only makes the account suspected, and the dedicated check (a new
token, then a cheap read) alone says whether it is refused, in the core and in ``chorus-rouen send``.
"""

import json
import urllib.request
from datetime import date, timedelta

import pytest

from odoo_chorus_rouen import cli
from odoo_chorus_rouen.core import technical_account
from odoo_chorus_rouen.core.auth import Credentials, TokenCache
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.client_completion import technical_account_expiry
from odoo_chorus_rouen.core.errors import ApiError, AuthenticationError, TransportError
from odoo_chorus_rouen.sandbox import SandboxServer

SUPPLIER_SIRET = "88412345600011"


@pytest.fixture
def sandbox(tmp_path):
    with SandboxServer(port=0, state_path=str(tmp_path / "state.sqlite"), processing_delay=0) as server:
        yield server


def make_client(sandbox, password=None):
    credentials = sandbox.credentials.as_dict()
    if password:
        credentials["password"] = password
    return ChorusClient(Credentials(**credentials), sandbox.url, token_cache=TokenCache(), timeout=10.0,
                        sleep=lambda _s: None)


def control(sandbox, path, payload=None):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(sandbox.url + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback sandbox
        return json.loads(answer.read())


def test_expiry_date_comes_from_consulter_structure(sandbox):
    state = control(sandbox, "/sandbox/technical-account", {"expires_at": "2027-03-31T00:00:00+02:00"})
    assert state["status"] == "active" and state["expires_at"].startswith("2027-03-31")
    with make_client(sandbox) as client:
        expiry = technical_account_expiry(client, SUPPLIER_SIRET)
        assert expiry.date() == date(2027, 3, 31)
        assert technical_account_expiry(client, "12345678901234") is None  # unknown SIRET: no date


def test_expired_or_locked_account_is_refused_like_a_wrong_password(sandbox):
    with make_client(sandbox) as client:
        assert client.search_structures(SUPPLIER_SIRET)
        assert control(sandbox, "/sandbox/technical-account", {"expire": True})["status"] == "expired"
        with pytest.raises(AuthenticationError) as caught:
            client.search_structures(SUPPLIER_SIRET)
        assert technical_account.is_account_suspected(caught.value)
        assert "login or password incorrects" in caught.value.params["reason"]
        # A new password (as on the portal): the old one stays refused, the new one works.
        state = control(sandbox, "/sandbox/technical-account", {"password": "new-password-2027"})
        assert state["status"] == "active"
        with pytest.raises(AuthenticationError):
            client.search_structures(SUPPLIER_SIRET)
    with make_client(sandbox, "new-password-2027") as client:
        assert client.search_structures(SUPPLIER_SIRET)
        control(sandbox, "/sandbox/technical-account", {"lock": True})
        with pytest.raises(AuthenticationError) as caught:
            client.search_structures(SUPPLIER_SIRET)
        assert technical_account.is_account_suspected(caught.value)
        control(sandbox, "/sandbox/technical-account", {"unlock": True})
        assert client.search_structures(SUPPLIER_SIRET)


def test_account_state_survives_a_restart_and_reset_restores_it(tmp_path):
    path = str(tmp_path / "state.sqlite")
    with SandboxServer(port=0, state_path=path) as sandbox:
        control(sandbox, "/sandbox/technical-account", {"password": "renewed"})
        control(sandbox, "/sandbox/technical-account", {"expires_in_days": 7})
    with SandboxServer(port=0, state_path=path) as sandbox:
        assert sandbox.credentials.password == "renewed"
        state = control(sandbox, "/sandbox/technical-account")
        assert state["expiry_set"] and state["status"] == "active"
        sandbox.advance(8 * 86400)
        assert control(sandbox, "/sandbox/technical-account")["status"] == "expired"
        sandbox.reset()
        assert sandbox.credentials.password == "sandbox-password"
        assert control(sandbox, "/sandbox/technical-account")["status"] == "active"


def test_bad_control_requests_are_explained(sandbox):
    with pytest.raises(urllib.error.HTTPError) as caught:
        control(sandbox, "/sandbox/technical-account", {"explode": True})
    assert caught.value.code == 400
    assert "expected one of" in json.loads(caught.value.read())["error"]


def test_what_is_not_the_technical_account():
    assert not technical_account.is_account_suspected(
        AuthenticationError(params={"http_status": 400, "operation": "token", "reason": "invalid_client"}))
    assert not technical_account.is_account_suspected(TransportError(params={"reason": "down"}))
    assert not technical_account.is_account_suspected(ApiError(http_status=401))


def test_reminders_once_per_threshold():
    expiry = date(2026, 6, 30)
    sent = []
    for offset in range(40, -3, -1):
        today = expiry - timedelta(days=offset)
        due = technical_account.due_reminder(expiry, today, sent)
        if due:
            sent.append(due)
    assert sent == [30, 7, 1]
    # A job that did not run for weeks sends only the nearest warning.
    assert technical_account.due_reminder(expiry, expiry - timedelta(days=3), ()) == 7
    assert technical_account.due_reminder(None, expiry, ()) is None
    assert technical_account.days_left(expiry, expiry) == 0


# --- the dedicated check (issue 18, point 0) ------------------------------------------------------------------


def test_token_expiring_twice_on_a_call_is_a_suspicion_the_check_clears(sandbox):
    with make_client(sandbox) as client:
        assert client.search_structures(SUPPLIER_SIRET)  # a token is cached
        sandbox.inject_fault("expire_token", count=2, operation="deposerFluxFacture")
        with pytest.raises(AuthenticationError) as caught:
            client.deposit_flow(b"%PDF-1.7", "F-1.pdf", "IN_DP_E2_CII_FACTURX")
        assert technical_account.is_account_suspected(caught.value)
        assert "expired" in caught.value.params["reason"]
        check = technical_account.check_account(client, SUPPLIER_SIRET)
    assert (check.outcome, check.operation, check.answer) == ("passed", "rechercherStructure", "")


def test_check_fetches_a_new_token_and_reads_with_the_account(sandbox):
    with make_client(sandbox) as client:
        client.search_structures(SUPPLIER_SIRET)
        tokens = sandbox.calls().get("token", 0)
        sandbox.inject_fault("expire_token", operation="rechercherStructure")  # the check's first read
        check = technical_account.check_account(client, SUPPLIER_SIRET)
        assert check.passed, check
        # Its own new token, then another one after the 401 of the fault; the business client's is untouched.
        assert sandbox.calls()["token"] == tokens + 2
        control(sandbox, "/sandbox/technical-account", {"lock": True})
        check = technical_account.check_account(client, SUPPLIER_SIRET)
        assert check.refused
        assert check.answer == "HTTP 401, login or password incorrects"
        assert technical_account.check_account(client).refused, "the health check is the read without a SIRET"
        control(sandbox, "/sandbox/technical-account", {"unlock": True})
        assert technical_account.check_account(client, SUPPLIER_SIRET).passed


def test_check_that_cannot_be_made_says_nothing_about_the_account(sandbox):
    with make_client(sandbox) as client:
        sandbox.inject_fault("http_503", count=5, operation="rechercherStructure")
        check = technical_account.check_account(client, SUPPLIER_SIRET)
        assert check.outcome == "failed" and "503" in check.answer
    credentials = sandbox.credentials.as_dict()
    credentials["client_secret"] = "wrong-secret"
    with ChorusClient(Credentials(**credentials), sandbox.url, token_cache=TokenCache(), timeout=10.0) as client:
        check = technical_account.check_account(client, SUPPLIER_SIRET)
    assert (check.outcome, check.operation) == ("failed", "token"), "PISTE refused the application, not the account"


@pytest.fixture
def send(sandbox, tmp_path, monkeypatch, capsys, invoices_dir):
    """``send() -> (exit status, stdout, stderr)``: ``chorus-rouen send`` of one valid invoice to the sandbox."""
    creds = sandbox.credentials
    for name, value in (("BASE_URL", sandbox.url), ("CLIENT_ID", creds.client_id),
                        ("CLIENT_SECRET", creds.client_secret), ("LOGIN", creds.login),
                        ("PASSWORD", creds.password), ("JOURNAL", str(tmp_path / "journal.sqlite3")),
                        ("TIMEOUT", "5")):
        monkeypatch.setenv(f"CHORUS_PRO_{name}", value)

    def run():
        capsys.readouterr()
        status = cli.main(["send", str(invoices_dir / "facturx_principal_invoice.pdf")])
        out = capsys.readouterr()
        return status, out.out, out.err

    return run


def test_send_does_not_call_a_token_expired_twice_refused_credentials(sandbox, send):
    sandbox.inject_fault("expire_token", count=2, operation="deposerFluxFacture")
    sandbox.inject_fault("expire_token", count=1, operation="rechercherFactureParFournisseur")
    status, out, err = send()
    assert status == 2
    assert "refused the credentials" not in err and "refused the technical account" not in err
    assert "FAC-2026-0001 not deposited: the gateway refused the deposit, but" in err
    assert "but a check of the credentials right after, with a new access token, passed" in err
    assert "Name the file again to retry now" in err
    assert len(err.strip().splitlines()) == 1
    assert sandbox.deposits_of("FAC-2026-0001") == 0
    status, out, err = send()
    assert status == 0, err
    assert "deposited as flow CPP" in out and sandbox.deposits_of("FAC-2026-0001") == 1


def test_send_with_a_locked_account_says_what_the_check_observed(sandbox, send):
    control(sandbox, "/sandbox/technical-account", {"lock": True})
    status, _out, err = send()
    assert status == 2
    lines = err.strip().splitlines()
    assert lines[0].endswith("FAC-2026-0001 not deposited: Chorus Pro refused the technical account: a check with "
                             "a new access token (rechercherStructure) was answered HTTP 401, login or password "
                             "incorrects")
    assert lines[1].startswith("configuration: Chorus Pro (sandbox")
    assert sandbox.deposits_of("FAC-2026-0001") == 0
