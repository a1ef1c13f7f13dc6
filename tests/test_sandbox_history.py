"""The sandbox's dated history (control API ``POST /sandbox/invoices/<id>/history``), read back by the
client and counted by core/late_payment: the issue's 12,000.00 EUR invoice end to end, over HTTP."""

from datetime import date
from decimal import Decimal

import pytest
import requests

from odoo_chorus_rouen.core.auth import TokenCache
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.late_payment import compute_delay
from odoo_chorus_rouen.sandbox import SandboxServer


@pytest.fixture
def sandbox():
    with SandboxServer(port=0, state_path=":memory:", processing_delay=0) as server:
        yield server


def _seeded(sandbox):
    seeded = sandbox.seed_invoices(1, prefix="LATE-", amount_ht="10000.00")  # 12,000.00 with 20 % VAT
    return seeded["first_id"]


def test_dated_history_is_what_the_platform_answers(sandbox):
    chorus_id = _seeded(sandbox)
    entries = [
        {"status": "DEPOSEE", "at": "2026-02-27 16:30"},
        {"status": "MISE_A_DISPOSITION", "at": "2026-03-02"},
        {"status": "SUSPENDUE", "at": "2026-03-02 14:00", "comment": "Bon de livraison manquant"},
        {"status": "COMPLETEE", "at": "2026-03-12"},
        {"status": "MISE_EN_PAIEMENT", "at": "2026-04-20"},
    ]
    answer = requests.post(
        f"{sandbox.url}/sandbox/invoices/{chorus_id}/history", json={"entries": entries, "replace": True}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    with ChorusClient(sandbox.credentials, sandbox.url, token_cache=TokenCache(), timeout=10.0) as client:
        history = client.invoice_history(chorus_id)
    assert history.current_status == "MISE_EN_PAIEMENT"
    assert [(e.status, e.date.date().isoformat()) for e in history.entries] == [
        ("DEPOSEE", "2026-02-27"), ("MISE_A_DISPOSITION", "2026-03-02"), ("SUSPENDUE", "2026-03-02"),
        ("COMPLETEE", "2026-03-12"), ("MISE_EN_PAIEMENT", "2026-04-20"),
    ]
    assert history.entries[2].comment == "Bon de livraison manquant"
    delay = compute_delay(history.entries, Decimal("12000.00"), 30)
    assert (delay.days_suspended, delay.days_late, delay.interest) == (10, 9, Decimal("30.03"))
    # Without the suspension: 19 days, 63.40 EUR (hand computation in test_late_payment.py).
    replaced = requests.post(
        f"{sandbox.url}/sandbox/invoices/{chorus_id}/history",
        json={"entries": [{"status": "MISE_A_DISPOSITION", "at": "2026-03-02"},
                          {"status": "MISE_EN_PAIEMENT", "at": "2026-04-20"}], "replace": True},
        timeout=5,
    )
    assert replaced.status_code == 200
    assert [h["status"] for h in sandbox.invoice(chorus_id)["history"]] == ["MISE_A_DISPOSITION", "MISE_EN_PAIEMENT"]
    with ChorusClient(sandbox.credentials, sandbox.url, token_cache=TokenCache(), timeout=10.0) as client:
        delay = compute_delay(client.invoice_history(chorus_id).entries, Decimal("12000.00"), 30)
    assert (delay.days_late, delay.interest, delay.indemnity) == (19, Decimal("63.40"), Decimal("40.00"))
    assert delay.available_on == date(2026, 3, 2)


def test_bad_histories_are_refused_with_the_reason(sandbox):
    chorus_id = _seeded(sandbox)
    base = f"{sandbox.url}/sandbox/invoices/{chorus_id}/history"

    def post(body):
        return requests.post(base, json=body, timeout=5)

    unordered = post({"entries": [{"status": "MISE_EN_PAIEMENT", "at": "2026-04-20"},
                                  {"status": "MISE_A_DISPOSITION", "at": "2026-03-02"}], "replace": True})
    assert unordered.status_code == 400 and "chronological" in unordered.json()["error"]
    unknown = post({"entries": [{"status": "PAYEE", "at": "2026-04-20"}]})
    assert unknown.status_code == 400 and "PAYEE" in unknown.json()["error"]
    future = post({"entries": [{"status": "MISE_EN_PAIEMENT", "at": "2999-01-01"}]})
    assert future.status_code == 400 and "future" in future.json()["error"]
    # Appending before the deposit's own entries needs "replace".
    older = post({"entries": [{"status": "MISE_A_DISPOSITION", "at": "2000-01-03"}]})
    assert older.status_code == 400 and "replace" in older.json()["error"]
    assert post({"entries": []}).status_code == 400
    assert requests.post(f"{sandbox.url}/sandbox/invoices/999/history",
                         json={"entries": [{"status": "MANDATEE", "at": "2026-01-01"}]}, timeout=5).status_code == 404
    # Nothing was written by the refused calls.
    assert [h["status"] for h in sandbox.invoice(chorus_id)["history"]][-1] != "MISE_EN_PAIEMENT"
