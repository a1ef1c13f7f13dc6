"""The ``chorus`` layer: what Chorus Pro routes on and rejects, checked in Python.

:func:`check_routing` reads an invoice's facts (:mod:`.validation_facts`) and says, with the fix,
what the platform would refuse: the buyer's and the seller's SIRET (where each layout puts it),
the engagement number and service code the buyer demands (:mod:`.budgets` or the caller's
directory), the invoice number, type code, billing framework, payment means and IBAN, the credit
note's reference, the currency.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from stdnum import iban as stdnum_iban

from .budgets import Requirements, compact_siret, find_budget, is_valid_siret
from .validation_report import LAYOUTS, Finding, InvoiceFacts

__all__ = [
    "ALLOWED_TYPE_CODES",
    "INVOICE_NUMBER_MAX",
    "INVOICE_NUMBER_RE",
    "RequirementsSource",
    "check_routing",
]

# BR-FR-04: the reform's list of document types; Chorus Pro's direct deposit has used 380 and 381.
ALLOWED_TYPE_CODES = frozenset(
    {"380", "389", "393", "501", "386", "500", "384", "471", "472", "473", "261", "262", "381", "396", "502", "503"}
)
LEGACY_TYPE_CODES = frozenset({"380", "381"})
CREDIT_TRANSFER_CODES = frozenset({"30", "31", "42", "58"})  # UNTDID 4461: need an IBAN (OCA check)
INVOICE_NUMBER_MAX = 20  # Chorus Pro numeroFacture varchar(20)
INVOICE_NUMBER_RE = re.compile(r"^[A-Za-z0-9\-_/+]+$")
ENGAGEMENT_MAX = 50  # numeroBonCommande varchar(50)
SERVICE_CODE_MAX = 100  # codeServiceExecutant varchar(100)
CHORUS_FRAMEWORK_RE = re.compile(r"^A\d{1,2}$")  # Chorus "cadre de facturation": A1, A2, A9, A12...


RequirementsSource = Mapping[str, Requirements] | Callable[[str], "Requirements | None"] | None


def _requirements_for(siret: str | None, requirements: RequirementsSource) -> Requirements:
    if not siret:
        return Requirements()
    if requirements is None:
        budget = find_budget(siret)
        return budget.requirements if budget else Requirements()
    if callable(requirements):
        return requirements(siret) or Requirements()
    compact = {compact_siret(key): value for key, value in requirements.items()}
    return compact.get(compact_siret(siret)) or Requirements()


def _siret_problem(value: str) -> str:
    compact = compact_siret(value)
    if not compact.isdigit():
        return "contains characters other than digits"
    if len(compact) != 14:
        return f"has {len(compact)} digits instead of 14"
    return "fails the SIRET check digit (Luhn): a digit is wrong"


_Add = Callable[..., None]


def _check_number(facts: InvoiceFacts, add: _Add) -> None:
    """BT-1: Chorus Pro ``numeroFacture`` is varchar(20), letters, digits and - _ / + only."""
    number = facts.number
    if not number:
        add("CHORUS-INVOICE-NUMBER", "BT-1", "The invoice number (BT-1) is missing: give the invoice its number.")
        return
    if len(number) > INVOICE_NUMBER_MAX:
        add("CHORUS-INVOICE-NUMBER-LENGTH", "BT-1",
            f"The invoice number (BT-1) {number!r} has {len(number)} characters; Chorus Pro accepts at most "
            f"{INVOICE_NUMBER_MAX}. Use a shorter numbering sequence.")
    if not INVOICE_NUMBER_RE.match(number):
        add("CHORUS-INVOICE-NUMBER-FORMAT", "BT-1",
            f"The invoice number (BT-1) {number!r} contains characters Chorus Pro refuses: only letters, "
            "digits and - _ / + are allowed, without spaces. Change the numbering sequence's prefix.")


def _check_type_code(facts: InvoiceFacts, add: _Add, layout: str) -> None:
    """BT-3: the BR-FR-04 list; direct deposits have used 380 and 381 only."""
    type_code = facts.type_code
    if not type_code:
        add("CHORUS-TYPE-CODE", "BT-3", "The document type code (BT-3) is missing: use 380 (invoice) or 381 "
            "(credit note).")
    elif type_code not in ALLOWED_TYPE_CODES:
        add("CHORUS-TYPE-CODE", "BT-3", f"The document type code (BT-3) {type_code!r} is not accepted: use 380 "
            "(invoice) or 381 (credit note).")
    elif layout == "direct" and type_code not in LEGACY_TYPE_CODES:
        add("CHORUS-TYPE-CODE", "BT-3", f"The document type code (BT-3) {type_code!r} is in the reform list, but "
            "direct deposits on Chorus Pro have used 380 (invoice) and 381 (credit note) only.", "warning")


def _check_parties(facts: InvoiceFacts, add: _Add, layout: str) -> None:
    """Buyer SIRET (BT-47 direct / BT-46 reform) and seller SIRET (BT-30 direct / BT-29 reform)."""
    direct = layout == "direct"
    buyer_bt, seller_bt = ("BT-47", "BT-30") if direct else ("BT-46", "BT-29")
    where_buyer = ("the buyer's legal registration identifier (BT-47, SpecifiedLegalOrganization/ID schemeID 0009)"
                   if direct else "the buyer's identifier (BT-46, GlobalID schemeID 0009)")
    where_seller = ("the seller's legal registration identifier (BT-30, SpecifiedLegalOrganization/ID schemeID "
                    "0009)" if direct else "the seller's identifier (BT-29, GlobalID schemeID 0009)")
    buyer_siret = facts.buyer_siret
    if not direct and not facts.buyer_global_siret and buyer_siret:
        add("CHORUS-BUYER-SIRET", "BT-46", f"In the reform layout the buyer's SIRET goes in BT-46 (GlobalID "
            f"schemeID 0009); it was only found in BT-47 ({facts.buyer_legal_id!r}), which must hold the SIREN.")
    if not buyer_siret:
        found = f" (found {facts.buyer_legal_id!r})" if facts.buyer_legal_id else ""
        add("CHORUS-BUYER-SIRET", buyer_bt, f"The buyer's SIRET is missing{found}: Chorus Pro routes the invoice "
            f"to the public structure by {where_buyer}. Set the 14-digit SIRET of the buyer (for the Métropole, "
            "the SIRET of the budget invoiced) on the invoice address.")
    elif not is_valid_siret(buyer_siret):
        add("CHORUS-BUYER-SIRET", buyer_bt, f"The buyer's SIRET {buyer_siret!r} {_siret_problem(buyer_siret)}: "
            "Chorus Pro would reject the invoice (unknown recipient). Correct the SIRET of the invoice address "
            "(for the Métropole, copy it from the budget list).")
    seller_siret = facts.seller_siret
    if not seller_siret:
        found = f" (found {facts.seller_legal_id!r})" if facts.seller_legal_id else ""
        add("CHORUS-SELLER-SIRET", seller_bt, f"The seller's SIRET is missing{found}: Chorus Pro identifies the "
            f"supplier by {where_seller}. Set the company's 14-digit SIRET in the company settings.")
    elif not is_valid_siret(seller_siret):
        add("CHORUS-SELLER-SIRET", seller_bt, f"The seller's SIRET {seller_siret!r} "
            f"{_siret_problem(seller_siret)}. Correct the company's SIRET in the company settings.")


def _check_references(facts: InvoiceFacts, add: _Add, requirements: RequirementsSource) -> None:
    """What the buyer demands: engagement number (BT-13), service code (BT-10); their lengths."""
    buyer_siret = facts.buyer_siret
    wanted = _requirements_for(buyer_siret if buyer_siret and is_valid_siret(buyer_siret) else None, requirements)
    buyer_label = facts.buyer_name or buyer_siret or "the buyer"
    if wanted.engagement and not facts.engagement:
        add("CHORUS-ENGAGEMENT", "BT-13", f"{buyer_label} requires an engagement number (numéro d'engagement "
            "juridique, BT-13) and the invoice has none: type the number printed on the purchase order in the "
            "invoice's 'Engagement Juridique' field.")
    if wanted.service_code and not facts.service_code:
        add("CHORUS-SERVICE-CODE", "BT-10", f"{buyer_label} requires a service code (code service exécutant, "
            "BT-10) and the invoice has none: fill in the invoice's 'Service Exécutant' field with the code "
            "given by the buyer.")
    if wanted.service_or_engagement and not (facts.service_code or facts.engagement):
        add("CHORUS-SERVICE-OR-ENGAGEMENT", "BT-10", f"{buyer_label} requires a service code (BT-10) or an "
            "engagement number (BT-13) and the invoice has neither: fill in at least one of them.")
    if facts.engagement and len(facts.engagement) > ENGAGEMENT_MAX:
        add("CHORUS-ENGAGEMENT-LENGTH", "BT-13", f"The engagement number (BT-13) has {len(facts.engagement)} "
            f"characters; Chorus Pro accepts at most {ENGAGEMENT_MAX}. Copy it exactly from the purchase order.")
    if facts.service_code and len(facts.service_code) > SERVICE_CODE_MAX:
        add("CHORUS-SERVICE-CODE-LENGTH", "BT-10", f"The service code (BT-10) has {len(facts.service_code)} "
            f"characters; Chorus Pro accepts at most {SERVICE_CODE_MAX}.")


def _check_framework(facts: InvoiceFacts, add: _Add, layout: str) -> None:
    """BT-23 in the direct layout: the Chorus Pro billing framework (A1, A2...)."""
    if layout != "direct":
        return  # the reform list is BR-FR-08's business
    if not facts.business_process:
        add("CHORUS-BUSINESS-PROCESS", "BT-23", "The billing framework (BT-23) is absent: Chorus Pro applies its "
            "default A1 (supplier invoice). Set it to A1, or A2 if the invoice is already paid.", "info")
    elif not CHORUS_FRAMEWORK_RE.match(facts.business_process):
        add("CHORUS-BUSINESS-PROCESS", "BT-23", f"The billing framework (BT-23) {facts.business_process!r} is not "
            "a Chorus Pro framework (A1, A2...): in a direct deposit use A1 (A2 if already paid); B1/S1/M1 belong "
            "to the reform layout.", "warning")


def _check_credit_note(facts: InvoiceFacts, add: _Add) -> None:
    """Credit notes: the invoice they correct (BT-25), no payment means (OCA)."""
    if not facts.preceding_invoice:
        add("CHORUS-PRECEDING-INVOICE", "BT-25", "This credit note does not say which invoice it corrects "
            "(preceding invoice reference BT-25 with its date BT-26): link the credit note to its invoice.")
    if facts.payment_means_code:
        add("CHORUS-CREDIT-NOTE-PAYMENT-MEANS", "BT-81", f"This credit note carries a payment means "
            f"({facts.payment_means_code}); Chorus Pro expects none on a credit note. Remove it.", "warning")


def _check_payment(facts: InvoiceFacts, add: _Add) -> None:
    """Invoices: a payment means (BT-81), a credit transfer with a valid IBAN (BT-84)."""
    means = facts.payment_means_code
    if not means:
        add("CHORUS-PAYMENT-MEANS", "BT-81", "The payment means (BT-81) is missing and Chorus Pro rejects such "
            "invoices: pay by credit transfer (code 30) to the company's IBAN (set the bank account on the "
            "invoice).")
        return
    if means not in CREDIT_TRANSFER_CODES:
        add("CHORUS-PAYMENT-MEANS", "BT-81", f"The payment means code (BT-81) is {means!r}: public buyers pay by "
            "credit transfer; use code 30 with the company's IBAN.", "warning")
        return
    if facts.iban:
        if not stdnum_iban.is_valid(facts.iban):
            add("CHORUS-IBAN", "BT-84", f"The IBAN (BT-84) {facts.iban!r} is not valid (check digits or length): "
                "correct the company's bank account.")
    elif facts.proprietary_account:
        add("CHORUS-IBAN", "BT-84", f"The bank account (BT-84) {facts.proprietary_account!r} is written as a "
            "proprietary identifier (ProprietaryID), not as an IBAN (IBANID): Chorus Pro only accepts an IBAN. "
            "Use an IBAN bank account (Odoo 18's exporter needs the Chorus correction).")
    else:
        add("CHORUS-IBAN", "BT-84", "The credit transfer has no IBAN (BT-84): Chorus Pro only accepts an IBAN. "
            "Set the company's bank account (IBAN) on the invoice.")


def _check_currency(facts: InvoiceFacts, add: _Add) -> None:
    """BT-5: EUR (other currencies are a warning)."""
    if not facts.currency:
        add("CHORUS-CURRENCY", "BT-5", "The invoice currency (BT-5) is missing: set EUR.")
    elif facts.currency != "EUR":
        add("CHORUS-CURRENCY", "BT-5", f"The invoice is in {facts.currency}; French public buyers pay in EUR. "
            "Check that the buyer agreed to this currency (the reform also requires the VAT total in EUR, "
            "BT-6 / BT-111).", "warning")


def check_routing(
    facts: InvoiceFacts,
    requirements: RequirementsSource = None,
    layout: str = "direct",
) -> list[Finding]:
    """The Chorus Pro rules Python can check: what the platform routes on and rejects.

    Rule ids: ``CHORUS-INVOICE-NUMBER[-LENGTH|-FORMAT]`` (BT-1), ``CHORUS-TYPE-CODE`` (BT-3),
    ``CHORUS-BUYER-SIRET`` (BT-47 / BT-46), ``CHORUS-SELLER-SIRET`` (BT-30 / BT-29),
    ``CHORUS-ENGAGEMENT[-LENGTH]`` (BT-13), ``CHORUS-SERVICE-CODE[-LENGTH]`` (BT-10),
    ``CHORUS-SERVICE-OR-ENGAGEMENT``, ``CHORUS-BUSINESS-PROCESS`` (BT-23, direct layout),
    ``CHORUS-PAYMENT-MEANS`` (BT-81), ``CHORUS-IBAN`` (BT-84), ``CHORUS-PRECEDING-INVOICE`` (BT-25),
    ``CHORUS-CREDIT-NOTE-PAYMENT-MEANS`` (BT-81), ``CHORUS-CURRENCY`` (BT-5).

    :param requirements: what each buyer demands: a mapping SIRET (any spacing) ->
        :class:`~odoo_chorus_rouen.core.budgets.Requirements`, a callable SIRET -> Requirements
        (or None), or None for the defaults of :mod:`~odoo_chorus_rouen.core.budgets` (the
        Métropole budgets demand an engagement number; nothing is demanded of other buyers).
    :param layout: ``"direct"`` or ``"reform"``; says where the SIRET is expected.
    :raises ValueError: unknown layout.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    findings: list[Finding] = []

    def add(rule: str, bt: str | None, message: str, severity: str = "error") -> None:
        findings.append(Finding(rule, message, bt, None, "chorus", severity))

    _check_number(facts, add)
    _check_type_code(facts, add, layout)
    _check_parties(facts, add, layout)
    _check_references(facts, add, requirements)
    _check_framework(facts, add, layout)
    if facts.is_credit_note:
        _check_credit_note(facts, add)
    else:
        _check_payment(facts, add)
    _check_currency(facts, add)
    return findings

