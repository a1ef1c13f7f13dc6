"""Late public payment (core/late_payment.py): the issue's worked cases, computed by hand here."""

import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from odoo_chorus_rouen.core.late_payment import (
    ECB_MRO_RATES,
    GAP_NO_START,
    GAP_PAST_DELAY,
    GAP_UNSEEN_COMPLETION,
    GAP_UNSEEN_RESTART,
    GAP_UNSEEN_SUSPENSION,
    INDEMNITY,
    MissingRateError,
    compute_delay,
    history_gap,
    interest_amount,
    rate_table,
)

AMOUNT = Decimal("12000.00")
ADDON = Path(__file__).resolve().parent.parent / "odoo_chorus_rouen"


def _history(*entries):
    return [(code, date.fromisoformat(day)) for code, day in entries]


def test_issue_example_19_days_late_at_first_half_2026_rate():
    delay = compute_delay(
        _history(("DEPOSEE", "2026-02-27"), ("MISE_A_DISPOSITION", "2026-03-02"), ("MANDATEE", "2026-04-15"),
                 ("MISE_EN_PAIEMENT", "2026-04-20")),
        AMOUNT,
        30,
    )
    # By hand: 2026-03-02 + 30 days = 2026-04-01 (March has 31 days). Interest runs from 2026-04-02 to
    # 2026-04-20 included: 19 days. 2026-04-02 is in H1 2026: ECB MRO on 1 Jan 2026 = 2.15 %, + 8 = 10.15 %.
    # 12,000.00 x 10.15 / 100 = 1,218.00 a year; x 19 / 365 = 63.4027... -> 63.40 EUR.
    assert delay.state == "paid_late"
    assert delay.due_on == date(2026, 4, 1)
    assert delay.days_late == 19
    assert delay.days_elapsed == 49  # 29 days of March after the 2nd + 20 of April
    assert delay.interest_from == date(2026, 4, 2)
    assert delay.ecb_rate == Decimal("2.15") and delay.rate == Decimal("10.15")
    assert delay.interest == Decimal("63.40")
    assert delay.indemnity == Decimal("40.00")
    assert delay.total_due == Decimal("103.40")
    assert delay.paid_source == "chorus"


def test_issue_example_suspended_10_days_is_9_days_late():
    # Suspended the day it was made available, completed 10 days later: R2192-29 opens a new 30-day delay
    # on 2026-03-12 -> due 2026-04-11; paid 2026-04-20: 9 days. 1,218.00 x 9 / 365 = 30.0328... -> 30.03.
    delay = compute_delay(
        _history(("MISE_A_DISPOSITION", "2026-03-02"), ("SUSPENDUE", "2026-03-02"), ("COMPLETEE", "2026-03-12"),
                 ("MISE_A_DISPOSITION", "2026-03-12"), ("MISE_EN_PAIEMENT", "2026-04-20")),
        AMOUNT,
        30,
    )
    assert delay.available_on == date(2026, 3, 2)
    assert (delay.suspended_on, delay.completed_on, delay.days_suspended) == (date(2026, 3, 2), date(2026, 3, 12), 10)
    assert delay.due_on == date(2026, 4, 11)
    assert delay.days_late == 9
    assert delay.interest == Decimal("30.03")
    assert delay.indemnity == INDEMNITY


def test_suspension_mid_delay_restarts_30_days_not_the_balance():
    # Suspended on day 10 (2026-03-12), completed on 2026-03-22: balance 20 days < 30, so a new 30-day
    # delay opens at completion: due 2026-04-21. Paid 2026-04-20: on time (a "stopped clock" would have
    # said due 2026-04-11 and 9 days late, claiming interest the law does not give).
    delay = compute_delay(
        _history(("MISE_A_DISPOSITION", "2026-03-02"), ("SUSPENDUE", "2026-03-12"), ("COMPLETEE", "2026-03-22"),
                 ("MISE_EN_PAIEMENT", "2026-04-20")),
        AMOUNT,
        30,
    )
    assert delay.due_on == date(2026, 4, 21)
    assert delay.state == "paid_on_time" and delay.days_late == 0 and delay.total_due == 0


def test_fifty_day_buyer_keeps_its_longer_balance_after_a_suspension():
    # Hospital (50 days): available 2026-01-05, suspended 2026-01-15 (balance 40 days > 30), completed
    # 2026-01-25 -> due 2026-01-25 + 40 = 2026-03-06. Paid 2026-03-16: 10 days late.
    # H1 2026: 10.15 %. 5,000.00 x 10.15 / 100 = 507.50; x 10 / 365 = 13.904... -> 13.90.
    delay = compute_delay(
        _history(("MISE_A_DISPOSITION", "2026-01-05"), ("SUSPENDUE", "2026-01-15"), ("COMPLETEE", "2026-01-25"),
                 ("MISE_EN_PAIEMENT", "2026-03-16")),
        Decimal("5000.00"),
        50,
    )
    assert delay.due_on == date(2026, 3, 6)
    assert delay.days_late == 10
    assert delay.interest == Decimal("13.90")


