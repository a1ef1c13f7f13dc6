"""ChorusClient end to end against the local sandbox (``SandboxServer``) on 127.0.0.1.

Only the contract of CONTRACTS.md is used on the sandbox side: ``SandboxServer(port=0, ...)``,
``url``, ``credentials``, ``inject_fault``, ``set_invoice_status``, ``seed_invoices``,
``deposits_of``, ``advance``. Faults show the client's rules on a real HTTP stack: retries of reads,
token refresh, and the outcome of a deposit whose answer never came.
"""

import pytest

from odoo_chorus_rouen.core.auth import Credentials, TokenCache
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.errors import ApiError, AuthenticationError, OutcomeUnknownError, TransportError
from odoo_chorus_rouen.core.payload import build_deposit
from odoo_chorus_rouen.core.status import ChorusState
from odoo_chorus_rouen.sandbox import SandboxServer

SUPPLIER_SIRET = "88412345600011"
PRINCIPAL_SIRET = "20002341400101"
GOOD = "facturx_principal_invoice.pdf"  # FAC-2026-0001, Budget Principal
GOOD_NUMBER = "FAC-2026-0001"
MISSING_ENGAGEMENT = "broken_missing_engagement.pdf"  # FAC-2026-0006


@pytest.fixture
def sandbox():
    with SandboxServer(port=0, state_path=":memory:", processing_delay=0) as server:
        yield server


@pytest.fixture
def sleeps():
    return []


def make_client(sandbox, sleeps=None, **kwargs):
    kwargs.setdefault("timeout", 10.0)
    return ChorusClient(
        sandbox.credentials,
        sandbox.url,
        token_cache=TokenCache(),
        sleep=(sleeps.append if sleeps is not None else (lambda _s: None)),
        **kwargs,
    )


@pytest.fixture
def client(sandbox, sleeps):
    with make_client(sandbox, sleeps) as chorus:
        yield chorus


def deposit(client, read_sample, name=GOOD):
    data = read_sample(name)
    body = build_deposit(data, name)
    return client.deposit_flow(data, body["nomFichier"], body["syntaxeFlux"], body=body)


def test_whole_life_of_an_invoice(client, sandbox, read_sample):
    assert client.health_check() is True

    supplier = client.search_structures(SUPPLIER_SIRET)
    assert [s.identifier for s in supplier] == [SUPPLIER_SIRET]
    principal = client.search_structures("200 023 414 00101")
    assert len(principal) == 1 and principal[0].active
    details = client.get_structure(principal[0].structure_id)
    assert details.identifier == PRINCIPAL_SIRET and details.kind == "PUBLIQUE"
    assert isinstance(details.requirements.engagement, bool)
    services = client.search_services(principal[0].structure_id)
    assert all(service.code for service in services)

    result = deposit(client, read_sample)
    assert result.flow_number.startswith("CPP") and len(result.flow_number) == 25
    assert result.syntax == "IN_DP_E2_CII_FACTURX" and result.deposit_date is not None

    report = client.flow_report(result.flow_number, result.syntax)
    assert report.state == "IN_INTEGRE" and report.final and report.dp_errors == ()

    found = list(client.search_invoices(flow_number=result.flow_number))
    assert [inv.number for inv in found] == [GOOD_NUMBER]
    summary = found[0]
    assert summary.recipient_siret == PRINCIPAL_SIRET and summary.info.state is ChorusState.DELIVERED

    # The buyer sends it back for recycling; the supplier corrects the routing.
    sandbox.set_invoice_status(summary.chorus_id, "A_RECYCLER", comment="Mauvais service")
    (to_recycle,) = client.search_invoices(invoice_number=GOOD_NUMBER)
    assert to_recycle.status == "A_RECYCLER" and to_recycle.info.action_needed
    recycled = client.recycle_invoice(summary.chorus_id, recipient_siret=PRINCIPAL_SIRET, engagement="EJ-2026-0001")
    assert recycled.status == "DEPOSEE"

    history = client.invoice_history(summary.chorus_id)
    assert history.chorus_id == summary.chorus_id and history.number == GOOD_NUMBER
    statuses = [entry.status for entry in history.entries]
    assert "A_RECYCLER" in statuses and statuses[-1] == history.current_status
    assert client.calls["token"] == 1
    assert sandbox.deposits_of(GOOD_NUMBER) == 1


def test_rejected_flow_names_the_invoice(client, read_sample):
    result = deposit(client, read_sample, MISSING_ENGAGEMENT)
    report = client.flow_report(result.flow_number)
    assert report.state == "IN_REJETE" and report.info.state is ChorusState.REJECTED
    assert [error.invoice_number for error in report.dp_errors] == ["FAC-2026-0006"]
    assert list(client.search_invoices(flow_number=result.flow_number)) == []


@pytest.mark.parametrize("http_status", [200, 400])
def test_functional_error_on_200_and_400(read_sample, http_status):
    with SandboxServer(port=0, functional_errors_http=http_status) as sandbox, make_client(sandbox) as client:
        with pytest.raises(ApiError) as info:
            client.flow_report("CPP0011117999999999999999")
        err = info.value
        assert err.http_status == http_status and err.chorus_code not in (None, 0)
        assert err.operation == "consulterCRDetaille" and not err.retryable
        assert client.calls["consulterCRDetaille"] == 1


def test_paging_over_seeded_invoices(client, sandbox):
    sandbox.seed_invoices(25, prefix="PAGE-")
    found = list(client.search_invoices(page_size=10))
    assert len(found) == 25 and len({inv.chorus_id for inv in found}) == 25
    assert client.calls["rechercherFactureParFournisseur"] == 3


