"""``chorus-rouen track --invoice``: the payment delay, days late and amounts due, from a dated history."""

import pytest
import requests

from odoo_chorus_rouen import cli
from odoo_chorus_rouen.sandbox import SandboxServer


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


def _invoice(sandbox, entries):
    seeded = sandbox.seed_invoices(1, prefix="LATE-", amount_ht="10000.00")  # 12,000.00 including VAT
    answer = requests.post(f"{sandbox.url}/sandbox/invoices/{seeded['first_id']}/history",
                           json={"entries": entries, "replace": True}, timeout=5)
    assert answer.status_code == 200, answer.text
    return sandbox.invoice(seeded["first_id"])["numeroFacture"]


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