def test_half_year_boundary_takes_the_rate_of_the_day_interest_starts():
    # Made available 2025-05-31, 30 days -> due 2025-06-30; interest starts 2025-07-01: H2 2025,
    # MRO 2.15 % (not H1's 3.15 %). Paid 2025-07-10: 10 days. 10,000.00 x 10.15 % x 10 / 365 = 27.808... -> 27.81.
    delay = compute_delay(
        _history(("MISE_A_DISPOSITION", "2025-05-31"), ("MISE_EN_PAIEMENT", "2025-07-10")), Decimal("10000.00"), 30
    )
    assert delay.due_on == date(2025, 6, 30)
    assert delay.interest_from == date(2025, 7, 1)
    assert delay.ecb_rate == Decimal("2.15")
    assert delay.interest == Decimal("27.81")
    # One day earlier: interest starts 2025-06-30, H1 2025: 3.15 + 8 = 11.15 %; 11 days:
    # 10,000.00 x 11.15 % x 11 / 365 = 33.602... -> 33.60.
    earlier = compute_delay(
        _history(("MISE_A_DISPOSITION", "2025-05-30"), ("MISE_EN_PAIEMENT", "2025-07-10")), Decimal("10000.00"), 30
    )
    assert earlier.interest_from == date(2025, 6, 30)
    assert earlier.rate == Decimal("11.15")
    assert earlier.days_late == 11
    assert earlier.interest == Decimal("33.60")


def test_paid_on_time_shows_nothing_to_claim():
    delay = compute_delay(
        _history(("MISE_A_DISPOSITION", "2026-03-02"), ("MISE_EN_PAIEMENT", "2026-04-01")), AMOUNT, 30
    )
    assert delay.state == "paid_on_time"
    assert delay.days_late == 0
    assert delay.interest == 0 and delay.indemnity == 0 and delay.total_due == 0
    assert delay.ecb_rate is None


def test_missing_rate_names_the_half_year():
    # 2026-07-01 onwards needs H2 2026, not shipped (unknown here).
    with pytest.raises(MissingRateError) as caught:
        compute_delay(_history(("MISE_A_DISPOSITION", "2026-06-10"), ("MISE_EN_PAIEMENT", "2026-07-20")), AMOUNT, 30)
    err = caught.value
    assert err.code == "late_payment_rate_missing"
    assert err.params["half_year"] == "H2 2026" and err.params["first_day"] == "2026-07-01"
    assert "H2 2026" in str(err) and "2026-07-11" in str(err)
    # Given by the accountant, it is used.
    rates = {**rate_table(), (2026, 2): Decimal("2.00")}
    delay = compute_delay(
        _history(("MISE_A_DISPOSITION", "2026-06-10"), ("MISE_EN_PAIEMENT", "2026-07-20")), AMOUNT, 30, rates=rates
    )
    assert delay.days_late == 10 and delay.rate == Decimal("10.00")


def test_unpaid_counts_so_far_and_odoo_payment_date_is_the_fallback():
    history = _history(("MISE_A_DISPOSITION", "2026-03-02"))
    running = compute_delay(history, AMOUNT, 30, as_of=date(2026, 3, 20))
    assert running.state == "running" and running.days_elapsed == 18 and running.days_late == 0
    overdue = compute_delay(history, AMOUNT, 30, as_of=date(2026, 4, 11))
    assert overdue.state == "overdue" and overdue.days_late == 10 and overdue.interest == Decimal("33.37")
    paid = compute_delay(history, AMOUNT, 30, paid_on=date(2026, 4, 20), as_of=date(2026, 6, 1))
    assert paid.state == "paid_late" and paid.paid_source == "odoo" and paid.days_late == 19


def test_not_yet_available_rejected_and_recycled():
    assert compute_delay(_history(("DEPOSEE", "2026-03-01")), AMOUNT, 30).state == "no_start"
    rejected = compute_delay(_history(("MISE_A_DISPOSITION", "2026-03-02"), ("REJETEE", "2026-03-05")), AMOUNT, 30,
                             as_of=date(2026, 6, 1))
    assert rejected.state == "no_delay" and rejected.total_due == 0
    # Routed to the wrong desk, recycled: the delay counts from the right desk's availability.
    recycled = compute_delay(
        _history(("MISE_A_DISPOSITION", "2026-02-01"), ("A_RECYCLER", "2026-02-03"),
                 ("MISE_A_DISPOSITION", "2026-03-02"), ("MISE_EN_PAIEMENT", "2026-04-01")),
        AMOUNT, 30,
    )
    assert recycled.available_on == date(2026, 3, 2) and recycled.state == "paid_on_time"


def test_still_suspended_never_late_and_bad_delay_refused():
    delay = compute_delay(_history(("MISE_A_DISPOSITION", "2026-03-02"), ("SUSPENDUE", "2026-03-05")), AMOUNT, 30,
                          as_of=date(2026, 6, 1))
    assert delay.state == "running" and delay.due_on is None and delay.days_suspended == 88
    with pytest.raises(ValueError, match="from 1 to 365 days"):
        compute_delay([], AMOUNT, 0)


