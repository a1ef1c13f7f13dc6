"""The facts of an invoice: what Chorus Pro routes on, read from its CII or UBL XML.

:func:`read_facts` gives an :class:`~.validation_report.InvoiceFacts` (number, type code, parties
and their SIRET, service code, engagement number, payment means, totals...), ``None`` for what the
XML does not carry. The SIRET is read where each layout puts it: BT-29 / BT-46 under scheme 0009,
else a 14-digit legal identifier (BT-30 / BT-47).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from .budgets import compact_siret
from .errors import InputError
from .validation_input import NAMESPACES, format_of_root, load_document, looks_like_pdf, parse_xml
from .validation_report import Format, InvoiceFacts

__all__ = ["facts_of", "read_facts"]


def _text(node: etree._Element, path: str) -> str | None:
    found = node.xpath(path, namespaces=NAMESPACES)
    for item in found:
        value = item if isinstance(item, str) else item.text
        if value is not None and value.strip():
            return value.strip()
    return None


def _decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        return None


def _date(value: str | None, fmt: str) -> date | None:
    if not value:
        return None
    digits = value.strip()
    try:
        if fmt == "102":
            return date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
        return date.fromisoformat(digits[:10])
    except (ValueError, IndexError):
        return None


def _siret_from(global_siret: str | None, legal_id: str | None) -> str | None:
    """The party's SIRET: BT-29/BT-46 under scheme 0009, else a 14-digit legal identifier."""
    if global_siret:
        return compact_siret(global_siret)
    if legal_id:
        compact = compact_siret(legal_id)
        if len(compact) == 14:
            return compact
    return None


