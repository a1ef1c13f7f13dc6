"""``chorus-rouen track --invoice``: the payment delay, days late and amounts due, from a dated history.

It tells only the truth (issue 18, point 3): a credit note has no delay, a payment initiated before the
invoice was made available is on time, a missing ECB rate leaves the days late and the indemnity, and
``--ecb-rate`` / ``--delay`` out of range are usage errors (exit 2).
"""

import pytest
import requests

from odoo_chorus_rouen import cli
from odoo_chorus_rouen.core.auth import TokenCache
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.sandbox import SandboxServer
from odoo_chorus_rouen.sandbox.sample_invoices import make_cii


@pytest.fixture
def sandbox(monkeypatch):
    with SandboxServer(port=0, state_path=":memory:", processing_delay=0) as server:
        creds = server.credentials
        for name, value in {
            "CHORUS_PRO_BASE_URL": server.url, "CHORUS_PRO_CLIENT_ID": creds.client_id,
            "CHORUS_PRO_CLIENT_SECRET": creds.client_secret, "CHORUS_PRO_LOGIN": creds.login,
            "CHORUS_PRO_PASSWORD": creds.password,
        }.items():
            monkeypatch.setenv(name, value)
        yield server


def _history(sandbox, chorus_id, entries):
    answer = requests.post(f"{sandbox.url}/sandbox/invoices/{chorus_id}/history",
                           json={"entries": entries, "replace": True}, timeout=5)
    assert answer.status_code == 200, answer.text


def _invoice(sandbox, entries):
    seeded = sandbox.seed_invoices(1, prefix="LATE-", amount_ht="10000.00")  # 12,000.00 including VAT
    _history(sandbox, seeded["first_id"], entries)
    return sandbox.invoice(seeded["first_id"])["numeroFacture"]


def _track(capsys, *argv):
    """``(exit status, stdout, stderr)`` of ``chorus-rouen track`` (argparse's usage errors included)."""
    capsys.readouterr()
    try:
        status = cli.main(["track", *argv])
    except SystemExit as stop:
        status = stop.code
    out = capsys.readouterr()
    return status, out.out, out.err


def test_paid_late_prints_days_and_amounts(sandbox, capsys):
    number = _invoice(sandbox, [{"status": "MISE_A_DISPOSITION", "at": "2026-03-02"},
                                {"status": "MISE_EN_PAIEMENT", "at": "2026-04-20"}])
    assert cli.main(["track", "--invoice", number]) == 0
    out = capsys.readouterr().out
    assert "payment delay: 30 days from 2026-03-02, due by 2026-04-01" in out
    assert "paid: 19 days late (payment initiated on 2026-04-20)" in out
    # 12,000.00 x 10.15 % x 19 / 365 = 63.40 (tests/test_late_payment.py)
    assert "interest 63.40 EUR (10.15 % = ECB 2.15 % of H1 2026 + 8, on 12000.00 EUR)" in out
    assert "indemnity 40.00 EUR = 103.40 EUR" in out


def test_paid_on_time_and_the_hospital_delay(sandbox, capsys):
    number = _invoice(sandbox, [{"status": "MISE_A_DISPOSITION", "at": "2026-03-02"},
                                {"status": "MISE_EN_PAIEMENT", "at": "2026-04-20"}])
    assert cli.main(["track", "--invoice", number, "--delay", "50"]) == 0
    out = capsys.readouterr().out
    assert "due by 2026-04-21" in out and "paid on time" in out and "EUR" not in out


def test_missing_rate_is_named_and_can_be_given(sandbox, capsys):
    number = _invoice(sandbox, [{"status": "MISE_A_DISPOSITION", "at": "2026-06-10"},
                                {"status": "MISE_EN_PAIEMENT", "at": "2026-07-20"}])
    assert cli.main(["track", "--invoice", number]) == 0
    out = capsys.readouterr().out
    assert "H2 2026" in out and "--ecb-rate 2026-H2=RATE" in out
    assert cli.main(["track", "--invoice", number, "--ecb-rate", "2026-H2=2.00"]) == 0
    out = capsys.readouterr().out
    # 10 days at 10 %: 12,000.00 x 10 % x 10 / 365 = 32.876... -> 32.88
    assert "paid: 10 days late" in out and "interest 32.88 EUR" in out
    with pytest.raises(SystemExit):
        cli.main(["track", "--invoice", number, "--ecb-rate", "soon"])


# --- issue 18, point 3 -------------------------------------------------------------------------------------------


