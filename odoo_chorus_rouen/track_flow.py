"""``chorus-rouen track FLOW_NUMBER``: a flow's state in words, and what a duplicate refusal really means.

Chorus Pro refuses an invoice whose number the supplier already used ("... a deja ete deposee dans
Chorus Pro (doublon) : emettre une facture avec un nouveau numero"). After a deposit left without
answer, the second deposit is refused *because the first one went through*: Chorus Pro holds the
invoice from the earlier flow, and obeying the platform's words would bill the buyer twice. So a
duplicate refusal is explained, not repeated: the invoice Chorus Pro holds under that number is
looked up (supplier + number, recipient; and when the send journal has the file, type, amount
including tax and date, the checks of ``core.delivery.find_original`` that Odoo makes too).

An unknown flow number is said like an unknown ``--invoice`` number: "not found on Chorus Pro",
exit status 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .cli_text import printable
from .core import delivery
from .core.errors import ApiError
from .core.status import flow_status, invoice_status

__all__ = ["NOT_FOUND_CODE", "track_flow"]

#: ``codeRetour`` of consulterCRDetaille for a flow number the platform does not know: 20000, "no
#: result", as on the searches (CHORUS_PRO_API.md §5: codes are per operation [U] for this one).
NOT_FOUND_CODE = 20000


def _original_text(original: Any) -> str:
    """The invoice Chorus Pro holds, in words: flow, id, amount, date and status."""
    parts = [f"Chorus Pro ID {original.chorus_id}"]
    if original.amount_ttc is not None:
        parts.append(f"{original.amount_ttc:.2f} {printable(original.currency or 'EUR')} including tax")
    if getattr(original, "invoice_date", None):
        parts.append(f"dated {original.invoice_date.isoformat()}")
    parts.append(invoice_status(original.status).label_en)
    return f"the earlier flow {printable(original.flow_number or '?')} ({', '.join(parts)})"


def _duplicate_lines(client: Any, flow: str, error: Any, journal: Any) -> list[str]:
    """What a duplicate refusal of one invoice of ``flow`` means, from the platform and the journal."""
    number = error.invoice_number or ""
    entry = journal.find_flow(flow) if journal is not None else None
    entry = entry if entry is not None and entry.number == number else None
    facts = journal.facts(number) if entry is not None else None
    original, is_ours = delivery.find_original(
        [s for s in client.search_invoices(invoice_number=number) if s.flow_number != flow],
        number,
        buyer_siret=error.recipient_id,
        supplier_siret=error.supplier_id,
        invoice_type=entry.invoice_type if entry is not None else None,
        amount_ttc=facts.total_with_tax if facts is not None else None,
        invoice_date=facts.issue_date if facts is not None else None,
    )
    shown = printable(number)
    if original is not None and is_ours and entry is not None:
        return [f"  invoice {shown}: refused as a duplicate, as expected: Chorus Pro already holds this invoice from "
                f"{_original_text(original)}. Nothing needs to be done: chorus-rouen track "
                f"{printable(original.flow_number or '')} follows it."]
    if original is not None and is_ours:
        return [f"  invoice {shown}: refused as a duplicate: Chorus Pro already holds an invoice {shown} of this "
                f"supplier for this recipient, from {_original_text(original)}. If it is this invoice (an earlier "
                "deposit went through), Chorus Pro received it once and nothing needs to be done; compare its amount "
                "and date with yours."]
    if original is not None:
        return [f"  invoice {shown} rejected: its number is already used on Chorus Pro by another invoice, from "
                f"{_original_text(original)}, whose amount, date or recipient differ from the file this flow "
                "carried: issue a credit note, or a new invoice with a new number."]
    if entry is not None and entry.uncertain:
        return [f"  invoice {shown}: refused as a duplicate: Chorus Pro already has this invoice from the earlier "
                "deposit that got no answer, and does not list it yet. Nothing needs to be done."]
    return [f"  invoice {shown} rejected: {printable(error.message)}"]


def track_flow(client: Any, flow: str, out: Callable[[str], None], journal: Any = None) -> tuple[int, list]:
    """Print the state of ``flow`` and its errors; return ``(exit status, invoices to print)``.

    :param journal: the send journal (an :class:`~.core.outbox.Outbox`) of this platform and account,
        or None: it tells whether the file of a refused flow is the invoice Chorus Pro holds.
    """
    try:
        report = client.flow_report(flow)
    except ApiError as err:
        if err.chorus_code == NOT_FOUND_CODE:
            out(f"Flow {printable(flow)}: not found on Chorus Pro (not deposited on this platform and account, "
                "or mistyped)")
            return 1, []
        raise
    info = flow_status(report.state)
    out(f"Flow {printable(flow)}: {info.label_en} ({printable(report.state)})")
    for error in report.technical_errors:
        out(f"  technical error {printable(error.code)}: {printable(error.label)}")
    for error in report.dp_errors:
        if delivery.is_duplicate_refusal(error.message):
            for line in _duplicate_lines(client, flow, error, journal):
                out(line)
        else:
            out(f"  invoice {printable(error.invoice_number)} rejected: {printable(error.message)}")
    if info.state.value == "rejected":
        return 0, []
    return 0, list(client.search_invoices(flow_number=flow))
