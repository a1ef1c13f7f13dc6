"""``chorus-rouen track --invoice``: the legal payment delay, days late and what is due (core/late_payment).

Kept out of ``cli.py``: the track command calls :func:`add_options` on its parser, :func:`rate_overrides`
once, and :func:`print_delay` for each invoice it found.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from .core.errors import ChorusError
from .core.late_payment import (
    DEFAULT_DELAY_DAYS,
    MAX_DELAY_DAYS,
    MissingRateError,
    check_delay_days,
    check_ecb_rate,
    compute_delay,
    half_year_label,
    rate_table,
)

__all__ = ["add_options", "print_delay", "rate_overrides"]

_RATE_RE = re.compile(r"^(?P<year>\d{4})\s*-?\s*[HhSs](?P<half>[12])\s*=\s*(?P<rate>-?\d+(?:[.,]\d+)?)$")


def _rate(text: str) -> tuple[tuple[int, int], Decimal]:
    match = _RATE_RE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected YEAR-H1=RATE or YEAR-H2=RATE (e.g. 2026-H2=2.15), not {text!r}")
    try:
        rate = check_ecb_rate(match["rate"].replace(",", "."))
    except InvalidOperation as err:  # pragma: no cover - the pattern only lets numbers through
        raise argparse.ArgumentTypeError(f"not a rate: {match['rate']!r}") from err
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{err} (the rate of {text.strip()!r}, in percent)") from None
    return (int(match["year"]), int(match["half"])), rate


def _delay(text: str) -> int:
    try:
        return check_delay_days(int(text.strip()))
    except ValueError as err:
        if not text.strip().lstrip("+-").isdigit():
            raise argparse.ArgumentTypeError(f"expected a number of days, not {text!r}") from None
        raise argparse.ArgumentTypeError(str(err)) from None


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--delay",
        type=_delay,
        default=DEFAULT_DELAY_DAYS,
        metavar="DAYS",
        help=f"the buyer's legal payment delay, 1 to {MAX_DELAY_DAYS} (default {DEFAULT_DELAY_DAYS}: local "
        "authorities; 50: public hospitals)",
    )
    parser.add_argument(
        "--ecb-rate",
        type=_rate,
        action="append",
        default=[],
        metavar="YEAR-HN=RATE",
        help="ECB main refinancing rate of a half-year, in percent (0 to 25), when the shipped table lacks it "
        "(e.g. 2026-H2=2.15); it replaces a shipped rate, and says so",
    )


def rate_overrides(args: argparse.Namespace) -> list[str]:
    """One line per ``--ecb-rate`` that replaces a rate of the shipped table (none for a missing half-year)."""
    shipped = rate_table()
    lines = []
    for (year, half), rate in dict(args.ecb_rate).items():
        if (year, half) in shipped and shipped[(year, half)] != rate:
            lines.append(f"note: --ecb-rate {year}-H{half}={rate} replaces the shipped ECB rate of "
                         f"{half_year_label(year, half)} ({shipped[(year, half)]} %)")
    return lines


def print_delay(client: Any, invoice: Any, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    """Print the payment delay of one found invoice (``InvoiceSummary``), from its Chorus Pro history."""
    credit_note = invoice.invoice_type == "AVOIR"  # nothing to read: no payment is owed under a credit note
    amount = invoice.amount_due if invoice.amount_due is not None else invoice.amount_ttc
    if amount is None and not credit_note:
        out("  payment delay: Chorus Pro gives no amount for this invoice, nothing counted")
        return
    entries = ()
    if not credit_note:
        try:
            entries = client.invoice_history(invoice.chorus_id).entries
        except ChorusError as err:
            out(f"  payment delay: history not read ({err})")
            return
    rates = {**rate_table(), **dict(args.ecb_rate)}
    missing = None
    try:
        delay = compute_delay(entries, amount or 0, args.delay, rates=rates, credit_note=credit_note)
    except MissingRateError as err:
        missing, delay = err, err.delay
    if delay.state == "no_start":
        out("  payment delay: not yet made available to the buyer, not started")
        return
    if delay.state == "no_delay" and "credit_note" in delay.notes:
        out("  payment delay: none, this is a credit note (the buyer owes no payment under it)")
        return
    if delay.state == "no_delay":
        out("  payment delay: rejected or cancelled, no payment due")
        return
    suspended = ""
    if delay.suspended_on:
        suspended = f", suspended {delay.suspended_on} to {delay.completed_on or 'now'}"
    due = delay.due_on.isoformat() if delay.due_on else "open (suspended)"
    out(f"  payment delay: {delay.legal_days} days from {delay.available_on}{suspended}, due by {due}")
    if delay.state == "running":
        out(f"  not paid yet: day {delay.days_elapsed}, within the delay")
        return
    if delay.state == "paid_on_time":
        if delay.paid_on < delay.available_on:
            out(f"  paid on time: payment initiated on {delay.paid_on}, before it was made available; "
                "nothing to claim")
        else:
            out(f"  paid on time: payment initiated on {delay.paid_on}, nothing to claim")
        return
    when = f"payment initiated on {delay.paid_on}" if delay.paid_on else f"still unpaid on {delay.as_of}"
    label = half_year_label(*delay.half_year)
    out(f"  {'paid' if delay.paid_on else 'overdue'}: {delay.days_late} days late ({when})")
    if missing is not None:
        year, half = missing.params["year"], missing.params["half"]
        out(f"  due by law: indemnity {delay.indemnity} EUR, and interest from {delay.interest_from} at the ECB "
            f"rate of {label} + 8 points: it waits for that rate, missing from the shipped table")
        out(f"  give it with --ecb-rate {year}-H{half}=RATE (the ECB's main refinancing rate in force on "
            f"{missing.params['first_day']}, in percent)")
        return
    out(
        f"  due by law: interest {delay.interest} EUR ({delay.rate} % = ECB {delay.ecb_rate} % of {label}"
        f" + 8, on {delay.amount} EUR) + indemnity {delay.indemnity} EUR = {delay.total_due} EUR"
    )
