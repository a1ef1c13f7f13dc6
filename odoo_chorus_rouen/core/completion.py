"""The rules that make completing a suspended invoice (``completerFacture``) happen once.

Like a deposit (:mod:`.delivery`), completing an invoice is a write whose answer can be lost (read
timeout, cut connection, worker killed). The rules:

* Before the call, the sender records that the invoice is *being completed* (and commits): from
  then on, whatever happens to the process, a later run knows a completion may exist.
* After a failure, :func:`classify_completion_failure` says what it means: nothing was recorded
  (``retry``), a person must act (``refused``), or the completion may have been recorded
  (``uncertain``).
* An uncertain completion is *settled* before any new call: :func:`settle_completion` reads the
  invoice's history (``consulterHistoriqueFacture``). A ``COMPLETEE`` entry after the last
  suspension, or an invoice that is no longer ``SUSPENDUE``, means it went through (or the buyer
  moved on): it is never completed twice. Only an invoice still ``SUSPENDUE`` with no ``COMPLETEE``
  since its suspension may be completed again.

>>> from .client_answers import HistoryEntry, InvoiceHistory
>>> suspended = HistoryEntry("SUSPENDUE", None, "bon de livraison", 1)
>>> settle_completion(InvoiceHistory(7, "F1", "SUSPENDUE", (suspended,))).kind
'not_recorded'
>>> settle_completion(InvoiceHistory(7, "F1", "COMPLETEE", (suspended, HistoryEntry("COMPLETEE", None, "", 2)))).kind
'completed'
>>> from .errors import OutcomeUnknownError
>>> classify_completion_failure(OutcomeUnknownError(params={"operation": "completerFacture"}))
'uncertain'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ChorusError

__all__ = [
    "COMPLETED_STATUS",
    "SUSPENDED_STATUS",
    "Settlement",
    "classify_completion_failure",
    "settle_completion",
]

SUSPENDED_STATUS = "SUSPENDUE"
#: The status completerFacture leads to (CHORUS_PRO_API.md §3.8: "supplier completed a suspended
#: invoice" [C] octopusenergy.fr FAQ, GOCP); the sandbox writes it as a history entry.
COMPLETED_STATUS = "COMPLETEE"


@dataclass(frozen=True)
class Settlement:
    """What the history says about an earlier completerFacture whose answer was lost.

    :ivar kind: ``"completed"`` (a ``COMPLETEE`` entry follows the last suspension: it went
        through), ``"moved_on"`` (no longer ``SUSPENDUE``: there is nothing to complete any more)
        or ``"not_recorded"`` (still ``SUSPENDUE`` without a completion: it may be completed again).
    :ivar status: the invoice's current status.
    :ivar entry: the ``COMPLETEE`` history entry, when there is one.
    """

    kind: str
    status: str
    entry: Any = None

    @property
    def done(self) -> bool:
        """Whether no new completerFacture must be sent."""
        return self.kind != "not_recorded"


def settle_completion(history: Any) -> Settlement:
    """Settle an uncertain completion from :meth:`~.client.ChorusClient.invoice_history` (entries oldest first)."""
    entries = list(history.entries)
    last_suspension = max((i for i, e in enumerate(entries) if e.status == SUSPENDED_STATUS), default=-1)
    completed = [e for e in entries[last_suspension + 1 :] if e.status == COMPLETED_STATUS]
    if completed:
        return Settlement("completed", history.current_status, completed[-1])
    if history.current_status == COMPLETED_STATUS:
        return Settlement("completed", history.current_status)
    if history.current_status != SUSPENDED_STATUS:
        return Settlement("moved_on", history.current_status)
    return Settlement("not_recorded", history.current_status)


def classify_completion_failure(err: ChorusError) -> str:
    """``"uncertain"`` (may be recorded: settle first), ``"retry"`` (nothing recorded) or ``"refused"``.

    A refused upload or completion (``codeRetour`` != 0, HTTP 4xx), an unusable input and a refused
    technical account are ``refused``: the user reads why, fixes it and tries again.
    """
    if err.code == "outcome_unknown":
        return "uncertain"
    if err.retryable:
        return "retry"
    return "refused"
