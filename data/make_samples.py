#!/usr/bin/env python3
"""Build the sample invoices of ``data/invoices/`` (offline, deterministic, rerunnable).

Run from anywhere: ``python3 data/make_samples.py``. Every run writes byte-identical files:
dates are fixed, the PDF is written by hand, the Factur-X timestamps are pinned and the PDF
file identifier is derived from the invoice number.

The CII is modelled on what Odoo 18's exporter writes (``account_edi_ubl_cii`` template
``account_invoice_facturx_export_22``: same element order, same ``DueDateTypeCode`` 5, seller
contact, ``PaymentReference``...) with the Chorus Pro corrections of the *direct* layout
(see ``odoo_chorus_rouen/core/validation.py`` and DESIGN.md "Two layouts"):

* BT-24 = Factur-X EN 16931 (``urn:cen.eu:en16931:2017``); the Transports invoice declares
  EXTENDED, the URN Odoo 18 itself writes, so the EXTENDED XSD and Schematron are exercised too;
* BT-23 = ``A1`` (Chorus Pro "cadre de facturation": supplier invoice);
* seller and buyer SIRET as legal registration identifiers BT-30 / BT-47 under
  ``SpecifiedLegalOrganization/ID`` with **schemeID 0009** (SIRET-CODE, ISO 6523). Decision on
  EINVOICE_FORMATS.md open question 2: 0009 is the ICD code that *means* SIRET, it is what the
  2026 Akretion "old Chorus syntax" writes, and it keeps BR-FR-32 (0002 = 9-digit SIREN) quiet;
  Odoo 18's 0002-with-14-digits would be read by our validator too, but is not what we send;
* BT-10 service code (``BuyerReference``) where the buyer uses one, BT-13 engagement number
  (``BuyerOrderReferencedDocument``), BT-12 contract where there is one;
* payment means 30 (credit transfer) with the IBAN in ``IBANID`` (Odoo 18 writes 42 and
  ``ProprietaryID``), no payment means on credit notes;
* notes PMT / PMD / AAB with ``SubjectCode`` (BR-FR-05), one free note without a code;
* credit notes: type 381, positive amounts, ``InvoiceReferencedDocument`` (BT-25 / BT-26).

The broken samples differ from a good one by exactly the fault their name gives.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from lxml import etree

OUT_DIR = Path(__file__).resolve().parent / "invoices"

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
CII_NSMAP = {"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT}

UBL_INV = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

PROFILE_EN16931 = "urn:cen.eu:en16931:2017"
PROFILE_EXTENDED = "urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended"

# Demo data of CONTRACTS.md.
SELLER = {
    "name": "Normandie Services Numériques SAS",
    "siret": "88412345600011",
    "vat": "FR52884123456",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
    "street": "12 rue Jeanne d'Arc",
    "zip": "76000",
    "city": "Rouen",
    "country": "FR",
    "contact": "Service comptabilité",
    "phone": "+33 2 35 00 00 00",
    "email": "comptabilite@normandie-services-numeriques.example",
}
BUYER_ADDRESS = {
    "street": "108 allée François Mitterrand",
    "line2": "CS 50589",
    "zip": "76006",
    "city": "Rouen Cedex",
    "country": "FR",
}
BUDGET_NAMES = {
    "20002341400101": "Budget Principal",
    "20002341400036": "Budget annexe des Transports",
    "20002341400028": "Budget annexe des Déchets ménagers",
    "20002341400069": "Budget de l'Eau",
    "20002341499004": "Budget de l'Assainissement",
}

NOTES = (
    ("PMT", "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 euros "
            "(articles L441-10 et D441-5 du Code de commerce)."),
    ("PMD", "Pénalités de retard : taux d'intérêt légal majoré de 8 points (article L2192-13 du Code de la "
            "commande publique)."),
    ("AAB", "Pas d'escompte pour paiement anticipé."),
)

CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Line:
    name: str
    quantity: Decimal
    unit_price: Decimal
    unit: str = "C62"  # one (UN/ECE rec 20); HUR = hour, DAY = day
    vat_rate: Decimal = Decimal("20.00")

    @property
    def total(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Sample:
    file_name: str
    number: str
    buyer_siret: str
    issue_date: date
    lines: tuple[Line, ...]
    type_code: str = "380"
    profile: str = PROFILE_EN16931
    engagement: str | None = None  # BT-13
    service_code: str | None = None  # BT-10
    contract: str | None = None  # BT-12
    preceding_invoice: tuple[str, date] | None = None  # BT-25, BT-26
    free_note: str | None = None
    payment_means: bool = True
    delivery_date: date | None = None
    swap_header_order: bool = False  # broken_schema_error: BuyerReference after SellerTradeParty
    extra: dict = field(default_factory=dict)

    @property
    def is_credit_note(self) -> bool:
        return self.type_code == "381"

    @property
    def due_date(self) -> date:
        return self.issue_date + timedelta(days=30)

    def vat_breakdown(self) -> list[tuple[Decimal, Decimal, Decimal]]:
        """(rate, basis, tax) per VAT rate, rounded per rate like Odoo's tax_calculation_rounding 'round_globally'."""
        rates: dict[Decimal, Decimal] = {}
        for line in self.lines:
            rates[line.vat_rate] = rates.get(line.vat_rate, Decimal(0)) + line.total
        return [
            (rate, basis, (basis * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP))
            for rate, basis in sorted(rates.items(), reverse=True)
        ]

    @property
    def total_without_tax(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal(0))

    @property
    def tax_total(self) -> Decimal:
        return sum((tax for _rate, _basis, tax in self.vat_breakdown()), Decimal(0))

    @property
    def total_with_tax(self) -> Decimal:
        return self.total_without_tax + self.tax_total