def test_credit_note_has_no_payment_delay(sandbox, capsys):
    with ChorusClient(sandbox.credentials, sandbox.url, token_cache=TokenCache(), timeout=10.0) as client:
        client.deposit_flow(make_cii("AV-2025-0007", type_code="381", preceding_invoice="FAC-2025-0042",
                                     amount="1000.00"), "AV-2025-0007.xml", "IN_DP_E1_CII_16B")
        (credit_note,) = client.search_invoices(invoice_number="AV-2025-0007")
    assert credit_note.invoice_type == "AVOIR"
    # Made available long ago, never "paid": an invoice would be hundreds of days late.
    _history(sandbox, credit_note.chorus_id, [{"status": "MISE_A_DISPOSITION", "at": "2025-01-10"},
                                              {"status": "MANDATEE", "at": "2025-02-01"}])
    status, out, _err = _track(capsys, "--invoice", "AV-2025-0007")
    assert status == 0
    assert "payment delay: none, this is a credit note (the buyer owes no payment under it)" in out
    for untrue in ("late", "overdue", "EUR", "indemnity", "payment delay: 30 days"):
        assert untrue not in out


def test_payment_initiated_before_it_was_made_available_is_on_time(sandbox, capsys):
    number = _invoice(sandbox, [{"status": "MISE_EN_PAIEMENT", "at": "2026-03-01"},
                                {"status": "MISE_A_DISPOSITION", "at": "2026-03-02"}])
    status, out, _err = _track(capsys, "--invoice", number)
    assert status == 0
    assert "paid on time: payment initiated on 2026-03-01, before it was made available; nothing to claim" in out
    assert "late" not in out and "unpaid" not in out and "EUR" not in out


def test_missing_rate_still_gives_days_late_and_the_indemnity(sandbox, capsys):
    number = _invoice(sandbox, [{"status": "MISE_A_DISPOSITION", "at": "2026-06-10"},
                                {"status": "MISE_EN_PAIEMENT", "at": "2026-07-20"}])
    status, out, _err = _track(capsys, "--invoice", number)
    assert status == 0
    assert "paid: 10 days late (payment initiated on 2026-07-20)" in out
    assert ("due by law: indemnity 40.00 EUR, and interest from 2026-07-11 at the ECB rate of H2 2026 + 8 points: "
            "it waits for that rate, missing from the shipped table") in out
    assert "give it with --ecb-rate 2026-H2=RATE (the ECB's main refinancing rate in force on 2026-07-01" in out


def test_ecb_rate_out_of_range_is_a_usage_error_and_an_override_is_said(sandbox, capsys):
    number = _invoice(sandbox, [{"status": "MISE_A_DISPOSITION", "at": "2026-03-02"},
                                {"status": "MISE_EN_PAIEMENT", "at": "2026-04-20"}])
    for bad in ("2026-H1=-1", "2026-H1=30", "2026-H2=25.5"):
        status, out, err = _track(capsys, "--invoice", number, "--ecb-rate", bad)
        assert status == 2, bad
        assert "an ECB main refinancing rate is between 0 and 25 %" in err and out == ""
    status, out, _err = _track(capsys, "--invoice", number, "--ecb-rate", "2026-H1=3.00")
    assert status == 0
    assert out.splitlines()[0] == "note: --ecb-rate 2026-H1=3.00 replaces the shipped ECB rate of H1 2026 (2.15 %)"
    # 12,000.00 x 11 % x 19 / 365 = 68.71
    assert "interest 68.71 EUR (11.00 % = ECB 3.00 % of H1 2026 + 8" in out
    status, out, _err = _track(capsys, "--invoice", number, "--ecb-rate", "2026-H2=2.00")
    assert status == 0 and "note:" not in out, "a half-year missing from the table is not an override"


@pytest.mark.parametrize("delay", ["0", "-5", "366", "99999999999", "soon"])
def test_delay_out_of_range_is_a_usage_error(sandbox, capsys, delay):
    number = _invoice(sandbox, [{"status": "MISE_A_DISPOSITION", "at": "2026-03-02"},
                                {"status": "MISE_EN_PAIEMENT", "at": "2026-04-20"}])
    status, out, err = _track(capsys, "--invoice", number, f"--delay={delay}")
    assert status == 2
    assert out == ""
    expected = "expected a number of days" if delay == "soon" else "a payment delay is from 1 to 365 days"
    assert expected in err and "argument --delay" in err
