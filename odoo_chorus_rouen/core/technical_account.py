"""The Chorus Pro technical account's password: when it expires, when to warn, whether it is refused.

Every API call carries the technical account in the ``cpro-account`` header (CHORUS_PRO_API.md
§1.3). Its password expires; ``consulterStructure`` gives the date
(``informationGenerales.dateExpirationMotPasseCompteTech``, §3.9, [C] PGF-SW).

* :func:`is_account_suspected`: whether the failure of a business call (a deposit, a search...)
  *may* come from the technical account: PISTE answered **401** again after the client fetched a
  new token. It is only a suspicion. PISTE answers 401 with ``error_description="login or
  password incorrects"`` when ``cpro-account`` is wrong (§1.4, [S] OCA-co14), but also when a
  token expires, and a token can expire twice in a row (a gateway hiccup, the sandbox's
  ``expire_token`` fault). What the platform answers for an *expired* or *locked* password is not
  documented: we assume the same 401 [U]. A refused token request (``operation == "token"``: the
  PISTE application's credentials) and a 403 (API not subscribed) are not the technical account.
* :func:`check_account`: the dedicated check that alone concludes "refused": a new token, then one
  cheap read with the technical account (the directory search of the supplier's own SIRET,
  ``rechercherStructure``; the health check when no SIRET is known). The account is refused when
  that read is answered 401 with the new token and again with another new one; the check passes
  when the read succeeds; anything else (network, 5xx, 403, no token) says nothing about the account.
* :func:`due_reminder`: which warning (30, 7 or 1 day(s) before) is due today, once per threshold.

>>> from datetime import date
>>> due_reminder(date(2026, 3, 1), date(2026, 2, 1), done=())
30
>>> due_reminder(date(2026, 3, 1), date(2026, 2, 25), done=(30,))
7
>>> due_reminder(date(2026, 3, 1), date(2026, 2, 25), done=(30, 7)) is None
True
>>> from .errors import AuthenticationError
>>> is_account_suspected(AuthenticationError(params={"http_status": 401, "operation": "deposerFluxFacture"}))
True
>>> is_account_suspected(AuthenticationError(params={"http_status": 403, "operation": "deposerFluxFacture"}))
False
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .errors import ChorusError

__all__ = [
    "PASSWORD_PERIOD_DAYS",
    "REMINDER_DAYS",
    "AccountCheck",
    "check_account",
    "days_left",
    "due_reminder",
    "is_account_suspected",
]

#: Days before the expiry at which the administrators get a to-do, largest first.
REMINDER_DAYS = (30, 7, 1)
#: How long a technical account's password lasts: the Chorus Pro community's guidance is to change it
#: every 424 days (CHORUS_PRO_API.md §10 [S], "bonne pratique" page); Chorus Pro itself gives the date
#: (``dateExpirationMotPasseCompteTech``) and that date wins whenever it is known.
PASSWORD_PERIOD_DAYS = 424
#: Retries of the check's read after a network failure or a 5xx: the check stays short (it runs inside a
#: job's pass); a check that could not be made says nothing about the account and is made again later.
CHECK_RETRIES = 1


def is_account_suspected(err: ChorusError) -> bool:
    """Whether a call's failure may come from the technical account (401 again with a new token).

    Never a conclusion: only :func:`check_account` says whether the account is refused.
    """
    if getattr(err, "code", None) != "authentication_error":
        return False
    return err.params.get("http_status") == 401 and err.params.get("operation") not in (None, "token")


@dataclass(frozen=True)
class AccountCheck:
    """What the dedicated check of the technical account observed.

    :ivar outcome: ``"passed"`` (the read worked), ``"refused"`` (answered 401 with new tokens) or
        ``"failed"`` (the check itself could not be made: network, 5xx, 403, no token...).
    :ivar operation: the read made (``rechercherStructure`` or ``healthCheck``), or ``token`` when PISTE
        refused to give a token (the application's client id and secret, not the technical account).
    :ivar answer: what the platform answered, in words (empty when the check passed).
    """

    outcome: str
    operation: str
    answer: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    @property
    def refused(self) -> bool:
        return self.outcome == "refused"


def check_account(client: Any, siret: str | None = None) -> AccountCheck:
    """The dedicated check of the technical account: a new token, then one cheap read with it.

    ``client`` (a :class:`~.client.ChorusClient`) gives the credentials, the platform, the HTTP session
    and the retry policy; the check runs on a client of its own with an empty token cache, so that
    its first request fetches a new token (a token that expired under the business call is never
    reused). On a 401 the client fetches yet another token and reads once more (``core.client``);
    a network failure or a 5xx is retried at most :data:`CHECK_RETRIES` time(s).

    :param siret: the supplier's SIRET, read with ``rechercherStructure``; without it the health
        check (``GET``, which carries ``cpro-account`` too) is the read.
    :return: an :class:`AccountCheck`; never raises a :class:`~.errors.ChorusError`.
    """
    from .auth import TokenCache
    from .client import ChorusClient

    checker = ChorusClient(
        client.credentials, client.endpoints, session=client.session, timeout=client.timeout,
        max_retries=min(client.max_retries, CHECK_RETRIES), backoff=client.backoff, max_wait=client.max_wait,
        token_cache=TokenCache(),
    )
    operation = "rechercherStructure" if siret else "healthCheck"
    try:
        if siret:
            checker.search_structures(siret)
        elif not checker.health_check():
            return AccountCheck("failed", operation, "the platform says it is not available")
    except ChorusError as err:
        reason = err.params.get("reason") or err.message
        if is_account_suspected(err):
            return AccountCheck("refused", operation, f"HTTP 401, {reason}")
        if err.code == "authentication_error" and err.params.get("operation") == "token":
            operation = "token"  # PISTE refused the application's own credentials (client id and secret)
        return AccountCheck("failed", operation, str(reason))
    finally:
        checker.close()
    return AccountCheck("passed", operation)


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