def test_interest_rounding_half_up():
    # 1,000.00 x 10.15 % x 1 / 365 = 0.27808... -> 0.28
    assert interest_amount(Decimal("1000.00"), Decimal("2.15"), 1) == Decimal("0.28")


def test_addon_rate_data_matches_the_core_table():
    tree = etree.parse(str(ADDON / "data" / "chorus_pro_ecb_rate_data.xml"))
    shipped = {}
    for record in tree.iterfind(".//record[@model='chorus.pro.ecb.rate']"):
        values = {f.get("name"): f.text for f in record.iterfind("field")}
        shipped[(int(values["year"]), int(values["half"]))] = Decimal(values["rate"])
        assert values.get("source") and values.get("confidence") in ("confirmed", "secondary", "unverified")
    assert shipped == rate_table()
    assert {(r.year, r.half) for r in ECB_MRO_RATES} >= {(y, h) for y in range(2022, 2026) for h in (1, 2)}


# --- history_gap: when the statuses kept by the status sync settle a paid invoice's delay ---------------------


def test_history_gap_kept_dates_settle_a_payment_on_time():
    kept = _history(("MISE_A_DISPOSITION", "2026-03-02"), ("MANDATEE", "2026-03-20"),
                    ("MISE_EN_PAIEMENT", "2026-03-25"))
    assert history_gap(kept, 30, deposited_on=date(2026, 2, 27)) is None


@pytest.mark.parametrize(("kept", "reason"), [
    ([("MISE_EN_PAIEMENT", "2026-03-25")], GAP_NO_START),
    ([("MISE_A_DISPOSITION", "2026-03-02"), ("COMPLETEE", "2026-03-12"), ("MISE_EN_PAIEMENT", "2026-03-25")],
     GAP_UNSEEN_SUSPENSION),
    ([("MISE_A_DISPOSITION", "2026-03-02"), ("SUSPENDUE", "2026-03-05"), ("MISE_EN_PAIEMENT", "2026-03-25")],
     GAP_UNSEEN_COMPLETION),
    ([("MISE_A_DISPOSITION", "2026-03-02"), ("A_RECYCLER", "2026-03-05"), ("MISE_EN_PAIEMENT", "2026-03-25")],
     GAP_UNSEEN_RESTART),
    # Counted late from the kept dates: the claim needs the full history (a missed suspension moves the due date).
    ([("MISE_A_DISPOSITION", "2026-03-02"), ("MISE_EN_PAIEMENT", "2026-04-20")], GAP_PAST_DELAY),
    # On time from the kept dates only thanks to a suspension: past 30 days from the deposit, so checked.
    ([("MISE_A_DISPOSITION", "2026-03-02"), ("SUSPENDUE", "2026-03-02"), ("COMPLETEE", "2026-03-12"),
      ("MISE_EN_PAIEMENT", "2026-04-05")], GAP_PAST_DELAY),
])
def test_history_gap_reasons(kept, reason):
    assert history_gap(_history(*kept), 30, deposited_on=date(2026, 2, 27)) == reason


def test_history_gap_without_the_deposit_date_reads_the_history():
    kept = _history(("MISE_A_DISPOSITION", "2026-03-02"), ("MISE_EN_PAIEMENT", "2026-03-03"))
    assert history_gap(kept, 30) == GAP_PAST_DELAY
    assert history_gap(kept, 30, deposited_on="2026-03-01") is None


def test_history_gap_never_settles_what_the_full_history_counts_otherwise():
    """Whatever statuses the sync missed, a payment the kept dates settle is on time by the full history too.

    Random lives of an invoice (deposit, made available, suspensions, completions, recycling, payment order,
    payment), of which the sync kept a random part (the payment always: it is what the sync just read)."""
    rng = random.Random(20261207)
    steps = ["SUSPENDUE", "COMPLETEE", "A_RECYCLER", "MISE_A_DISPOSITION", "MANDATEE", "SERVICE_FAIT"]
    settled = 0
    for _life in range(5000):
        deposit = date(2026, 1, 1) + timedelta(days=rng.randrange(60))
        day = deposit + timedelta(days=rng.randrange(4))
        life = [("DEPOSEE", deposit), ("MISE_A_DISPOSITION", day)]
        for _step in range(rng.randrange(5)):
            day += timedelta(days=rng.randrange(12))
            life.append((rng.choice(steps), day))
        life.append(("MISE_EN_PAIEMENT", day + timedelta(days=rng.randrange(25))))
        kept = [entry for entry in life[:-1] if rng.random() < 0.7] + life[-1:]
        if history_gap(kept, 30, deposited_on=deposit) is None:
            settled += 1
            assert compute_delay(life, AMOUNT, 30).state == "paid_on_time", (life, kept)
            assert compute_delay(kept, AMOUNT, 30).state == "paid_on_time", (life, kept)
    assert settled > 500  # the common case: no history to read
