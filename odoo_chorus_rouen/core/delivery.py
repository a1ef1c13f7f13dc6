"""The rules that make a delivery exactly-once, shared by every sender (Odoo's jobs and the outbox).

A deposit is the one write that must never happen twice. The rules:

* Before a deposit, the sender records that it is *sending* (and commits): from then on, whatever
  happens to the process, a later run knows a deposit may exist.
* After a failure, :func:`classify_failure` says what the failure means: it may pass (``retry``),
  the deposit may have been recorded (``uncertain``), or a person must act (``error``).
* An uncertain deposit is *settled* before any new deposit: :func:`find_deposited` looks the invoice
  up on Chorus Pro; :func:`settle_decision` adopts it when found, waits while the platform may still
  be integrating the flow, and allows a new deposit only after ``settle_delay``.
* Back-off is exponential and bounded (:func:`next_attempt_delay`), honouring ``Retry-After``.

>>> from .errors import ApiError, OutcomeUnknownError
>>> classify_failure(OutcomeUnknownError(params={"operation": "deposerFluxFacture"})).kind
'uncertain'
>>> classify_failure(ApiError(http_status=429, retry_after=7)).retry_after
7
>>> classify_failure(ApiError(http_status=200, chorus_code=20001, chorus_label="GDP_MSG_11.022")).kind
'error'
>>> from .errors import AuthenticationError
>>> classify_failure(AuthenticationError(params={"reason": "token expired"})).kind
'retry'
>>> next_attempt_delay(1), next_attempt_delay(3), next_attempt_delay(30)
(30.0, 120.0, 3600.0)
>>> settle_decision(found=False, elapsed=60, settle_delay=600)
'wait'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .budgets import compact_siret
from .errors import ChorusError

__all__ = [
    "DEFAULT_SETTLE_DELAY",
    "Failure",
    "classify_failure",
    "find_deposited",
    "next_attempt_delay",
    "settle_decision",
]

#: Seconds an uncertain deposit is given to show up on Chorus Pro before it may be deposited again.
DEFAULT_SETTLE_DELAY = 600.0
DEFAULT_BACKOFF_BASE = 30.0
DEFAULT_BACKOFF_MAX = 3600.0


@dataclass(frozen=True)
class Failure:
    """What a failed call means for the invoice.

    :ivar kind: ``"retry"`` (nothing recorded, may pass later), ``"uncertain"`` (a deposit may
        exist: settle before any new deposit) or ``"error"`` (a person must act).
    """

    kind: str
    retry_after: float | None = None


def classify_failure(err: ChorusError) -> Failure:
    """Map a core error raised by a deposit (or any call) to what the sender must do.

    Refused credentials are retried too (with the sender's bounded back-off): PISTE answers 401
    before the request reaches Chorus Pro, and a token that expires twice in a row, or a gateway
    hiccup, passes later. Wrong credentials end as an error once the attempts are spent, with
    the platform's reason in the message.
    """
    if err.code == "outcome_unknown":
        return Failure("uncertain", getattr(err, "retry_after", None))
    if err.retryable or err.code == "authentication_error":
        return Failure("retry", getattr(err, "retry_after", None))
    return Failure("error")


def next_attempt_delay(
    attempts: int,
    retry_after: float | None = None,
    base: float = DEFAULT_BACKOFF_BASE,
    maximum: float = DEFAULT_BACKOFF_MAX,
) -> float:
    """Seconds to wait before attempt ``attempts + 1``: ``base * 2**(attempts-1)``, capped, at least ``retry_after``."""
    delay = min(base * 2 ** (max(1, attempts) - 1), maximum)
    if retry_after:
        delay = max(delay, float(retry_after))
    return float(delay)


def find_deposited(
    summaries: Iterable,
    number: str,
    buyer_siret: str | None = None,
    supplier_siret: str | None = None,
    invoice_type: str | None = None,
):
    """The Chorus Pro invoice that is this one (same number, buyer, supplier, type), or None.

    :param summaries: :class:`~.client.InvoiceSummary` items, e.g. ``client.search_invoices(invoice_number=...)``.
    """
    buyer = compact_siret(buyer_siret or "")
    supplier = compact_siret(supplier_siret or "")
    found = []
    for summary in summaries:
        if summary.number != number:
            continue
        if buyer and summary.recipient_siret and compact_siret(summary.recipient_siret) != buyer:
            continue
        their_supplier = compact_siret(summary.supplier_siret or "")
        if supplier and their_supplier and their_supplier not in (supplier, supplier[:9]):
            continue
        if invoice_type and summary.invoice_type and summary.invoice_type != invoice_type:
            continue
        found.append(summary)
    return max(found, key=lambda s: s.chorus_id) if found else None


def settle_decision(found: bool, elapsed: float, settle_delay: float = DEFAULT_SETTLE_DELAY) -> str:
    """After an uncertain deposit: ``"adopt"`` the invoice Chorus Pro has, ``"wait"``, or ``"deposit_again"``.

    :param elapsed: seconds since the uncertain deposit was started.
    """
    if found:
        return "adopt"
    return "wait" if elapsed < settle_delay else "deposit_again"