def _cii_facts(root: etree._Element) -> InvoiceFacts:
    hta = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
    hts = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
    seller = f"{hta}/ram:SellerTradeParty"
    buyer = f"{hta}/ram:BuyerTradeParty"
    currency = _text(root, f"{hts}/ram:InvoiceCurrencyCode")
    summation = f"{hts}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    tax_total = _text(root, f"{summation}/ram:TaxTotalAmount[@currencyID='{currency}']") if currency else None
    seller_global = _text(root, f"{seller}/ram:GlobalID[@schemeID='0009']")
    seller_legal = _text(root, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID")
    buyer_global = _text(root, f"{buyer}/ram:GlobalID[@schemeID='0009']")
    buyer_legal = _text(root, f"{buyer}/ram:SpecifiedLegalOrganization/ram:ID")
    account = f"{hts}/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount"
    return InvoiceFacts(
        number=_text(root, "rsm:ExchangedDocument/ram:ID"),
        type_code=_text(root, "rsm:ExchangedDocument/ram:TypeCode"),
        issue_date=_date(_text(root, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString"), "102"),
        currency=currency,
        seller_siret=_siret_from(seller_global, seller_legal),
        seller_name=_text(root, f"{seller}/ram:Name"),
        seller_vat=_text(root, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']"),
        buyer_siret=_siret_from(buyer_global, buyer_legal),
        buyer_name=_text(root, f"{buyer}/ram:Name"),
        service_code=_text(root, f"{hta}/ram:BuyerReference"),
        engagement=_text(root, f"{hta}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"),
        contract=_text(root, f"{hta}/ram:ContractReferencedDocument/ram:IssuerAssignedID"),
        preceding_invoice=_text(root, f"{hts}/ram:InvoiceReferencedDocument/ram:IssuerAssignedID"),
        business_process=_text(
            root, "rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"),
        profile=_text(root, "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"),
        payment_means_code=_text(root, f"{hts}/ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode"),
        iban=_text(root, f"{account}/ram:IBANID"),
        total_without_tax=_decimal(_text(root, f"{summation}/ram:TaxBasisTotalAmount")),
        tax_total=_decimal(tax_total or _text(root, f"{summation}/ram:TaxTotalAmount")),
        total_with_tax=_decimal(_text(root, f"{summation}/ram:GrandTotalAmount")),
        amount_due=_decimal(_text(root, f"{summation}/ram:DuePayableAmount")),
        seller_legal_id=seller_legal,
        seller_legal_scheme=_text(root, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID/@schemeID"),
        seller_global_siret=seller_global,
        buyer_legal_id=buyer_legal,
        buyer_legal_scheme=_text(root, f"{buyer}/ram:SpecifiedLegalOrganization/ram:ID/@schemeID"),
        buyer_global_siret=buyer_global,
        proprietary_account=_text(root, f"{account}/ram:ProprietaryID"),
    )


def _ubl_facts(root: etree._Element) -> InvoiceFacts:
    seller = "cac:AccountingSupplierParty/cac:Party"
    buyer = "cac:AccountingCustomerParty/cac:Party"
    currency = _text(root, "cbc:DocumentCurrencyCode")
    # Legacy Chorus UBL (EDI annex) put the SIRET in PartyIdentification with schemeID "1".
    seller_global = _text(root, f"{seller}/cac:PartyIdentification/cbc:ID[@schemeID='0009' or @schemeID='1']")
    buyer_global = _text(root, f"{buyer}/cac:PartyIdentification/cbc:ID[@schemeID='0009' or @schemeID='1']")
    seller_legal = _text(root, f"{seller}/cac:PartyLegalEntity/cbc:CompanyID")
    buyer_legal = _text(root, f"{buyer}/cac:PartyLegalEntity/cbc:CompanyID")
    tax = _text(root, f"cac:TaxTotal/cbc:TaxAmount[@currencyID='{currency}']") if currency else None
    means = "cac:PaymentMeans"
    return InvoiceFacts(
        number=_text(root, "cbc:ID"),
        type_code=_text(root, "cbc:InvoiceTypeCode|cbc:CreditNoteTypeCode"),
        issue_date=_date(_text(root, "cbc:IssueDate"), "iso"),
        currency=currency,
        seller_siret=_siret_from(seller_global, seller_legal),
        seller_name=_text(root, f"{seller}/cac:PartyLegalEntity/cbc:RegistrationName|{seller}/cac:PartyName/cbc:Name"),
        seller_vat=_text(root, f"{seller}/cac:PartyTaxScheme/cbc:CompanyID"),
        buyer_siret=_siret_from(buyer_global, buyer_legal),
        buyer_name=_text(root, f"{buyer}/cac:PartyLegalEntity/cbc:RegistrationName|{buyer}/cac:PartyName/cbc:Name"),
        service_code=_text(root, "cbc:BuyerReference"),
        engagement=_text(root, "cac:OrderReference/cbc:ID"),
        contract=_text(root, "cac:ContractDocumentReference/cbc:ID"),
        preceding_invoice=_text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"),
        business_process=_text(root, "cbc:ProfileID"),
        profile=_text(root, "cbc:CustomizationID"),
        payment_means_code=_text(root, f"{means}/cbc:PaymentMeansCode"),
        iban=_text(root, f"{means}/cac:PayeeFinancialAccount/cbc:ID"),
        total_without_tax=_decimal(_text(root, "cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount")),
        tax_total=_decimal(tax or _text(root, "cac:TaxTotal/cbc:TaxAmount")),
        total_with_tax=_decimal(_text(root, "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount")),
        amount_due=_decimal(_text(root, "cac:LegalMonetaryTotal/cbc:PayableAmount")),
        seller_legal_id=seller_legal,
        seller_legal_scheme=_text(root, f"{seller}/cac:PartyLegalEntity/cbc:CompanyID/@schemeID"),
        seller_global_siret=seller_global,
        buyer_legal_id=buyer_legal,
        buyer_legal_scheme=_text(root, f"{buyer}/cac:PartyLegalEntity/cbc:CompanyID/@schemeID"),
        buyer_global_siret=buyer_global,
    )


def facts_of(root: etree._Element, fmt: Format) -> InvoiceFacts:
    """The facts of a parsed CII (or Factur-X) or UBL root element."""
    return _ubl_facts(root) if fmt is Format.UBL else _cii_facts(root)


def read_facts(xml: bytes, fmt: Format | None = None) -> InvoiceFacts:
    """Read the routing data of an invoice XML (CII or UBL; a Factur-X PDF is accepted too).

    :raises InputError: not well formed, DOCTYPE, unknown root element.
    """
    if looks_like_pdf(xml):
        document = load_document(xml)
        return facts_of(document.root, document.format)
    root = parse_xml(xml)
    detected = format_of_root(root)
    expected = Format.UBL if fmt is Format.UBL else Format.CII
    if fmt is not None and detected is not expected:
        raise InputError(f"The XML is {detected.value}, not {fmt.value}", code="unknown_root",
                         params={"reason": detected.value})
    return facts_of(root, detected)