# --------------------------------------------------------------------------------------------
# CII (Factur-X)
# --------------------------------------------------------------------------------------------

def _sub(parent, ns: str, tag: str, text: str | None = None, **attrib) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", {k: v for k, v in attrib.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def _ram(parent, tag: str, text: str | None = None, **attrib) -> etree._Element:
    return _sub(parent, RAM, tag, text, **attrib)


def _date102(parent, tag: str, value: date, ns: str = UDT) -> None:
    holder = _ram(parent, tag)
    _sub(holder, ns, "DateTimeString", value.strftime("%Y%m%d"), format="102")


def _cii_address(party, street: str, zip_code: str, city: str, country: str, line2: str | None = None) -> None:
    address = _ram(party, "PostalTradeAddress")
    _ram(address, "PostcodeCode", zip_code)
    _ram(address, "LineOne", street)
    if line2:
        _ram(address, "LineTwo", line2)
    _ram(address, "CityName", city)
    _ram(address, "CountryID", country)


def build_cii(sample: Sample) -> bytes:
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=CII_NSMAP)
    context = _sub(root, RSM, "ExchangedDocumentContext")
    _ram(_ram(context, "BusinessProcessSpecifiedDocumentContextParameter"), "ID", "A1")  # BT-23
    _ram(_ram(context, "GuidelineSpecifiedDocumentContextParameter"), "ID", sample.profile)  # BT-24

    document = _sub(root, RSM, "ExchangedDocument")
    _ram(document, "ID", sample.number)  # BT-1
    _ram(document, "TypeCode", sample.type_code)  # BT-3
    _date102(document, "IssueDateTime", sample.issue_date)  # BT-2
    if sample.free_note:
        _ram(_ram(document, "IncludedNote"), "Content", sample.free_note)
    for code, text in NOTES:  # BT-21 / BT-22
        note = _ram(document, "IncludedNote")
        _ram(note, "Content", text)
        _ram(note, "SubjectCode", code)

    transaction = _sub(root, RSM, "SupplyChainTradeTransaction")
    for index, line in enumerate(sample.lines, start=1):
        item = _ram(transaction, "IncludedSupplyChainTradeLineItem")
        _ram(_ram(item, "AssociatedDocumentLineDocument"), "LineID", str(index))
        _ram(_ram(item, "SpecifiedTradeProduct"), "Name", line.name)
        agreement = _ram(item, "SpecifiedLineTradeAgreement")
        _ram(_ram(agreement, "GrossPriceProductTradePrice"), "ChargeAmount", money(line.unit_price))
        _ram(_ram(agreement, "NetPriceProductTradePrice"), "ChargeAmount", money(line.unit_price))
        _ram(_ram(item, "SpecifiedLineTradeDelivery"), "BilledQuantity", str(line.quantity), unitCode=line.unit)
        settlement = _ram(item, "SpecifiedLineTradeSettlement")
        tax = _ram(settlement, "ApplicableTradeTax")
        _ram(tax, "TypeCode", "VAT")
        _ram(tax, "CategoryCode", "S")
        _ram(tax, "RateApplicablePercent", str(line.vat_rate))
        _ram(_ram(settlement, "SpecifiedTradeSettlementLineMonetarySummation"), "LineTotalAmount", money(line.total))

    agreement = _ram(transaction, "ApplicableHeaderTradeAgreement")
    buyer_reference = None
    if sample.service_code:
        buyer_reference = _ram(agreement, "BuyerReference", sample.service_code)  # BT-10
    seller = _ram(agreement, "SellerTradeParty")
    _ram(seller, "Name", SELLER["name"])
    _ram(_ram(seller, "SpecifiedLegalOrganization"), "ID", SELLER["siret"], schemeID="0009")  # BT-30
    contact = _ram(seller, "DefinedTradeContact")
    _ram(contact, "PersonName", SELLER["contact"])
    _ram(_ram(contact, "TelephoneUniversalCommunication"), "CompleteNumber", SELLER["phone"])
    _ram(_ram(contact, "EmailURIUniversalCommunication"), "URIID", SELLER["email"])
    _cii_address(seller, SELLER["street"], SELLER["zip"], SELLER["city"], SELLER["country"])
    _ram(_ram(seller, "SpecifiedTaxRegistration"), "ID", SELLER["vat"], schemeID="VA")  # BT-31
    if sample.swap_header_order and buyer_reference is not None:
        agreement.remove(buyer_reference)
        seller.addnext(buyer_reference)  # XSD: BuyerReference must come before SellerTradeParty

    buyer = _ram(agreement, "BuyerTradeParty")
    budget = BUDGET_NAMES.get(sample.buyer_siret, "Budget")
    _ram(buyer, "Name", f"Métropole Rouen Normandie - {budget}")
    _ram(_ram(buyer, "SpecifiedLegalOrganization"), "ID", sample.buyer_siret, schemeID="0009")  # BT-47
    _cii_address(buyer, BUYER_ADDRESS["street"], BUYER_ADDRESS["zip"], BUYER_ADDRESS["city"],
                 BUYER_ADDRESS["country"], BUYER_ADDRESS["line2"])
    if sample.engagement:
        _ram(_ram(agreement, "BuyerOrderReferencedDocument"), "IssuerAssignedID", sample.engagement)  # BT-13
    if sample.contract:
        _ram(_ram(agreement, "ContractReferencedDocument"), "IssuerAssignedID", sample.contract)  # BT-12

    delivery = _ram(transaction, "ApplicableHeaderTradeDelivery")
    if sample.delivery_date:
        event = _ram(delivery, "ActualDeliverySupplyChainEvent")
        _date102(event, "OccurrenceDateTime", sample.delivery_date)

    settlement = _ram(transaction, "ApplicableHeaderTradeSettlement")
    _ram(settlement, "PaymentReference", sample.number)
    _ram(settlement, "InvoiceCurrencyCode", "EUR")
    if sample.payment_means:
        means = _ram(settlement, "SpecifiedTradeSettlementPaymentMeans")
        _ram(means, "TypeCode", "30")  # BT-81: credit transfer
        _ram(_ram(means, "PayeePartyCreditorFinancialAccount"), "IBANID", SELLER["iban"])  # BT-84
        _ram(_ram(means, "PayeeSpecifiedCreditorFinancialInstitution"), "BICID", SELLER["bic"])  # BT-86
    for rate, basis, tax_amount in sample.vat_breakdown():
        tax = _ram(settlement, "ApplicableTradeTax")
        _ram(tax, "CalculatedAmount", money(tax_amount))
        _ram(tax, "TypeCode", "VAT")
        _ram(tax, "BasisAmount", money(basis))
        _ram(tax, "CategoryCode", "S")
        _ram(tax, "DueDateTypeCode", "5")
        _ram(tax, "RateApplicablePercent", str(rate))
    terms = _ram(settlement, "SpecifiedTradePaymentTerms")
    if sample.is_credit_note:
        _ram(terms, "Description", "Avoir à déduire du prochain règlement.")
    else:
        _ram(terms, "Description", "30 jours date de facture")
        _date102(terms, "DueDateDateTime", sample.due_date)  # BT-9
    summation = _ram(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _ram(summation, "LineTotalAmount", money(sample.total_without_tax))
    _ram(summation, "TaxBasisTotalAmount", money(sample.total_without_tax))
    _ram(summation, "TaxTotalAmount", money(sample.tax_total), currencyID="EUR")
    _ram(summation, "GrandTotalAmount", money(sample.total_with_tax))
    _ram(summation, "TotalPrepaidAmount", "0.00")
    _ram(summation, "DuePayableAmount", money(sample.total_with_tax))
    if sample.preceding_invoice:
        number, issued = sample.preceding_invoice
        reference = _ram(settlement, "InvoiceReferencedDocument")
        _ram(reference, "IssuerAssignedID", number)  # BT-25
        _date102(reference, "FormattedIssueDateTime", issued, ns=QDT)  # BT-26
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --------------------------------------------------------------------------------------------
# UBL 2.1 (EN 16931)
# --------------------------------------------------------------------------------------------

def _cbc(parent, tag: str, text: str | None = None, **attrib) -> etree._Element:
    return _sub(parent, CBC, tag, text, **attrib)


def _cac(parent, tag: str) -> etree._Element:
    return _sub(parent, CAC, tag)


def _ubl_party(parent, tag: str, name: str, siret: str, address: dict, vat: str | None = None) -> None:
    party = _cac(_cac(parent, tag), "Party")
    _cbc(_cac(party, "PartyName"), "Name", name)
    postal = _cac(party, "PostalAddress")
    _cbc(postal, "StreetName", address["street"])
    if address.get("line2"):
        _cbc(postal, "AdditionalStreetName", address["line2"])
    _cbc(postal, "CityName", address["city"])
    _cbc(postal, "PostalZone", address["zip"])
    _cbc(_cac(postal, "Country"), "IdentificationCode", address["country"])
    if vat:
        tax_scheme = _cac(party, "PartyTaxScheme")
        _cbc(tax_scheme, "CompanyID", vat)
        _cbc(_cac(tax_scheme, "TaxScheme"), "ID", "VAT")
    legal = _cac(party, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", name)
    _cbc(legal, "CompanyID", siret, schemeID="0009")  # BT-30 / BT-47


def build_ubl(sample: Sample) -> bytes:
    root = etree.Element(f"{{{UBL_INV}}}Invoice", nsmap={None: UBL_INV, "cac": CAC, "cbc": CBC})
    _cbc(root, "CustomizationID", sample.profile)  # BT-24
    _cbc(root, "ProfileID", "A1")  # BT-23
    _cbc(root, "ID", sample.number)
    _cbc(root, "IssueDate", sample.issue_date.isoformat())
    _cbc(root, "DueDate", sample.due_date.isoformat())
    _cbc(root, "InvoiceTypeCode", sample.type_code)
    if sample.free_note:
        _cbc(root, "Note", sample.free_note)
    for code, text in NOTES:  # French convention #CODE#text for BT-21/BT-22 in UBL
        _cbc(root, "Note", f"#{code}#{text}")
    _cbc(root, "DocumentCurrencyCode", "EUR")
    if sample.service_code:
        _cbc(root, "BuyerReference", sample.service_code)
    if sample.engagement:
        _cbc(_cac(root, "OrderReference"), "ID", sample.engagement)
    if sample.contract:
        _cbc(_cac(root, "ContractDocumentReference"), "ID", sample.contract)
    seller_address = {k: SELLER[k] for k in ("street", "zip", "city", "country")}
    _ubl_party(root, "AccountingSupplierParty", SELLER["name"], SELLER["siret"], seller_address, SELLER["vat"])
    budget = BUDGET_NAMES.get(sample.buyer_siret, "Budget")
    _ubl_party(root, "AccountingCustomerParty", f"Métropole Rouen Normandie - {budget}", sample.buyer_siret,
               BUYER_ADDRESS)
    if sample.delivery_date:
        _cbc(_cac(root, "Delivery"), "ActualDeliveryDate", sample.delivery_date.isoformat())
    means = _cac(root, "PaymentMeans")
    _cbc(means, "PaymentMeansCode", "30")
    _cbc(means, "PaymentID", sample.number)
    account = _cac(means, "PayeeFinancialAccount")
    _cbc(account, "ID", SELLER["iban"])
    _cbc(_cac(account, "FinancialInstitutionBranch"), "ID", SELLER["bic"])
    _cbc(_cac(root, "PaymentTerms"), "Note", "30 jours date de facture")
    tax_total = _cac(root, "TaxTotal")
    _cbc(tax_total, "TaxAmount", money(sample.tax_total), currencyID="EUR")
    for rate, basis, tax_amount in sample.vat_breakdown():
        subtotal = _cac(tax_total, "TaxSubtotal")
        _cbc(subtotal, "TaxableAmount", money(basis), currencyID="EUR")
        _cbc(subtotal, "TaxAmount", money(tax_amount), currencyID="EUR")
        category = _cac(subtotal, "TaxCategory")
        _cbc(category, "ID", "S")
        _cbc(category, "Percent", str(rate))
        _cbc(_cac(category, "TaxScheme"), "ID", "VAT")
    totals = _cac(root, "LegalMonetaryTotal")
    _cbc(totals, "LineExtensionAmount", money(sample.total_without_tax), currencyID="EUR")
    _cbc(totals, "TaxExclusiveAmount", money(sample.total_without_tax), currencyID="EUR")
    _cbc(totals, "TaxInclusiveAmount", money(sample.total_with_tax), currencyID="EUR")
    _cbc(totals, "PayableAmount", money(sample.total_with_tax), currencyID="EUR")
    for index, line in enumerate(sample.lines, start=1):
        item_line = _cac(root, "InvoiceLine")
        _cbc(item_line, "ID", str(index))
        _cbc(item_line, "InvoicedQuantity", str(line.quantity), unitCode=line.unit)
        _cbc(item_line, "LineExtensionAmount", money(line.total), currencyID="EUR")
        item = _cac(item_line, "Item")
        _cbc(item, "Name", line.name)
        category = _cac(item, "ClassifiedTaxCategory")
        _cbc(category, "ID", "S")
        _cbc(category, "Percent", str(line.vat_rate))
        _cbc(_cac(category, "TaxScheme"), "ID", "VAT")
        _cbc(_cac(item_line, "Price"), "PriceAmount", money(line.unit_price), currencyID="EUR")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------

def _pdf_text(value: str) -> bytes:
    """A PDF literal string in WinAnsi (Latin-1 subset) with the special characters escaped."""
    raw = value.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def simple_pdf(lines: list[str], identifier: str) -> bytes:
    """One A4 page of Helvetica text, written by hand (no timestamps, fixed file identifier)."""
    content = [b"BT", b"/F1 11 Tf", b"14 TL", b"50 790 Td"]
    for index, text in enumerate(lines):
        if index == 0:
            content.append(b"/F1 16 Tf")
        elif index == 1:
            content.append(b"/F1 11 Tf")
        content.append(_pdf_text(text) + b" Tj T*")
    content.append(b"ET")
    stream = b"\n".join(content)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    file_id = hashlib.md5(identifier.encode()).hexdigest().encode()  # noqa: S324 - an identifier, not security
    out += b"trailer\n<< /Size %d /Root 1 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, file_id, file_id, xref)
    return bytes(out)


def pdf_lines(sample: Sample) -> list[str]:
    kind = "AVOIR" if sample.is_credit_note else "FACTURE"
    budget = BUDGET_NAMES.get(sample.buyer_siret, "Budget")
    lines = [
        f"{kind} {sample.number}",
        "",
        f"{SELLER['name']} - {SELLER['street']}, {SELLER['zip']} {SELLER['city']}",
        f"SIRET {SELLER['siret']} - TVA {SELLER['vat']}",
        "",
        f"Client : Métropole Rouen Normandie - {budget}",
        f"SIRET destinataire : {sample.buyer_siret}",
        f"Date : {sample.issue_date.strftime('%d/%m/%Y')}",
    ]
    if sample.service_code:
        lines.append(f"Code service : {sample.service_code}")
    if sample.engagement:
        lines.append(f"Engagement juridique : {sample.engagement}")
    if sample.preceding_invoice:
        lines.append(f"Facture d'origine : {sample.preceding_invoice[0]} du "
                     f"{sample.preceding_invoice[1].strftime('%d/%m/%Y')}")
    lines.append("")
    for line in sample.lines:
        lines.append(f"{line.name} : {line.quantity} x {money(line.unit_price)} EUR HT = {money(line.total)} EUR HT "
                     f"(TVA {line.vat_rate} %)")
    lines += [
        "",
        f"Total HT : {money(sample.total_without_tax)} EUR",
        f"TVA : {money(sample.tax_total)} EUR",
        f"Total TTC : {money(sample.total_with_tax)} EUR",
    ]
    if sample.payment_means:
        lines.append(f"Virement - IBAN {SELLER['iban']} - BIC {SELLER['bic']}")
        lines.append(f"Échéance : {sample.due_date.strftime('%d/%m/%Y')}")
    lines.append("")
    lines += [text for _code, text in NOTES]
    return lines


def facturx_pdf(sample: Sample, xml: bytes) -> bytes:
    import facturx
    from facturx import facturx as facturx_module

    # factur-x stamps "now" into the PDF /Info and the XMP packet: pin both to the issue date.
    stamp = sample.issue_date
    original = (facturx_module._get_pdf_timestamp, facturx_module._get_metadata_timestamp)
    facturx_module._get_pdf_timestamp = lambda date=None: stamp.strftime("D:%Y%m%d120000+00'00'")
    facturx_module._get_metadata_timestamp = lambda: stamp.strftime("%Y-%m-%dT12:00:00+00:00")
    try:
        return facturx.generate_from_binary(
            simple_pdf(pdf_lines(sample), sample.number),
            xml,
            check_xsd=False,  # the validator is the judge here; broken samples must still be built
            lang="fr-FR",
            pdf_metadata={
                "author": SELLER["name"],
                "keywords": "Factur-X, Chorus Pro",
                "title": f"{SELLER['name']}: {sample.number}",
                "subject": f"Factur-X {sample.number} - Métropole Rouen Normandie",
            },
        )
    finally:
        facturx_module._get_pdf_timestamp, facturx_module._get_metadata_timestamp = original


# --------------------------------------------------------------------------------------------
# The samples
# --------------------------------------------------------------------------------------------

PRINCIPAL = Sample(
    file_name="facturx_principal_invoice.pdf",
    number="FAC-2026-0001",
    buyer_siret="20002341400101",
    issue_date=date(2026, 10, 5),
    engagement="EJ2026-000101",
    contract="MAR-2025-0042",
    free_note="Maintenance applicative du portail usagers - septembre 2026.",
    delivery_date=date(2026, 9, 30),
    lines=(
        Line("Maintenance applicative (forfait mensuel)", Decimal("1"), Decimal("2400.00")),
        Line("Support utilisateurs", Decimal("6.5"), Decimal("85.00"), unit="HUR"),
    ),
)
TRANSPORTS = Sample(
    file_name="facturx_transports_invoice.pdf",
    number="FAC-2026-0002",
    buyer_siret="20002341400036",
    issue_date=date(2026, 10, 6),
    profile=PROFILE_EXTENDED,
    service_code="DIR-MOBILITES",
    engagement="EJ2026-000236",
    free_note="Supervision du système d'information voyageurs - septembre 2026.",
    delivery_date=date(2026, 9, 30),
    lines=(
        Line("Supervision SIV (forfait mensuel)", Decimal("1"), Decimal("3150.00")),
        Line("Intervention sur site", Decimal("2"), Decimal("640.00"), unit="DAY"),
    ),
)
EAU = Sample(
    file_name="cii_eau_invoice.xml",
    number="FAC-2026-0003",
    buyer_siret="20002341400069",
    issue_date=date(2026, 10, 7),
    engagement="EJ2026-000369",
    free_note="Hébergement de l'application de relève des compteurs - octobre 2026.",
    delivery_date=date(2026, 10, 1),
    lines=(
        Line("Hébergement applicatif (mois)", Decimal("1"), Decimal("980.00")),
        Line("Sauvegarde externalisée (Go)", Decimal("250"), Decimal("0.35")),
    ),
)
DECHETS_CREDIT = Sample(
    file_name="facturx_dechets_credit_note.pdf",
    number="AV-2026-0001",
    type_code="381",
    buyer_siret="20002341400028",
    issue_date=date(2026, 10, 8),
    engagement="EJ2026-000128",
    preceding_invoice=("FAC-2026-0097", date(2026, 9, 15)),
    free_note="Avoir sur la facture FAC-2026-0097 : jours de support non consommés.",
    delivery_date=date(2026, 9, 15),
    payment_means=False,
    lines=(Line("Support utilisateurs non consommé", Decimal("4"), Decimal("85.00"), unit="HUR"),),
)
ASSAINISSEMENT_UBL = Sample(
    file_name="ubl_assainissement_invoice.xml",
    number="FAC-2026-0005",
    buyer_siret="20002341499004",
    issue_date=date(2026, 10, 9),
    service_code="DIR-ASSAINISSEMENT",
    engagement="EJ2026-990045",
    free_note="Télégestion des postes de relèvement - septembre 2026.",
    delivery_date=date(2026, 9, 30),
    lines=(
        Line("Télégestion (forfait mensuel)", Decimal("1"), Decimal("1750.00")),
        Line("Astreinte week-end", Decimal("2"), Decimal("310.00"), unit="DAY"),
    ),
)

BROKEN_MISSING_ENGAGEMENT = replace(
    PRINCIPAL, file_name="broken_missing_engagement.pdf", number="FAC-2026-0006", engagement=None,
    issue_date=date(2026, 10, 12),
)
BROKEN_WRONG_SIRET = replace(
    PRINCIPAL, file_name="broken_wrong_siret.pdf", number="FAC-2026-0007",
    buyer_siret="20002341400102",  # Budget Principal's SIRET with the last digit changed: Luhn check fails
    issue_date=date(2026, 10, 12),
)
BROKEN_SCHEMA_ERROR = replace(
    TRANSPORTS, file_name="broken_schema_error.xml", number="FAC-2026-0008", profile=PROFILE_EN16931,
    swap_header_order=True, issue_date=date(2026, 10, 13),
)
BROKEN_CREDIT_NOTE_WITHOUT_REFERENCE = replace(
    DECHETS_CREDIT, file_name="broken_credit_note_without_reference.pdf", number="AV-2026-0002",
    preceding_invoice=None, free_note="Avoir : jours de support non consommés.", issue_date=date(2026, 10, 14),
)

SAMPLES = (
    PRINCIPAL,
    TRANSPORTS,
    EAU,
    DECHETS_CREDIT,
    ASSAINISSEMENT_UBL,
    BROKEN_MISSING_ENGAGEMENT,
    BROKEN_WRONG_SIRET,
    BROKEN_SCHEMA_ERROR,
    BROKEN_CREDIT_NOTE_WITHOUT_REFERENCE,
)


def render(sample: Sample) -> bytes:
    if sample.file_name.startswith("ubl_"):
        return build_ubl(sample)
    xml = build_cii(sample)
    if sample.file_name.endswith(".pdf"):
        return facturx_pdf(sample, xml)
    return xml


def main(argv: list[str] | None = None) -> int:
    out_dir = Path(argv[0]) if argv else OUT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    numbers = [sample.number for sample in SAMPLES]
    assert len(numbers) == len(set(numbers)), "invoice numbers must be unique across samples"
    for sample in SAMPLES:
        data = render(sample)
        (out_dir / sample.file_name).write_bytes(data)
        print(f"{sample.file_name:45} {sample.number:14} {len(data):7} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
