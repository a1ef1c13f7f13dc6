"""``chorus-rouen read-order FILE [--json]``: what Chorus Pro needs, read from a buyer's purchase order.

Kept out of ``cli.py``: the parser registers :func:`add_parser`. Exit status: 0 read, the buyer's
SIRET and the engagement number found and nothing ambiguous; 1 read, but a person must look (the
SIRET or the engagement number missing, or a value left ambiguous); 2 the file cannot be read as an
order (missing, too large, damaged, protected, a scan, not an order): one line on stderr.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .core.errors import InputError

__all__ = ["add_parser", "format_reading", "run_read_order"]

LABELS = {
    "siret": "Buyer SIRET",
    "budget": "Budget",
    "engagement": "Engagement",
    "service_code": "Service code",
    "contract": "Contract",
    "order_number": "Order number",
    "order_date": "Order date",
    "totals": "Totals",
    "totals.untaxed": "Total excl. tax",
    "totals.tax": "VAT",
    "totals.with_tax": "Total incl. tax",
}
WIDTH = 14


def add_parser(sub, func) -> None:
    """Register ``read-order`` on the command's sub-parsers; ``func(args)`` runs it (cli.cmd_read_order)."""
    parser = sub.add_parser(
        "read-order",
        help="read a buyer's purchase order: SIRET, budget, engagement number, service code, contract...",
        description="Read a public buyer's purchase order (PDF with a text layer, Order-X or UBL Order XML, or a "
        "PDF carrying an Order-X) and print what an invoice to Chorus Pro needs, each value with where it was "
        "read and how sure it is. Competing values are ranked with the reason; nothing is chosen when they are "
        "too close. A scan (no text) is refused: no OCR.",
        epilog="exit status: 0 read, SIRET and engagement number found, nothing ambiguous; 1 read, but a person "
        "must look (SIRET or engagement number missing, or a value ambiguous); 2 the file cannot be read as an "
        "order (one line on stderr); 3 internal error.",
    )
    parser.add_argument("file", metavar="FILE", help="the purchase order (PDF, Order-X or UBL Order XML)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=func)


def _quote(text: str, limit: int = 110) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[:limit - 1] + "\u2026"
    return f"\u201c{text}\u201d"


def _where(evidence) -> str:
    where = f"{evidence.where()}: {_quote(evidence.text)}"
    if evidence.also:
        places = ", ".join(f"line {place.line}" if place.source == evidence.source != "pdf" else place.where()
                           for place in evidence.also[:4])
        more = f" and {len(evidence.also) - 4} more" if len(evidence.also) > 4 else ""
        where += f" (also {places}{more})"
    return where


def _display(field: str, result) -> str:
    if field == "totals" and "currency" in result.value:
        return f"{result.chosen.display} ({result.value['currency']})"
    return result.chosen.display


def format_reading(path: str, reading) -> list[str]:
    """The lines ``read-order`` prints for one order."""
    pages = f", {reading.pages} page{'s' if reading.pages != 1 else ''}" if reading.pages else ""
    out = [f"{path}: purchase order read ({reading.source}{pages})"]
    indent = " " * (WIDTH + 2)
    for field in ("siret", "budget", "engagement", "service_code", "contract", "order_number", "order_date",
                  "totals"):
        result = reading.results[field]
        label = f"  {LABELS[field]:<{WIDTH}}"
        if result.decision == "chosen":
            out.append(f"{label}{_display(field, result)}  [{result.confidence}]")
            out.append(indent + (result.why if field == "budget" else _where(result.chosen.evidence)))
        elif result.decision == "ambiguous":
            out.append(f"{label}AMBIGUOUS, nothing chosen: {result.why}")
        else:
            out.append(f"{label}not found: {result.why}")
    competing = [(name, result) for name, result in reading.results.items()
                 if name not in ("budget", "totals") and result.ranked
                 and (len(result.ranked) > 1 or result.chosen is None)]
    if competing:
        out.append("Candidates, ranked:")
        for name, result in competing:
            verdict = {"chosen": "first one chosen", "ambiguous": "none chosen: too close",
                       "missing": "none usable"}[result.decision]
            out.append(f"  {LABELS[name]} ({verdict}):")
            for rank, item in enumerate(result.ranked, start=1):
                mark = "excluded" if item.excluded else f"#{rank}, score {item.score}"
                out.append(f"    {item.display}  [{mark}] {_where(item.evidence)}")
                out.append(f"      {item.why()}")
    if reading.needs_attention:
        problems = [LABELS[result.field] for result in reading.results.values() if result.decision == "ambiguous"
                    and "." not in result.field]
        problems += [LABELS[field] for field in ("siret", "engagement")
                     if reading.results[field].decision == "missing"]
        out.append("A person must look: " + ", ".join(dict.fromkeys(problems)) + " (see above).")
    return out


def run_read_order(args: argparse.Namespace, ui) -> int:
    """The ``read-order`` command; ``ui`` is :mod:`.cli` (its output, errors and exit statuses)."""
    from .core.purchase_order import read_order_file

    path = Path(args.file)
    if path.is_dir():
        raise ui.CliError(f"{args.file}: is a directory, not a purchase order")
    if not path.exists():
        raise ui.CliError(f"{args.file}: no such file")
    try:
        reading = read_order_file(path, name=path.name)
    except InputError as err:
        raise ui.CliError(f"{args.file}: {err.message}") from None
    if args.json:
        ui._out(json.dumps(reading.to_dict(), ensure_ascii=False, indent=2))
    else:
        for line in format_reading(args.file, reading):
            ui._out(line)
    return ui.EXIT_FAILED if reading.needs_attention else ui.EXIT_OK
