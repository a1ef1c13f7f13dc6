"""Exactly once when Chorus Pro is slow: a duplicate refusal after an uncertain deposit confirms the first one.

The platform takes 2 h to process a flow, the sender's settle delay is 10 min: the deposit is cut after the
platform recorded it, the invoice is not found within the settle delay, it is deposited again, and Chorus Pro
refuses that second flow as a duplicate once it has integrated the first one.
"""

from decimal import Decimal

import pytest

from odoo_chorus_rouen.core import delivery
from odoo_chorus_rouen.core.auth import Credentials, Endpoints
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.errors import InputError
from odoo_chorus_rouen.core.outbox import Outbox
from odoo_chorus_rouen.sandbox import SandboxServer
from odoo_chorus_rouen.sandbox.duplicates import DUPLICATE_MARKER
from odoo_chorus_rouen.sandbox.rules import MESSAGES
from odoo_chorus_rouen.sandbox.sample_invoices import make_cii

HOUR = 3600.0
SETTLE = 600.0


class Clock:
    """The outbox's clock, moved forward together with the sandbox's."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.now = sandbox.now()

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds
        self.sandbox.advance(seconds)


@pytest.fixture
def sandbox():
    # A flow waits 2 h in processing (3 steps of 40 min); routing steps of a minute.
    with SandboxServer(processing_delay=2 * HOUR / 3, routing_delay=60) as server:
        yield server


@pytest.fixture
def clock(sandbox):
    return Clock(sandbox)


@pytest.fixture
def outbox(sandbox, clock, tmp_path):
    def factory():
        return ChorusClient(Credentials.coerce(sandbox.credentials), Endpoints.from_base_url(sandbox.url), timeout=2,
                            backoff=0.01, max_wait=0.05)

    box = Outbox(str(tmp_path / "outbox.sqlite3"), factory, settle_delay=SETTLE, clock=clock)
    yield box
    box.close()


def cut_then_deposit_again(outbox, sandbox, clock, number):
    """The deposit is cut after the platform recorded it; after the settle delay it is deposited again."""
    sandbox.inject_fault("cut", operation="deposerFluxFacture")
    assert outbox.send_due() == {"uncertain": 1}
    clock.advance(SETTLE + 1)
    while outbox.get(number).state == "sending" and sandbox.deposits_of(number) < 2:
        assert outbox.send_due() in ({"waiting": 1}, {"sent": 1})
        clock.advance(60)
    assert outbox.get(number).state == "sent"
    assert sandbox.deposits_of(number) == 2, "not found within the settle delay: deposited again"


def test_duplicate_refusal_after_a_cut_deposit_confirms_it_and_the_invoice_is_followed_to_paid(
    outbox, sandbox, clock
):
    outbox.add(make_cii("SLOW-0001"))
    cut_then_deposit_again(outbox, sandbox, clock, "SLOW-0001")
    clock.advance(2 * HOUR)  # both flows processed: the first integrated, the second refused as a duplicate
    report = sandbox.duplicate_report(["SLOW-0001"])
    assert report["refused_duplicate_flows"] == 1 and report["received_twice"] == 0

    assert outbox.sync() == {"duplicate_confirmed": 1}
    item = outbox.get("SLOW-0001")
    original = sandbox.invoices(number="SLOW-0001")
    assert len(original) == 1, "the Métropole received it once"
    assert item.state == "delivered" and item.chorus_id == original[0]["identifiantFactureCPP"]
    assert item.flow_number == original[0]["numeroFluxDepot"], "followed through the first flow"
    assert item.error is None

    sandbox.set_invoice_status(item.chorus_id, "MISE_EN_PAIEMENT")
    outbox.sync()
    assert outbox.get("SLOW-0001").state == "paid"
    assert outbox.send_due() == {}, "nothing is deposited a third time"
    assert sandbox.deposits_of("SLOW-0001") == 2


def test_the_send_job_keeps_looking_while_waiting_and_adopts_a_first_deposit_integrated_late(sandbox, tmp_path):
    clock = Clock(sandbox)

    def factory():
        return ChorusClient(Credentials.coerce(sandbox.credentials), Endpoints.from_base_url(sandbox.url), timeout=2,
                            backoff=0.01, max_wait=0.05)

    box = Outbox(str(tmp_path / "o.sqlite3"), factory, settle_delay=delivery.DEFAULT_SETTLE_DELAY, clock=clock)
    box.add(make_cii("SLOW-0002"))
    sandbox.inject_fault("cut", operation="deposerFluxFacture")
    assert box.send_due() == {"uncertain": 1}
    calls = 0
    while box.get("SLOW-0002").state == "sending":
        clock.advance(max(0.0, box.get("SLOW-0002").next_try - clock.now) + 1)
        box.send_due()
        calls += 1
    assert box.get("SLOW-0002").state == "delivered"
    assert sandbox.deposits_of("SLOW-0002") == 1, "adopted once integrated, never deposited again"
    assert clock.now - box.get("SLOW-0002").send_started < 3 * HOUR, "found soon after the 2 h processing"
    assert calls <= 16, "a few look-ups over the 2 h, not one a minute (120)"
    box.close()


def test_no_second_deposit_while_the_known_first_flow_is_still_processing(outbox, sandbox, clock):
    data = make_cii("SLOW-0004")
    outbox.add(data)
    client = outbox.client_factory()
    flow = client.deposit_flow(data, "SLOW-0004.xml", "IN_DP_E1_CII_16B").flow_number  # what a lost commit left
    outbox._update("SLOW-0004", state="sending", send_started=clock.now, flow_number=flow, uncertain=1)
    clock.advance(SETTLE + 60)  # settle delay over, the flow is still in processing (2 h)
    assert outbox.send_due() == {"waiting": 1}
    assert sandbox.deposits_of("SLOW-0004") == 1
    clock.advance(2 * HOUR)
    assert outbox.send_due() == {"settled": 1}
    assert sandbox.deposits_of("SLOW-0004") == 1


def test_duplicate_refusal_of_a_number_we_never_deposited_is_a_real_problem(outbox, sandbox, clock):
    sandbox.seed_invoices(count=1, prefix="PORTAL-", supplier_siret=make_cii_supplier())  # deposited on the portal
    number = sandbox.invoices()[0]["numeroFacture"]
    outbox.add(make_cii(number))
    assert outbox.send_due() == {"sent": 1}
    clock.advance(2 * HOUR + 1)
    assert outbox.sync() == {"duplicate_conflict": 1}
    item = outbox.get(number)
    assert item.state == "rejected" and item.chorus_id is None, "never adopted blindly"
    assert "already used on Chorus Pro" in item.error and "new number" in item.error
    assert DUPLICATE_MARKER in item.error, "the platform's own reason is kept"
    with pytest.raises(InputError, match="already used on Chorus Pro"):
        outbox.requeue(number)  # sending it again would only be refused again
    with pytest.raises(InputError, match="already used on Chorus Pro"):
        outbox.add(make_cii(number, amount="5.00"))


def test_an_original_with_other_amounts_is_never_adopted(outbox, sandbox, clock):
    outbox.add(make_cii("SLOW-0003"))
    cut_then_deposit_again(outbox, sandbox, clock, "SLOW-0003")
    clock.advance(2 * HOUR)
    other = delivery.find_original
    try:  # what the platform holds under this number turns out to be another invoice (amount differs)
        delivery.find_original = lambda summaries, number, **kw: other(summaries, number, **{**kw, "amount_ttc": 1})
        assert outbox.sync() == {"duplicate_conflict": 1}
    finally:
        delivery.find_original = other
    item = outbox.get("SLOW-0003")
    assert item.state == "rejected" and item.chorus_id is None
    assert "is not this one" in item.error


def test_find_original_checks_supplier_amount_and_date():
    from datetime import date

    from odoo_chorus_rouen.core.client_answers import InvoiceSummary

    def summary(**kw):
        base = {"chorus_id": 1, "number": "F-1", "status": "DEPOSEE", "status_date": None, "flow_number": "CPP1",
                "recipient_siret": "20002341400101", "service_code": None, "engagement": None,
                "invoice_type": "FACTURE", "deposit_date": None, "amount_ttc": Decimal("1200.00"), "comment": None,
                "supplier_siret": "12345678900012", "invoice_date": date(2026, 11, 2)}
        return InvoiceSummary(**{**base, **kw})

    args = {"buyer_siret": "200 023 414 00101", "supplier_siret": "12345678900012", "invoice_type": "FACTURE",
            "amount_ttc": Decimal("1200"), "invoice_date": date(2026, 11, 2)}
    found, ours = delivery.find_original([summary()], "F-1", **args)
    assert found.chorus_id == 1 and ours
    assert delivery.find_original([summary(amount_ttc=Decimal("1199.00"))], "F-1", **args)[1] is False
    assert delivery.find_original([summary(invoice_date=date(2026, 11, 3))], "F-1", **args)[1] is False
    assert delivery.find_original([summary(recipient_siret="20002341400036")], "F-1", **args)[1] is False
    assert delivery.find_original([summary(supplier_siret="99999999900012")], "F-1", **args) == (None, False)
    assert delivery.duplicate_decision(False, found, True) == "conflict", "never deposited uncertainly by us"
    assert delivery.duplicate_decision(True, found, True) == "adopt"
    assert delivery.duplicate_decision(True, found, False) == "conflict"
    assert delivery.duplicate_decision(True, None, False) == "confirmed"


def test_the_sandbox_duplicate_text_is_recognised():
    text = MESSAGES["duplicate"].format(number="F-1", siret="12345678900012")
    assert DUPLICATE_MARKER in text and delivery.is_duplicate_refusal(text)
    assert not delivery.is_duplicate_refusal(MESSAGES["totals"])


def make_cii_supplier():
    from odoo_chorus_rouen.core.validation import read_facts

    return read_facts(make_cii("X-1")).seller_siret
