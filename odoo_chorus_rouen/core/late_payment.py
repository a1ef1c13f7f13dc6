"""Late public payment: the legal payment delay counted from Chorus Pro's own dates, and what it gives.

French public buyers must pay within a legal maximum delay (*délai global de paiement*); past it,
late-payment interest (*intérêts moratoires*) and a flat 40 EUR recovery indemnity are due by law,
without the supplier asking. This module computes them from an invoice's Chorus Pro status history.
It is pure Python (no Odoo); the Odoo layer and ``chorus-rouen track`` call :func:`compute_delay`.

Rules, with their sources (Code de la commande publique, "CCP"; tags: [C] text read in a copy of the
article or of an official table, [S] secondary source (professional press, forum quoting the text),
[U] our reading, not verified against an official text):

- **Delay**: 30 days for the State and local authorities and their public establishments (R2192-10),
  50 days for public hospitals and the armed forces' health service, 60 days for public undertakings
  (R2192-11 [C], read on code-commande-publique.com and doctrine.fr). A contract may set a shorter
  delay, never a longer one (L2192-10 [S], quoted by the DAJ's 2019 note). The delay is a parameter
  here (``legal_days``); the Odoo layer keeps it per recipient.
- **Start**: the delay runs from the receipt of the payment request (R2192-12). For an invoice sent
  electronically, receipt is the date of the notice telling the buyer the invoice was made available
  on the public invoicing portal, i.e. Chorus Pro's ``MISE_A_DISPOSITION`` [C] (the article's text on
  legifrance.gouv.fr, 2019 version). If the invoice was routed again after ``A_RECYCLER``, we count
  from its first ``MISE_A_DISPOSITION`` after the recycling [U].
- **Interruption (Chorus Pro's ``SUSPENDUE``)**: when the request lacks documents or mentions, the
  buyer may interrupt the delay **once** (R2192-27 [C], lexbase.fr), notifying the supplier of what is
  missing (R2192-28 [C], legal.tricoteuses.fr). When everything has been received (``COMPLETEE``), **a
  new delay opens: 30 days, or the balance that remained when the interruption was notified if that
  balance is longer** (R2192-29 [C], juriblio.fr and french-business-law.com, same text). So for a
  30-day buyer the whole 30 days start again at completion; a suspension does not merely stop the
  clock. That ``SUSPENDUE`` is the legal interruption and ``COMPLETEE`` the receipt of the missing
  pieces is our reading of Chorus Pro's statuses [S]. A second suspension does not interrupt the delay
  again, and a suspension after the delay expired does not revive it [U]. A suspension without
  ``COMPLETEE`` ends at the next status the buyer sets [U].
- **End**: the payment is initiated (*mise en paiement*): Chorus Pro's ``MISE_EN_PAIEMENT``; when the
  history does not show it, the payment date recorded in Odoo (``paid_on``) [U: Chorus Pro's status is
  the best evidence we have; the accountant may correct it]. A payment initiated before the invoice
  was made available (the buyer paid on the paper or PDF copy) ends the delay before it started: on
  time, whatever the order of the history's entries.
- **Credit notes**: no payment is owed by the buyer under a credit note (it is the supplier who owes
  the amount): no delay, no lateness, no interest, no indemnity (``credit_note=True``).
- **Interest**: due "de plein droit et sans autre formalité" from the day after the delay expires
  (L2192-13 [C], quoted by TA Bastia 29 Aug 2022 on doctrine.fr) until the payment is initiated,
  that day included [U: R2192-32 from memory]; on the amount due including VAT [U: R2192-32 from
  memory], actual days / 365 [S: the ministry's simulator and the DGFiP's 2013 instruction give
  "montant TTC x taux x jours / 365"; not read here]. Rounded to the cent, half up [U].
- **Rate**: the ECB's main refinancing operations rate in force on the first day of the calendar
  half-year in which the interest started to run, plus 8 points (R2192-31 [S], quoted word for word
  by achatsolutions.fr, lemoniteur.fr, a DGFiP forum; since décret 2013-269 of 29 March 2013, art. 8;
  before it, +7 points under the 2002/2008 décrets [S]). See :data:`ECB_MRO_RATES` for the figures.
- **Indemnity**: 40 EUR per late invoice (L2192-13 [C] for the principle; D2192-35 for the amount
  [S]: several sources give 40 EUR, the article's text itself was not read here).
- Interest and indemnity are to be paid within 45 days of the payment of the principal (R2192-36 [C],
  legal.tricoteuses.fr). They are outside the scope of VAT (damages, not the price of a supply) [S].
- **A missing rate** stops only the interest: the days late and the indemnity do not depend on it. The
  :class:`MissingRateError` carries them (``err.delay``, its ``interest`` is None).

Worked example (the issue's): 12,000.00 EUR made available on 2026-03-02, 30 days, payment initiated
on 2026-04-20. Due on 2026-04-01, 19 days late; interest starts on 2026-04-02 (first half of 2026:
MRO 2.15 % + 8 = 10.15 %): 12,000.00 x 10.15 % x 19 / 365 = 63.40 EUR, plus 40 EUR.

>>> from datetime import date
>>> from decimal import Decimal
>>> history = [("MISE_A_DISPOSITION", date(2026, 3, 2)), ("MISE_EN_PAIEMENT", date(2026, 4, 20))]
>>> delay = compute_delay(history, Decimal("12000.00"), 30)
>>> delay.due_on, delay.days_late, delay.rate, delay.interest, delay.indemnity
(datetime.date(2026, 4, 1), 19, Decimal('10.15'), Decimal('63.40'), Decimal('40.00'))
>>> delay.state
'paid_late'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .errors import ChorusError

__all__ = [
    "ECB_MRO_RATES",
    "INDEMNITY",
    "MAX_DELAY_DAYS",
    "MAX_ECB_RATE",
    "RATE_MARGIN",
    "SECOND_DELAY_DAYS",
    "GAP_NO_START",
    "GAP_PAST_DELAY",
    "GAP_UNSEEN_COMPLETION",
    "GAP_UNSEEN_RESTART",
    "GAP_UNSEEN_SUSPENSION",
    "EcbRate",
    "MissingRateError",
    "PaymentDelay",
    "check_delay_days",
    "check_ecb_rate",
    "compute_delay",
    "half_year",
    "half_year_label",
    "history_gap",
    "interest_amount",
    "rate_table",
]

RATE_MARGIN = Decimal("8")  # points added to the ECB rate (R2192-31)
INDEMNITY = Decimal("40.00")  # EUR per late invoice (D2192-35)
SECOND_DELAY_DAYS = 30  # the new delay after an interruption, at least (R2192-29)
DEFAULT_DELAY_DAYS = 30  # State and local authorities (R2192-10)
MAX_DELAY_DAYS = 365  # a delay the law caps at 60 days (R2192-11); beyond a year it is a typing error
#: Highest ECB main refinancing rate taken (percent): the ECB's highest ever was 4.75 % (2000); a rate
#: above this is a typing error (a rate in per mille, or the interest rate itself), never a real one.
MAX_ECB_RATE = Decimal("25")
CENT = Decimal("0.01")

AVAILABLE = "MISE_A_DISPOSITION"
SUSPENDED = "SUSPENDUE"
COMPLETED = "COMPLETEE"
PAYMENT = "MISE_EN_PAIEMENT"
TO_RECYCLE = "A_RECYCLER"
REJECTED = "REJETEE"
NO_DELAY = ("REJETEE", "ABANDONNEE", "SUPPRIMEE")  # no payment is owed under that invoice


@dataclass(frozen=True)
class EcbRate:
    """The ECB main refinancing operations (MRO) rate in force on the first day of a half-year."""

    year: int
    half: int  # 1: from 1 January, 2: from 1 July
    rate: Decimal  # percent
    in_force_since: date  # the ECB decision's effective date
    source: str
    confidence: str  # "confirmed" (ECB table), "secondary" (press), "unverified"


_ECB_TABLE = "ECB, Key ECB interest rates table (sdw mirror, read 2026-12)"
#: MRO rate on 1 January / 1 July. 2026 H2 is not shipped: no source about the ECB's 2026 decisions
#: could be found here. An accountant adds it in Odoo (Accounting > Configuration > Invoicing > ECB Rates
#: (Chorus Pro)); the command line takes ``--ecb-rate``.
ECB_MRO_RATES: tuple[EcbRate, ...] = (
    EcbRate(2022, 1, Decimal("0.00"), date(2016, 3, 16), _ECB_TABLE, "confirmed"),
    EcbRate(2022, 2, Decimal("0.00"), date(2016, 3, 16), _ECB_TABLE + "; next change on 27 Jul 2022", "confirmed"),
    EcbRate(2023, 1, Decimal("2.50"), date(2022, 12, 21), _ECB_TABLE + "; achatsolutions.fr (10 %)", "confirmed"),
    EcbRate(2023, 2, Decimal("4.00"), date(2023, 6, 21), _ECB_TABLE + "; DGFiP forum: 12 % from 1 Jul 2023",
            "confirmed"),
    EcbRate(2024, 1, Decimal("4.50"), date(2023, 9, 20), _ECB_TABLE, "confirmed"),
    EcbRate(2024, 2, Decimal("4.25"), date(2024, 6, 12), _ECB_TABLE + "; Le Moniteur: 12.25 % from 1 Jul 2024",
            "confirmed"),
    EcbRate(2025, 1, Decimal("3.15"), date(2024, 12, 18),
            "FXStreet on the ECB's December 2024 decision (MRO 3.15 %); effective date from memory", "secondary"),
    EcbRate(2025, 2, Decimal("2.15"), date(2025, 6, 11),
            "VOV World and Cable FX on the ECB's June 2025 decision (MRO 2.15 % from 11 Jun 2025)", "secondary"),
    EcbRate(2026, 1, Decimal("2.15"), date(2025, 6, 11),
            "Anadolu Agency, 18 Dec 2025: rates held, MRO 2.15 % (fourth hold since June 2025)", "secondary"),
)


def rate_table(rates: Iterable[EcbRate] = ECB_MRO_RATES) -> dict[tuple[int, int], Decimal]:
    """``{(year, half): MRO rate}``.

    >>> rate_table()[(2026, 1)]
    Decimal('2.15')
    """
    return {(rate.year, rate.half): rate.rate for rate in rates}


def half_year(day: date) -> tuple[int, int]:
    """The calendar half-year of ``day``.

    >>> half_year(date(2026, 6, 30)), half_year(date(2026, 7, 1))
    ((2026, 1), (2026, 2))
    """
    return day.year, 1 if day.month <= 6 else 2


def half_year_label(year: int, half: int) -> str:
    """``'H1 2026'`` style label (English; the Odoo layer translates its own)."""
    return f"H{half} {year}"


class MissingRateError(ChorusError, LookupError):
    """The ECB rate of the half-year in which the interest starts to run is not known.

    ``delay`` is what is known without the rate: the :class:`PaymentDelay` with its days late and the
    indemnity, and ``interest`` None (the interest waits for the rate).
    """

    code = "late_payment_rate_missing"
    default_message = (
        "The ECB main refinancing rate of %(half_year)s (in force on %(first_day)s) is missing: "
        "interest that started to run on %(start)s cannot be computed. Add the rate to the ECB rate table."
    )
    delay: PaymentDelay | None = None


def check_ecb_rate(rate: Decimal | float | str) -> Decimal:
    """``rate`` (percent) as a Decimal when it can be an ECB main refinancing rate: 0 to :data:`MAX_ECB_RATE`.

    >>> check_ecb_rate("2.15")
    Decimal('2.15')
    >>> check_ecb_rate(-1)
    Traceback (most recent call last):
    ...
    ValueError: an ECB main refinancing rate is between 0 and 25 %, not -1 %
    """
    value = Decimal(str(rate))
    if not value.is_finite() or not 0 <= value <= MAX_ECB_RATE:
        raise ValueError(f"an ECB main refinancing rate is between 0 and {MAX_ECB_RATE} %, not {rate} %")
    return value


def check_delay_days(days: int) -> int:
    """``days`` when it can be a legal payment delay: 1 to :data:`MAX_DELAY_DAYS`.

    >>> check_delay_days(50)
    50
    >>> check_delay_days(0)
    Traceback (most recent call last):
    ...
    ValueError: a payment delay is from 1 to 365 days (30 for local authorities, 50 for public hospitals), not 0
    """
    if not 1 <= days <= MAX_DELAY_DAYS:
        raise ValueError(f"a payment delay is from 1 to {MAX_DELAY_DAYS} days (30 for local authorities, 50 for "
                         f"public hospitals), not {days}")
    return days


def interest_amount(amount: Decimal, ecb_rate: Decimal, days: int) -> Decimal:
    """Interest on ``amount`` (including VAT) for ``days`` days at ``ecb_rate`` + 8 points, actual / 365.

    >>> interest_amount(Decimal("12000.00"), Decimal("2.15"), 19)
    Decimal('63.40')
    >>> interest_amount(Decimal("12000.00"), Decimal("2.15"), 0)
    Decimal('0.00')
    """
    if days <= 0:
        return Decimal("0.00")
    rate = Decimal(ecb_rate) + RATE_MARGIN
    return (Decimal(amount) * rate * days / Decimal(36500)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PaymentDelay:
    """The payment delay of one invoice, counted so far (``as_of``) or final (payment initiated).

    ``state``: ``no_start`` (never made available to the buyer: nothing counts yet), ``no_delay``
    (rejected / abandoned, or a credit note (note ``credit_note``): no payment owed), ``running`` (within
    the delay, unpaid), ``overdue`` (delay expired, unpaid: interest accrues), ``paid_on_time``,
    ``paid_late``. ``interest`` (and ``total_due``) is None while the ECB rate is missing
    (:class:`MissingRateError`).
    """

    state: str
    legal_days: int
    amount: Decimal
    available_on: date | None = None
    suspended_on: date | None = None
    completed_on: date | None = None
    due_on: date | None = None
    paid_on: date | None = None
    paid_source: str | None = None  # "chorus" (MISE_EN_PAIEMENT) or "odoo" (payment recorded in Odoo)
    as_of: date | None = None
    days_elapsed: int = 0  # from availability to payment (or as_of)
    days_suspended: int = 0
    days_late: int = 0
    interest_from: date | None = None
    ecb_rate: Decimal | None = None
    rate: Decimal | None = None  # ecb_rate + 8 points
    interest: Decimal | None = Decimal("0.00")
    indemnity: Decimal = Decimal("0.00")
    notes: tuple[str, ...] = field(default=())

    @property
    def late(self) -> bool:
        return self.days_late > 0

    @property
    def final(self) -> bool:
        return self.state in ("paid_on_time", "paid_late", "no_delay")

    @property
    def total_due(self) -> Decimal | None:
        return None if self.interest is None else self.interest + self.indemnity

    @property
    def half_year(self) -> tuple[int, int] | None:
        return half_year(self.interest_from) if self.interest_from else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view (dates ISO, amounts as strings)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        out["total_due"] = None if self.total_due is None else str(self.total_due)
        return out


def _day(value: date | datetime | str | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip()[:10])


def _events(history: Iterable[Any]) -> list[tuple[str, date]]:
    """(status, day) pairs, oldest first, from ``(code, when)`` pairs or objects with ``status``/``date``."""
    events = []
    for entry in history:
        if isinstance(entry, Mapping):
            code, when = entry.get("status"), entry.get("date")
        elif isinstance(entry, (tuple, list)):
            code, when = entry[0], entry[1]
        else:
            code, when = entry.status, entry.date
        day = _day(when)
        if code and day:
            events.append((str(code).strip().upper(), day))
    return sorted(events, key=lambda event: event[1])  # stable: same-day entries keep their order


def compute_delay(
    history: Iterable[Any],
    amount: Decimal | float | str,
    legal_days: int = DEFAULT_DELAY_DAYS,
    *,
    paid_on: date | None = None,
    as_of: date | None = None,
    rates: Mapping[tuple[int, int], Decimal] | None = None,
    credit_note: bool = False,
) -> PaymentDelay:
    """Count the payment delay of one invoice and what its lateness gives (see the module's rules).

    :param history: the Chorus Pro status history: ``(code, date or datetime)`` pairs, dicts with
        ``status``/``date`` or :class:`~.client.HistoryEntry` objects, in any order.
    :param amount: the amount due, including VAT (BT-115, *montant à payer*).
    :param legal_days: the buyer's payment delay in days (30 for the Métropole's budgets).
    :param paid_on: the payment date recorded outside Chorus Pro (Odoo), used when the history has no
        ``MISE_EN_PAIEMENT``.
    :param as_of: "today" for an unpaid invoice (default: :meth:`date.today`).
    :param rates: ``{(year, half): ECB MRO rate}``; default :data:`ECB_MRO_RATES`.
    :param credit_note: the document is a credit note (Chorus Pro's ``AVOIR``): no payment is owed under
        it, state ``no_delay``.
    :raises MissingRateError: the invoice is late and the rate of the half-year in which the interest
        started to run is not in ``rates`` (``err.delay``: the days late and the indemnity).
    :raises ValueError: ``legal_days`` is not a number of days from 1 to :data:`MAX_DELAY_DAYS`.

    A suspension at the very start: the 30 days start again at completion (R2192-29).

    >>> history = [("MISE_A_DISPOSITION", "2026-03-02"), ("SUSPENDUE", "2026-03-02"),
    ...            ("COMPLETEE", "2026-03-12"), ("MISE_EN_PAIEMENT", "2026-04-20")]
    >>> delay = compute_delay(history, "12000.00", 30)
    >>> delay.due_on, delay.days_suspended, delay.days_late, delay.interest
    (datetime.date(2026, 4, 11), 10, 9, Decimal('30.03'))

    Paid in time: nothing is due.

    >>> delay = compute_delay([("MISE_A_DISPOSITION", "2026-03-02"), ("MISE_EN_PAIEMENT", "2026-03-30")], 100)
    >>> delay.state, delay.days_late, delay.total_due
    ('paid_on_time', 0, Decimal('0.00'))

    A credit note owes the buyer nothing to pay: no delay at all.

    >>> compute_delay([("MISE_A_DISPOSITION", "2025-03-02")], 100, credit_note=True).state
    'no_delay'
    """
    legal_days = check_delay_days(int(legal_days))
    amount = Decimal(str(amount)).quantize(CENT, rounding=ROUND_HALF_UP)
    table = rate_table() if rates is None else rates
    today = as_of or date.today()
    events = _events(history)
    notes: list[str] = []
    if credit_note:
        return PaymentDelay(state="no_delay", legal_days=legal_days, amount=amount, as_of=today, notes=("credit_note",))

    # Start: the first MISE_A_DISPOSITION, or the first one after the last recycling.
    last_recycle = max((i for i, (code, _day_) in enumerate(events) if code == TO_RECYCLE), default=-1)
    start_index = next((i for i, (code, _d) in enumerate(events) if code == AVAILABLE and i > last_recycle), None)
    if start_index is None:
        start_index = next((i for i, (code, _d) in enumerate(events) if code == AVAILABLE), None)
    base = {"legal_days": legal_days, "amount": amount, "as_of": today}
    if start_index is None:
        return PaymentDelay(state="no_start", **base)
    available_on = events[start_index][1]
    later = events[start_index + 1:]

    # End: payment initiated on Chorus Pro (even before the invoice was made available: then on time),
    # else the payment recorded in Odoo.
    paid_day = next((day for code, day in events if code == PAYMENT), None)
    paid_source = "chorus" if paid_day else None
    if paid_day is None and paid_on is not None:
        paid_day, paid_source = _day(paid_on), "odoo"
    if paid_day is None and any(code in NO_DELAY for code, _d in later):
        return PaymentDelay(state="no_delay", available_on=available_on, **base)
    end = paid_day or today
    due_on = available_on + timedelta(days=legal_days)

    # Interruption: the first SUSPENDUE before the delay expired (R2192-27: once only).
    suspended_on = completed_on = None
    for index, (code, day) in enumerate(later):
        if code != SUSPENDED or (paid_day and day > paid_day):
            continue
        if day > due_on:
            notes.append("suspension_after_due")
            break
        suspended_on = day
        after = later[index + 1:]
        completed_on = next((d for c, d in after if c == COMPLETED), None)
        if completed_on is None:
            completed_on = next((d for c, d in after if c != SUSPENDED), None)
            if completed_on is not None:
                notes.append("suspension_ended_without_completion")
        if any(c == SUSPENDED for c, _d in after):
            notes.append("second_suspension_ignored")
        break
    days_suspended = 0
    if suspended_on is not None:
        if completed_on is None:  # still suspended: the delay waits for the missing pieces
            days_suspended = (max(end, suspended_on) - suspended_on).days
            due_on = None
        else:
            days_suspended = (completed_on - suspended_on).days
            balance = (due_on - suspended_on).days
            due_on = completed_on + timedelta(days=max(SECOND_DELAY_DAYS, balance))

    days_elapsed = max(0, (end - available_on).days)
    common = {
        "available_on": available_on,
        "suspended_on": suspended_on,
        "completed_on": completed_on,
        "due_on": due_on,
        "paid_on": paid_day,
        "paid_source": paid_source,
        "days_elapsed": days_elapsed,
        "days_suspended": days_suspended,
        "notes": tuple(notes),
        **base,
    }
    if due_on is None or end <= due_on:
        return PaymentDelay(state="paid_on_time" if paid_day else "running", **common)

    days_late = (end - due_on).days
    interest_from = due_on + timedelta(days=1)
    year, half = half_year(interest_from)
    ecb_rate = table.get((year, half))
    late = {
        "state": "paid_late" if paid_day else "overdue",
        "days_late": days_late,
        "interest_from": interest_from,
        "indemnity": INDEMNITY,
    }
    if ecb_rate is None:
        error = MissingRateError(
            params={
                "half_year": half_year_label(year, half),
                "first_day": date(year, 1 if half == 1 else 7, 1).isoformat(),
                "start": interest_from.isoformat(),
                "year": year,
                "half": half,
            }
        )
        error.delay = PaymentDelay(interest=None, **late, **{**common, "notes": (*notes, "rate_missing")})
        raise error
    ecb_rate = Decimal(str(ecb_rate))
    return PaymentDelay(
        ecb_rate=ecb_rate,
        rate=ecb_rate + RATE_MARGIN,
        interest=interest_amount(amount, ecb_rate, days_late),
        **late,
        **common,
    )


#: Why the status sync reads a paid invoice's full history (:func:`history_gap`).
GAP_NO_START = "no_start"
GAP_UNSEEN_SUSPENSION = "unseen_suspension"
GAP_UNSEEN_COMPLETION = "unseen_completion"
GAP_UNSEEN_RESTART = "unseen_restart"
GAP_PAST_DELAY = "past_delay"


def history_gap(
    kept: Iterable[Any],
    legal_days: int = DEFAULT_DELAY_DAYS,
    *,
    deposited_on: date | datetime | str | None = None,
) -> str | None:
    """Whether the statuses a status sync kept settle the delay of a paid invoice; else why its full history
    must be read.

    A status sync sees an invoice's *current* status each time it changed since the previous run (the
    search answers give no other date): a status that lasted less than the time between two runs is not
    among the kept ones. At payment (``MISE_EN_PAIEMENT`` kept), the full history
    (``consulterHistoriqueFacture``, one call for this invoice) is needed only when the kept statuses
    could tell something untrue:

    - ``no_start``: no ``MISE_A_DISPOSITION`` kept (the invoice was tracked before the dates were kept,
      or it was made available and paid between two runs): the delay has no start;
    - ``unseen_suspension`` / ``unseen_completion``: a ``COMPLETEE`` without the ``SUSPENDUE`` before it,
      or a ``SUSPENDUE`` that no ``COMPLETEE`` follows: the suspension's dates, hence the due date, are
      not known;
    - ``unseen_restart``: an ``A_RECYCLER`` without the ``MISE_A_DISPOSITION`` after it: the new start is
      not known;
    - ``past_delay``: the payment came more than ``legal_days`` after the deposit, or the deposit date is
      unknown. Otherwise the payment is on time whatever the sync missed: the delay never starts before
      the deposit, and a suspension or a recycling only moves the due date later. A payment counted late
      is always past the delay from the deposit, so a claim is never counted from kept statuses alone.

    :param kept: the kept statuses, as :func:`compute_delay` takes them (with a ``MISE_EN_PAIEMENT``).
    :param deposited_on: the day the invoice was deposited (the earliest day the delay can start).
    :return: one of the ``GAP_*`` reasons, or None when the kept statuses settle the delay.

    >>> history_gap([("MISE_A_DISPOSITION", "2026-03-02"), ("MISE_EN_PAIEMENT", "2026-03-20")], 30,
    ...             deposited_on=date(2026, 3, 2)) is None
    True
    >>> history_gap([("MISE_EN_PAIEMENT", "2026-03-20")], 30, deposited_on=date(2026, 3, 2))
    'no_start'
    >>> history_gap([("MISE_A_DISPOSITION", "2026-03-02"), ("MISE_EN_PAIEMENT", "2026-04-20")], 30,
    ...             deposited_on=date(2026, 3, 2))
    'past_delay'
    """
    legal_days = check_delay_days(int(legal_days))
    events = _events(kept)
    codes = [code for code, _day_ in events]
    if AVAILABLE not in codes:
        return GAP_NO_START
    for index, code in enumerate(codes):
        before, after = codes[:index], codes[index + 1:]
        if code == COMPLETED and SUSPENDED not in before:
            return GAP_UNSEEN_SUSPENSION
        if code == SUSPENDED and COMPLETED not in after:
            return GAP_UNSEEN_COMPLETION
        if code == TO_RECYCLE and AVAILABLE not in after:
            return GAP_UNSEEN_RESTART
    paid_day = next((day for code, day in events if code == PAYMENT), None)
    deposit_day = _day(deposited_on)
    if paid_day is None or deposit_day is None or (paid_day - deposit_day).days > legal_days:
        return GAP_PAST_DELAY
    return None
