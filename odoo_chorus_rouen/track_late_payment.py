"""``chorus-rouen track --invoice``: the legal payment delay, days late and what is due (core/late_payment).

Kept out of ``cli.py``: the track command calls :func:`add_options` on its parser and :func:`print_delay`
for each invoice it found.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from .core.errors import ChorusError
from .core.late_payment import DEFAULT_DELAY_DAYS, MissingRateError, compute_delay, half_year_label, rate_table

__all__ = ["add_options", "print_delay"]

_RATE_RE = re.compile(r"^(?P<year>\d{4})\s*-?\s*[HhSs](?P<half>[12])\s*=\s*(?P<rate>-?\d+(?:[.,]\d+)?)$")


def _rate(text: str) -> tuple[tuple[int, int], Decimal]:
    match = _RATE_RE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected YEAR-H1=RATE or YEAR-H2=RATE (e.g. 2026-H2=2.15), not {text!r}")
    try:
        rate = Decimal(match["rate"].replace(",", "."))
    except InvalidOperation as err:  # pragma: no cover - the pattern only lets numbers through
        raise argparse.ArgumentTypeError(f"not a rate: {match['rate']!r}") from err
    return (int(match["year"]), int(match["half"])), rate


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--delay",
        type=int,
        default=DEFAULT_DELAY_DAYS,
        metavar="DAYS",
        help=f"the buyer's legal payment delay (default {DEFAULT_DELAY_DAYS}: local authorities; 50: public hospitals)",
    )
    parser.add_argument(
        "--ecb-rate",
        type=_rate,
        action="append",
        default=[],
        metavar="YEAR-HN=RATE",
        help="ECB main refinancing rate of a half-year missing from the shipped table (e.g. 2026-H2=2.15)",
    )


def print_delay(client: Any, invoice: Any, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    """Print the payment delay of one found invoice (``InvoiceSummary``), from its Chorus Pro history."""
    if args.delay <= 0:
        out("  payment delay: --delay must be a positive number of days")
        return
    amount = invoice.amount_due if invoice.amount_due is not None else invoice.amount_ttc
    if amount is None:
        out("  payment delay: Chorus Pro gives no amount for this invoice, nothing counted")
        return
    try:
        history = client.invoice_history(invoice.chorus_id)
    except ChorusError as err:
        out(f"  payment delay: history not read ({err})")
        return
    rates = {**rate_table(), **dict(args.ecb_rate)}
    try:
        delay = compute_delay(history.entries, amount, args.delay, rates=rates)
    except MissingRateError as err:
        year, half = err.params["year"], err.params["half"]
        out(f"  paid late, but {err}")
        out(f"  give it with --ecb-rate {year}-H{half}=RATE")
        return
    if delay.state == "no_start":
        out("  payment delay: not yet made available to the buyer, not started")
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
    elif delay.state == "paid_on_time":
        out(f"  paid on time: payment initiated on {delay.paid_on}, nothing to claim")
    else:
        when = f"payment initiated on {delay.paid_on}" if delay.paid_on else f"still unpaid on {delay.as_of}"
        label = half_year_label(*delay.half_year)
        out(f"  {'paid' if delay.paid_on else 'overdue'}: {delay.days_late} days late ({when})")
        out(
            f"  due by law: interest {delay.interest} EUR ({delay.rate} % = ECB {delay.ecb_rate} % of {label}"
            f" + 8, on {delay.amount} EUR) + indemnity {delay.indemnity} EUR = {delay.total_due} EUR"
        )
