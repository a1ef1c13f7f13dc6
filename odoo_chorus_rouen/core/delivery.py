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
* While it waits, the invoice is looked up again at growing intervals (:func:`settle_poll_delay`), so a
  first deposit that Chorus Pro integrates late is adopted as soon as it shows up.
* A flow refused as a duplicate (:func:`is_duplicate_refusal`) after an uncertain deposit *confirms*
  that Chorus Pro holds the invoice: :func:`duplicate_decision` adopts the original, found by supplier +
  number (+ buyer, type, amount and date: :func:`find_original`), never one whose amounts differ. A
  duplicate refusal of an invoice that never had an uncertain deposit is a real problem: the number is
  already used on Chorus Pro by an invoice that did not come from us.

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
>>> settle_decision(found=False, elapsed=700, settle_delay=600, flow_pending=True)
'wait'
>>> settle_poll_delay(30, 86400), settle_poll_delay(1800, 86400), settle_poll_delay(86000, 86400)
(60.0, 900.0, 400.0)
>>> is_duplicate_refusal("La facture F-1 du fournisseur 123 a deja ete deposee dans Chorus Pro (doublon) : ...")
True
>>> is_duplicate_refusal("Le numero d'engagement est obligatoire")
False
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from .budgets import compact_siret
from .errors import ChorusError

__all__ = [
    "DEFAULT_SETTLE_DELAY",
    "Failure",
    "classify_failure",
    "duplicate_decision",
    "find_deposited",
    "find_original",
    "is_duplicate_refusal",
    "next_attempt_delay",
    "settle_decision",
    "settle_poll_delay",
]

#: Seconds an uncertain deposit is given to show up on Chorus Pro before it may be deposited again: one day.
#: Chorus Pro publishes no processing time for a flow (CHORUS_PRO_API.md §3.1: asynchronous; §8), and
#: month-end queues or maintenance hold flows for hours. Waiting is cheap: the invoice is looked up
#: meanwhile (:func:`settle_poll_delay`) and adopted as soon as it is integrated; only a deposit that
#: never reached the platform waits the whole delay. README.rst, "Settle delay", gives the reasoning.
DEFAULT_SETTLE_DELAY = 86400.0
#: First and longest interval between two look-ups of an invoice whose deposit is uncertain.
SETTLE_POLL_MIN = 60.0
SETTLE_POLL_MAX = 3600.0
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


def settle_decision(
    found: bool, elapsed: float, settle_delay: float = DEFAULT_SETTLE_DELAY, *, flow_pending: bool = False
) -> str:
    """After an uncertain deposit: ``"adopt"`` the invoice Chorus Pro has, ``"wait"``, or ``"deposit_again"``.

    :param elapsed: seconds since the uncertain deposit was started.
    :param flow_pending: the flow of the earlier deposit is known and Chorus Pro still shows it in
        processing: never deposit again while it does, whatever the delay.
    """
    if found:
        return "adopt"
    return "wait" if elapsed < settle_delay or flow_pending else "deposit_again"


def settle_poll_delay(elapsed: float, settle_delay: float = DEFAULT_SETTLE_DELAY) -> float:
    """Seconds before the next look-up of an invoice whose deposit is uncertain and not found yet.

    Half the time already waited (1 min at first, at most 1 h), and never past the end of the settle
    delay: a few calls per invoice, and a first deposit integrated late is adopted soon after.
    """
    delay = min(max(SETTLE_POLL_MIN, elapsed / 2), SETTLE_POLL_MAX)
    left = settle_delay - elapsed
    return float(max(min(delay, left), 0.0)) if left > 0 else float(SETTLE_POLL_MIN)


#: What Chorus Pro says when it refuses an invoice number already used by the supplier. The exact text
#: and code are not published (CHORUS_PRO_API.md §5.6, §8: [U]); the wording known from the platform is
#: "... a deja ete deposee dans Chorus Pro (doublon) : emettre une facture avec un nouveau numero", and
#: one client cites the code D-CPP-006 [U]. Accents may or may not be there.
_DUPLICATE_MARKERS = ("doublon", "d-cpp-006", "deja ete deposee", "déjà été déposée")


def is_duplicate_refusal(message: str | None) -> bool:
    """Whether a ``listeErreurDP`` reason (``libelleErreurDP``) is Chorus Pro's duplicate-number refusal."""
    text = (message or "").casefold()
    return any(marker in text for marker in _DUPLICATE_MARKERS)


def _same_amount(theirs, ours) -> bool:
    try:
        return abs(Decimal(str(theirs)) - Decimal(str(ours))) <= Decimal("0.005")
    except (InvalidOperation, ValueError):
        return False


def find_original(
    summaries: Iterable,
    number: str,
    *,
    buyer_siret: str | None = None,
    supplier_siret: str | None = None,
    invoice_type: str | None = None,
    amount_ttc=None,
    invoice_date: date | None = None,
):
    """The invoice Chorus Pro holds under this number for this supplier, and whether it is this one.

    Matched like :func:`find_deposited` (number, supplier, buyer, type, whatever its flow), then the
    amount including tax (``montantTTC``) and the invoice date are compared when both sides know them.

    :return: ``(summary, True)`` when it is this invoice, ``(summary, False)`` when Chorus Pro holds
        another invoice under this number (other amount or date, other buyer...), ``(None, False)``
        when there is none (yet).
    """
    summaries = list(summaries)
    same = find_deposited(summaries, number, buyer_siret, supplier_siret, invoice_type)
    if same is not None:
        if amount_ttc is not None and same.amount_ttc is not None and not _same_amount(same.amount_ttc, amount_ttc):
            return same, False
        their_date = getattr(same, "invoice_date", None)
        if invoice_date and their_date and their_date != invoice_date:
            return same, False
        return same, True
    other = find_deposited(summaries, number, supplier_siret=supplier_siret)
    return other, False


def duplicate_decision(uncertain_earlier: bool, original, is_ours: bool) -> str:
    """What a flow refused as a duplicate means for the invoice.

    :param uncertain_earlier: an earlier deposit of this invoice got no answer (timeout, cut
        connection, killed worker) or was deposited again after the settle delay.
    :param original: what :func:`find_original` found on Chorus Pro (or None).
    :param is_ours: :func:`find_original` says it is this invoice (same amount and date).
    :return: ``"adopt"`` (the earlier deposit went through: follow ``original``), ``"confirmed"`` (it
        went through but is not found yet: look again later), or ``"conflict"`` (the number is used on
        Chorus Pro by an invoice that is not this one: a person must act).
    """
    if not uncertain_earlier:
        return "conflict"
    if original is None:
        return "confirmed"
    return "adopt" if is_ours else "conflict"
