"""The Chorus Pro technical account's password: when it expires, when to warn, when it is refused.

Every API call carries the technical account in the ``cpro-account`` header (CHORUS_PRO_API.md
§1.3). Its password expires; ``consulterStructure`` gives the date
(``informationGenerales.dateExpirationMotPasseCompteTech``, §3.9, [C] PGF-SW).

* :func:`is_account_refused`: whether an error means the platform refused the technical account
  (wrong, expired or locked password) rather than the PISTE application or a token. PISTE answers
  **401** with ``WWW-Authenticate: ... error_description="login or password incorrects"`` when
  ``cpro-account`` is wrong (§1.4, [S] OCA-co14); the client has then already fetched a new token
  and tried once more, so a second 401 on an API call can only be the account. What the platform
  answers for an *expired* or *locked* password is not documented: we assume the same 401 [U].
  A refused token request (``operation == "token"``) and a 403 (API not subscribed) are not the
  technical account.
* :func:`due_reminder`: which warning (30, 7 or 1 day(s) before) is due today, once per threshold.

>>> from datetime import date
>>> due_reminder(date(2026, 3, 1), date(2026, 2, 1), done=())
30
>>> due_reminder(date(2026, 3, 1), date(2026, 2, 25), done=(30,))
7
>>> due_reminder(date(2026, 3, 1), date(2026, 2, 25), done=(30, 7)) is None
True
>>> from .errors import AuthenticationError
>>> is_account_refused(AuthenticationError(params={"http_status": 401, "operation": "deposerFluxFacture"}))
True
>>> is_account_refused(AuthenticationError(params={"http_status": 403, "operation": "deposerFluxFacture"}))
False
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from .errors import ChorusError

__all__ = ["PASSWORD_PERIOD_DAYS", "REMINDER_DAYS", "days_left", "due_reminder", "is_account_refused"]

#: Days before the expiry at which the administrators get a to-do, largest first.
REMINDER_DAYS = (30, 7, 1)
#: How long a technical account's password lasts: the Chorus Pro community's guidance is to change it
#: every 424 days (CHORUS_PRO_API.md §10 [S], "bonne pratique" page); Chorus Pro itself gives the date
#: (``dateExpirationMotPasseCompteTech``) and that date wins whenever it is known.
PASSWORD_PERIOD_DAYS = 424


def is_account_refused(err: ChorusError) -> bool:
    """Whether Chorus Pro refused the technical account (login or password wrong, expired or locked)."""
    if err.code != "authentication_error":
        return False
    return err.params.get("http_status") == 401 and err.params.get("operation") not in (None, "token")


def days_left(expiry: date | datetime, today: date) -> int:
    """Whole days from ``today`` to the expiry date (0 on the day itself, negative once past)."""
    if isinstance(expiry, datetime):
        expiry = expiry.date()
    return (expiry - today).days


def due_reminder(
    expiry: date | datetime | None, today: date, done: Iterable[int] = (), thresholds: Iterable[int] = REMINDER_DAYS
) -> int | None:
    """The threshold (days before) whose warning is due today and not sent yet, or None.

    Only the smallest threshold reached counts: a job that did not run for a while sends the
    7-day warning, not the 30-day one as well. ``done`` holds the thresholds already warned for
    this expiry date (a new date starts afresh).
    """
    if expiry is None:
        return None
    left = days_left(expiry, today)
    reached = [t for t in thresholds if left <= t]
    if not reached:
        return None
    threshold = min(reached)
    done = set(done)
    if threshold in done or any(t < threshold for t in done):
        return None
    return threshold