def test_changed_since_filters_on_status_date(client, sandbox):
    sandbox.seed_invoices(3, prefix="OLD-")
    (first, *_rest) = client.search_invoices()
    sandbox.advance(3600)
    sandbox.set_invoice_status(first.chorus_id, "MANDATEE")
    (mandated,) = client.search_invoices(invoice_number=first.number)
    assert mandated.status == "MANDATEE" and mandated.status_date > first.status_date
    changed = list(client.search_invoices(changed_since=mandated.status_date))
    assert [inv.chorus_id for inv in changed] == [first.chorus_id]
    assert len(list(client.search_invoices(changed_since=first.status_date))) == 3
    assert [inv.chorus_id for inv in client.search_invoices(statuses=["MANDATEE"])] == [first.chorus_id]
    assert len(list(client.search_invoices(statuses=["MISE_A_DISPOSITION", "MANDATEE"]))) == 3


def test_wrong_technical_password_is_refused_twice(sandbox):
    creds = sandbox.credentials
    wrong = Credentials(creds.client_id, creds.client_secret, creds.login, "not-the-password")
    with ChorusClient(wrong, sandbox.url, token_cache=TokenCache()) as client:
        with pytest.raises(AuthenticationError) as info:
            client.flow_report("CPP0011117000000000300001")
    assert info.value.params["http_status"] == 401
    assert "not-the-password" not in str(info.value)
    assert client.calls["token"] == 2 and client.calls["consulterCRDetaille"] == 2


def test_wrong_client_secret_is_refused_at_the_token(sandbox):
    creds = sandbox.credentials
    wrong = Credentials(creds.client_id, "wrong-secret-value", creds.login, creds.password)
    with ChorusClient(wrong, sandbox.url, token_cache=TokenCache()) as client:
        with pytest.raises(AuthenticationError) as info:
            client.health_check()
    assert "wrong-secret-value" not in str(info.value)
    assert client.calls["token"] == 0 and client.calls["healthCheck"] == 0


# --------------------------------------------------------------------------- faults on demand


def test_503_on_a_read_is_retried(client, sandbox, sleeps):
    sandbox.inject_fault("http_503", count=2, operation="rechercherStructure", retry_after=1)
    assert len(client.search_structures(PRINCIPAL_SIRET)) == 1
    assert sleeps == [1.0, 1.0] and client.calls["rechercherStructure"] == 3


def test_429_honours_retry_after(client, sandbox, sleeps):
    sandbox.inject_fault("http_429", operation="consulterStructure", retry_after=3)
    (principal,) = client.search_structures(PRINCIPAL_SIRET)
    client.get_structure(principal.structure_id)
    assert sleeps == [3.0]


def test_expired_token_is_renewed_once(client, sandbox, sleeps):
    client.health_check()
    sandbox.inject_fault("expire_token", operation="rechercherFactureParFournisseur")
    assert list(client.search_invoices(invoice_number="NOTHING")) == []
    assert client.calls["token"] == 2 and sleeps == []


def test_deposit_cut_after_it_was_taken_is_outcome_unknown_then_found(client, sandbox, read_sample):
    sandbox.inject_fault("cut", operation="deposerFluxFacture")
    with pytest.raises(OutcomeUnknownError) as info:
        deposit(client, read_sample)
    assert info.value.params["file_name"] == GOOD
    assert sandbox.deposits_of(GOOD_NUMBER) == 1  # the platform did take it
    assert client.calls["deposerFluxFacture"] == 1
    # What the send job does next: ask Chorus Pro before any new deposit.
    sandbox.advance(1)
    found = list(client.search_invoices(invoice_number=GOOD_NUMBER))
    assert [inv.number for inv in found] == [GOOD_NUMBER]
    assert sandbox.deposits_of(GOOD_NUMBER) == 1


def test_deposit_answer_too_slow_is_outcome_unknown(sandbox, read_sample):
    sandbox.inject_fault("slow", operation="deposerFluxFacture", delay=1.5)
    with make_client(sandbox, timeout=0.4) as client:
        client.health_check()
        with pytest.raises(OutcomeUnknownError):
            deposit(client, read_sample)
        assert client.calls["deposerFluxFacture"] == 1
    assert sandbox.deposits_of(GOOD_NUMBER) == 1


def test_deposit_503_is_retryable_and_not_recorded(client, sandbox, read_sample, sleeps):
    sandbox.inject_fault("http_503", operation="deposerFluxFacture", retry_after=2)
    with pytest.raises(ApiError) as info:
        deposit(client, read_sample)
    assert info.value.retryable and info.value.retry_after == 2.0
    assert not isinstance(info.value, OutcomeUnknownError)
    assert sandbox.deposits_of(GOOD_NUMBER) == 0 and sleeps == []
    assert deposit(client, read_sample).flow_number  # the caller's own retry goes through
    assert sandbox.deposits_of(GOOD_NUMBER) == 1


def test_deposit_500_is_treated_as_outcome_unknown(client, sandbox, read_sample):
    # The client cannot tell a gateway 500 before processing from one after: it asks the caller to look.
    sandbox.inject_fault("http_500", operation="deposerFluxFacture")
    with pytest.raises(OutcomeUnknownError):
        deposit(client, read_sample)
    assert list(client.search_invoices(invoice_number=GOOD_NUMBER)) == []  # lookup: not there, safe to resend
    assert deposit(client, read_sample).flow_number
    assert sandbox.deposits_of(GOOD_NUMBER) == 1


def test_sandbox_down_is_a_safe_transport_error(read_sample):
    with SandboxServer(port=0) as sandbox:
        client = make_client(sandbox)
        client.health_check()  # token cached
    with pytest.raises(TransportError) as info:
        deposit(client, read_sample)
    assert type(info.value) is TransportError and "nothing was sent" in str(info.value)
