"""Translated texts of the purchase order reader (``core/purchase_order.py``): its refusals, its reasons,
why a value is missing. The core speaks English with stable codes; each code has its text here
(``tests/test_purchase_order.py`` checks that none is missing)."""

from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

# InputError code -> why the file cannot be read as an order (params of the core's error).
REFUSALS = {
    "order_empty": _lt("The file is empty."),
    "order_unreadable": _lt("The file cannot be read (%(reason)s)."),
    "order_file_too_large": _lt(
        "The file weighs %(size)s MB; a purchase order is read up to %(max)s MB (what Chorus Pro accepts for one file)."
    ),
    "order_not_supported": _lt(
        "This file is neither a PDF nor an XML order: give the purchase order as the buyer sent it (PDF, Order-X or "
        "UBL Order)."
    ),
    "order_damaged": _lt("This file is damaged and cannot be read (%(reason)s): ask the buyer for the order again."),
    "order_encrypted": _lt("This PDF is protected by a password: ask the buyer for an unprotected copy of the order."),
    "order_encrypted_unsupported": _lt(
        "This PDF is encrypted and this server cannot decrypt it (the Python package cryptography is missing): ask "
        "the buyer for an unprotected copy, or your administrator to install it."
    ),
    "order_no_text": _lt(
        "This order has no text to read (a scan): type the values yourself, nothing was guessed."
    ),
    "order_too_many_pages": _lt(
        "This PDF has %(pages)s pages; a purchase order is read up to %(max)s: give the pages of the order only."
    ),
    "order_page_too_heavy": _lt(
        "Page %(page)s of this PDF holds more than %(max)s KB of drawing instructions: it is not a purchase order "
        "this reader takes."
    ),
    "order_content_too_heavy": _lt(
        "This PDF holds more than %(max)s MB of page content: it is not a purchase order this reader takes."
    ),
    "order_too_much_text": _lt(
        "This PDF holds more than %(max)s characters of text: it is not a purchase order this reader takes."
    ),
    "order_embedded_too_large": _lt(
        "The file %(name)s embedded in this PDF unpacks to more than %(max)s MB: not read."
    ),
    "order_too_complex": _lt("This PDF's pages nest too many drawings to be a purchase order: not read."),
    "order_is_invoice": _lt(
        "This PDF is an invoice (it carries %(file)s), not a purchase order: read the order the buyer sent you."
    ),
    "order_not_an_order": _lt("This file is not a purchase order (%(what)s): read the order the buyer sent you."),
}

# Reason code (core.order_ranking.REASONS) -> translated text, same placeholders.
REASONS = {
    "label": _lt("labelled \u201c%(label)s\u201d"),
    "value_on_next_line": _lt("the value is on the line after its label"),
    "xml_element": _lt("the order's structured data (%(element)s)"),
    "xml_order_number": _lt(
        "the order's own number: an invoice quotes it as its purchase order reference (BT-13); check that it is the "
        "engagement number"
    ),
    "xml_invoicee": _lt("the order's invoicee (%(element)s): the party the invoice goes to"),
    "xml_buyer": _lt("the order's buyer (%(element)s)"),
    "date_with_number": _lt("the date given with the order number"),
    "letter_date": _lt("the date of the letter (\u201c%(label)s\u201d)"),
    "known_recipient": _lt("a known Chorus Pro recipient: %(name)s"),
    "not_recipient": _lt("not one of the known Chorus Pro recipients"),
    "labelled_siret": _lt("labelled SIRET"),
    "invoicing_context": _lt("in the invoicing instructions (\u201c%(word)s\u201d)"),
    "footer": _lt("in the page footer"),
    "letterhead": _lt("in the letterhead (the buyer's seat)"),
    "split_over_lines": _lt("read across two lines"),
    "named_budget": _lt("the order names %(name)s"),
    "named_budget_only": _lt("the order names %(name)s, whose SIRET is %(siret)s"),
    "invalid_siret_seen": _lt(
        "the order also prints %(siret)s (page %(page)s, line %(line)s), which is not a valid SIRET (wrong check "
        "digit)"
    ),
    "known_service": _lt("an active service of %(name)s"),
    "unknown_service": _lt("not an active service of %(name)s"),
    "superseded": _lt("labelled as replaced or former (\u201c%(word)s\u201d)"),
    "excluded_date": _lt("a date of another kind (\u201c%(word)s\u201d), not the order's date"),
    "subtotal": _lt("a subtotal or carried-forward amount, not the order's total"),
    "totals_add_up": _lt("excluding tax + VAT = including tax"),
    "totals_do_not_add_up": _lt("excluding tax + VAT does not give the total including tax"),
    "supplier_siret": _lt("the supplier's SIRET (\u201c%(word)s\u201d), not the buyer's"),
    "own_siret": _lt("your own SIRET, not the buyer's"),
    "too_long": _lt("%(length)s characters: Chorus Pro accepts at most %(max)s"),
}

# FieldResult.why_code of a value not chosen -> translated text.
MISSING = {
    "not_found": _lt("Not found on the order."),
    "only_excluded": _lt("Only %(values)s, which cannot be used (see the lines above)."),
    "ambiguous": _lt("%(count)s values with no clear first: tick the right one, nothing was chosen for you."),
    "invalid_siret": _lt(
        "%(siret)s (page %(page)s, line %(line)s) is not a valid SIRET (wrong check digit): ask the buyer."
    ),
    "unknown_recipient": _lt(
        "The SIRET %(siret)s is not one of your Chorus Pro recipients: create its contact (a budget of the buyer) "
        "first if it is one."
    ),
    "siret_ambiguous": _lt("It depends on the SIRET, which is ambiguous."),
    "no_siret": _lt("No buyer SIRET on the order."),
}
