"""The outbox: exactly-once deposits and batch status sync, against the local sandbox."""

import time

import pytest

from odoo_chorus_rouen.core.auth import Credentials, Endpoints
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.errors import InputError
from odoo_chorus_rouen.core.outbox import Outbox
from odoo_chorus_rouen.sandbox import SandboxServer
from odoo_chorus_rouen.sandbox.sample_invoices import make_cii


class Clock:
    """Real time that a test can move forward (the sandbox dates its statuses in real time)."""

    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


@pytest.fixture
def sandbox():
    with SandboxServer() as server:
        yield server


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def outbox(sandbox, clock, tmp_path):
    clients = []

    def factory():
        client = ChorusClient(Credentials.coerce(sandbox.credentials), Endpoints.from_base_url(sandbox.url), timeout=2,
                              backoff=0.01, max_wait=0.05)
        clients.append(client)
        return client

    box = Outbox(str(tmp_path / "outbox.sqlite3"), factory, settle_delay=600, clock=clock)
    box.clients = clients
    yield box
    box.close()


def test_adding_the_same_invoice_twice_queues_it_once(outbox):
    data = make_cii("OB-0001")
    outbox.add(data)
    outbox.add(data)
    assert outbox.counts() == {"queued": 1}
    with pytest.raises(InputError, match="already in the outbox with another file"):
        outbox.add(make_cii("OB-0001", amount="2.00"))


def test_unreadable_file_is_refused_with_a_reason(outbox):
    with pytest.raises(InputError):
        outbox.add(b"%PDF-1.4 truncated")


def test_send_then_sync_reaches_the_buyer_and_paid(outbox, sandbox):
    for i in range(3):
        outbox.add(make_cii(f"OB-{i:04d}"))
    assert outbox.send_due() == {"sent": 3}
    assert outbox.sync() == {"updated": 3}
    items = outbox.items()
    assert {i.state for i in items} == {"delivered"} and all(i.chorus_id for i in items)
    sandbox.set_invoice_status(items[0].chorus_id, "MISE_EN_PAIEMENT")
    sandbox.set_invoice_status(items[1].chorus_id, "A_RECYCLER", "Mauvais code service")
    outbox.sync()
    assert outbox.get("OB-0000").state == "paid"
    recycled = outbox.get("OB-0001")
    assert recycled.state == "action" and recycled.error == "Mauvais code service"
    assert sandbox.deposits_of("OB-0000") == 1


def test_sync_of_many_invoices_is_a_handful_of_calls(outbox, sandbox):
    for i in range(250):
        outbox.add(make_cii(f"OB-{i:04d}"))
    outbox.send_due()
    client_calls_before = sum(sum(c.calls.values()) for c in outbox.clients)
    outbox.sync()
    calls = sum(sum(c.calls.values()) for c in outbox.clients) - client_calls_before
    assert outbox.counts() == {"delivered": 250}
    assert calls <= 5  # token + 3 pages of 100, never one call per invoice


def test_cut_connection_after_deposit_is_settled_without_a_second_deposit(outbox, sandbox, clock):
    outbox.add(make_cii("OB-CUT-1"))
    sandbox.inject_fault("cut", operation="deposerFluxFacture")
    assert outbox.send_due() == {"uncertain": 1}
    assert outbox.get("OB-CUT-1").state == "sending"
    clock.now += 600  # the settle delay (or the back-off) is over
    assert outbox.send_due() == {"settled": 1}
    item = outbox.get("OB-CUT-1")
    assert item.state == "delivered" and item.chorus_id
    assert sandbox.deposits_of("OB-CUT-1") == 1


def test_uncertain_deposit_not_recorded_is_deposited_again_only_after_the_settle_delay(outbox, sandbox, clock):
    outbox.add(make_cii("OB-500-1"))
    sandbox.inject_fault("http_500", operation="deposerFluxFacture")  # refused before anything was recorded
    assert outbox.send_due() == {"uncertain": 1}
    clock.now += 60
    assert outbox.send_due() == {"waiting": 1}  # not on Chorus Pro yet: it waits for the settle delay
    assert sandbox.deposits_of("OB-500-1") == 0
    clock.now += 600
    assert outbox.send_due() == {"sent": 1}
    assert sandbox.deposits_of("OB-500-1") == 1


def test_worker_killed_after_marking_sending_is_settled(outbox, sandbox, clock):
    outbox.add(make_cii("OB-KILL-1"))
    outbox._update("OB-KILL-1", state="sending", send_started=clock.now, attempts=1)  # what a killed worker leaves
    clock.now += 700
    assert outbox.send_due() == {"sent": 1}
    assert sandbox.deposits_of("OB-KILL-1") == 1


def test_retryable_failures_back_off_then_send(outbox, sandbox, clock):
    outbox.add(make_cii("OB-503-1"))
    sandbox.inject_fault("http_503", operation="deposerFluxFacture", retry_after=120)
    assert outbox.send_due() == {"retry": 1}
    item = outbox.get("OB-503-1")
    assert item.state == "queued" and item.next_try >= clock.now + 120
    clock.now += 121
    assert outbox.send_due() == {"sent": 1}


def test_rejected_flow_is_explained_and_can_be_resent_once_fixed(outbox, sandbox):
    outbox.add(make_cii("OB-REJ-1", engagement=None))  # Budget Principal requires an engagement number
    outbox.send_due()
    assert outbox.sync() == {"rejected": 1}
    item = outbox.get("OB-REJ-1")
    assert item.state == "rejected" and "engagement" in item.error
    with pytest.raises(InputError):
        outbox.requeue("OB-0404")
    assert outbox.requeue("OB-REJ-1").state == "queued"


def test_a_corrected_file_replaces_a_rejected_one(outbox, sandbox):
    outbox.add(make_cii("OB-FIX-1", engagement=None))
    outbox.send_due()
    outbox.sync()
    assert outbox.get("OB-FIX-1").state == "rejected"
    fixed = make_cii("OB-FIX-1", engagement="EJ2026-000999")
    assert outbox.add(fixed).state == "queued"
    assert outbox.send_due() == {"sent": 1}
    outbox.sync()
    assert outbox.get("OB-FIX-1").state == "delivered"
    assert sandbox.deposits_of("OB-FIX-1") == 2  # the rejected flow, then the corrected one


def test_resend_is_refused_while_the_invoice_is_on_the_platform(outbox):
    outbox.add(make_cii("OB-0001"))
    outbox.send_due()
    with pytest.raises(InputError, match="cannot be sent again from state sent"):
        outbox.requeue("OB-0001")
