"""Invoices made to order for the sandbox: tests, demos and benchmarks.

:func:`make_cii` writes a CII D16B invoice (Factur-X EN 16931 profile, *direct* Chorus Pro layout:
SIRET in BT-30 / BT-47 with scheme 0009, BT-23 ``A1``, service code in BT-10, engagement number in
BT-13, payment means 30 with the IBAN) modelled on ``data/invoices/cii_eau_invoice.xml``; it passes
the XSD and the EN 16931 / BR-FR Schematrons of :mod:`odoo_chorus_rouen.core.validation`.
:func:`make_facturx` embeds it in a one-page PDF with the ``factur-x`` library. Standard library
only, except ``factur-x`` which is imported when a PDF is asked for.

>>> xml = make_cii("FAC-TEST-0001", engagement="EJ-1")
>>> b"<ram:ID>FAC-TEST-0001</ram:ID>" in xml
True
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from xml.sax.saxutils import escape

from .pdf import simple_pdf

__all__ = ["DEMO_SUPPLIER", "SECOND_SUPPLIER", "deposit_body", "make_cii", "make_facturx", "make_invoice"]

DEMO_SUPPLIER = {
    "name": "Normandie Services Numériques SAS",
    "siret": "88412345600011",
    "vat": "FR52884123456",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
    "street": "12 rue Jeanne d'Arc",
    "zip": "76000",
    "city": "Rouen",
}
SECOND_SUPPLIER = {
    "name": "Atelier Seine Maintenance SARL",
    "siret": "51234567900017",
    "vat": "FR75512345679",
    "iban": "FR7630004000031234567890143",
    "bic": "BNPAFRPP",
    "street": "5 quai de Paris",
    "zip": "76000",
    "city": "Rouen",
}
BUDGET_PRINCIPAL = "20002341400101"
CREDIT_NOTE = "381"

_TEMPLATE = """<?xml version='1.0' encoding='UTF-8'?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" \
xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" \
xmlns:qdt="urn:un:unece:uncefact:data:standard:QualifiedDataType:100" \
xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
  <rsm:ExchangedDocumentContext>
    <ram:BusinessProcessSpecifiedDocumentContextParameter><ram:ID>A1</ram:ID>\
</ram:BusinessProcessSpecifiedDocumentContextParameter>
    <ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>urn:cen.eu:en16931:2017</ram:ID>\
</ram:GuidelineSpecifiedDocumentContextParameter>
  </rsm:ExchangedDocumentContext>
  <rsm:ExchangedDocument>
    <ram:ID>{number}</ram:ID>
    <ram:TypeCode>{type_code}</ram:TypeCode>
    <ram:IssueDateTime><udt:DateTimeString format="102">{issue}</udt:DateTimeString></ram:IssueDateTime>
    <ram:IncludedNote><ram:Content>{description}</ram:Content></ram:IncludedNote>
    <ram:IncludedNote><ram:Content>Indemnite forfaitaire pour frais de recouvrement en cas de retard de paiement : \
40 euros.</ram:Content><ram:SubjectCode>PMT</ram:SubjectCode></ram:IncludedNote>
    <ram:IncludedNote><ram:Content>Penalites de retard : taux d'interet legal majore de 8 points.</ram:Content>\
<ram:SubjectCode>PMD</ram:SubjectCode></ram:IncludedNote>
    <ram:IncludedNote><ram:Content>Pas d'escompte pour paiement anticipe.</ram:Content>\
<ram:SubjectCode>AAB</ram:SubjectCode></ram:IncludedNote>
  </rsm:ExchangedDocument>
  <rsm:SupplyChainTradeTransaction>
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:AssociatedDocumentLineDocument><ram:LineID>1</ram:LineID></ram:AssociatedDocumentLineDocument>
      <ram:SpecifiedTradeProduct><ram:Name>{description}</ram:Name></ram:SpecifiedTradeProduct>
      <ram:SpecifiedLineTradeAgreement>
        <ram:GrossPriceProductTradePrice><ram:ChargeAmount>{ht}</ram:ChargeAmount></ram:GrossPriceProductTradePrice>
        <ram:NetPriceProductTradePrice><ram:ChargeAmount>{ht}</ram:ChargeAmount></ram:NetPriceProductTradePrice>
      </ram:SpecifiedLineTradeAgreement>
      <ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="C62">1</ram:BilledQuantity>\
</ram:SpecifiedLineTradeDelivery>
      <ram:SpecifiedLineTradeSettlement>
        <ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>S</ram:CategoryCode>\
<ram:RateApplicablePercent>{rate}</ram:RateApplicablePercent></ram:ApplicableTradeTax>
        <ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>{ht}</ram:LineTotalAmount>\
</ram:SpecifiedTradeSettlementLineMonetarySummation>
      </ram:SpecifiedLineTradeSettlement>
    </ram:IncludedSupplyChainTradeLineItem>
    <ram:ApplicableHeaderTradeAgreement>{buyer_reference}
      <ram:SellerTradeParty>
        <ram:Name>{seller_name}</ram:Name>
        <ram:SpecifiedLegalOrganization><ram:ID schemeID="0009">{seller_siret}</ram:ID>\
</ram:SpecifiedLegalOrganization>
        <ram:PostalTradeAddress><ram:PostcodeCode>{seller_zip}</ram:PostcodeCode>\
<ram:LineOne>{seller_street}</ram:LineOne><ram:CityName>{seller_city}</ram:CityName>\
<ram:CountryID>FR</ram:CountryID></ram:PostalTradeAddress>
        <ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">{seller_vat}</ram:ID></ram:SpecifiedTaxRegistration>
      </ram:SellerTradeParty>
      <ram:BuyerTradeParty>
        <ram:Name>{buyer_name}</ram:Name>
        <ram:SpecifiedLegalOrganization><ram:ID schemeID="0009">{buyer_siret}</ram:ID>\
</ram:SpecifiedLegalOrganization>
        <ram:PostalTradeAddress><ram:PostcodeCode>76006</ram:PostcodeCode>\
<ram:LineOne>108 allee Francois Mitterrand</ram:LineOne><ram:CityName>Rouen</ram:CityName>\
<ram:CountryID>FR</ram:CountryID></ram:PostalTradeAddress>
      </ram:BuyerTradeParty>{order_reference}
    </ram:ApplicableHeaderTradeAgreement>
    <ram:ApplicableHeaderTradeDelivery><ram:ActualDeliverySupplyChainEvent><ram:OccurrenceDateTime>\
<udt:DateTimeString format="102">{issue}</udt:DateTimeString></ram:OccurrenceDateTime>\
</ram:ActualDeliverySupplyChainEvent></ram:ApplicableHeaderTradeDelivery>
    <ram:ApplicableHeaderTradeSettlement>
      <ram:PaymentReference>{number}</ram:PaymentReference>
      <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>{payment_means}
      <ram:ApplicableTradeTax><ram:CalculatedAmount>{tva}</ram:CalculatedAmount><ram:TypeCode>VAT</ram:TypeCode>\
<ram:BasisAmount>{ht}</ram:BasisAmount><ram:CategoryCode>S</ram:CategoryCode>\
<ram:DueDateTypeCode>5</ram:DueDateTypeCode><ram:RateApplicablePercent>{rate}</ram:RateApplicablePercent>\
</ram:ApplicableTradeTax>
      <ram:SpecifiedTradePaymentTerms><ram:Description>30 jours date de facture</ram:Description>\
<ram:DueDateDateTime><udt:DateTimeString format="102">{due}</udt:DateTimeString></ram:DueDateDateTime>\
</ram:SpecifiedTradePaymentTerms>
      <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
        <ram:LineTotalAmount>{ht}</ram:LineTotalAmount>
        <ram:TaxBasisTotalAmount>{ht}</ram:TaxBasisTotalAmount>
        <ram:TaxTotalAmount currencyID="EUR">{tva}</ram:TaxTotalAmount>
        <ram:GrandTotalAmount>{ttc}</ram:GrandTotalAmount>
        <ram:TotalPrepaidAmount>0.00</ram:TotalPrepaidAmount>
        <ram:DuePayableAmount>{ttc}</ram:DuePayableAmount>
      </ram:SpecifiedTradeSettlementHeaderMonetarySummation>{preceding}
    </ram:ApplicableHeaderTradeSettlement>
  </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>
"""

_PAYMENT_MEANS = """
      <ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>30</ram:TypeCode>\
<ram:PayeePartyCreditorFinancialAccount><ram:IBANID>{iban}</ram:IBANID></ram:PayeePartyCreditorFinancialAccount>\
<ram:PayeeSpecifiedCreditorFinancialInstitution><ram:BICID>{bic}</ram:BICID>\
</ram:PayeeSpecifiedCreditorFinancialInstitution></ram:SpecifiedTradeSettlementPaymentMeans>"""
_PRECEDING = """
      <ram:InvoiceReferencedDocument><ram:IssuerAssignedID>{reference}</ram:IssuerAssignedID>\
<ram:FormattedIssueDateTime><qdt:DateTimeString format="102">{issue}</qdt:DateTimeString>\
</ram:FormattedIssueDateTime></ram:InvoiceReferencedDocument>"""


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def make_cii(
    number: str,
    *,
    buyer_siret: str = BUDGET_PRINCIPAL,
    buyer_name: str = "Metropole Rouen Normandie",
    service_code: str | None = None,
    engagement: str | None = "EJ2026-000101",
    supplier: dict[str, str] | None = None,
    amount: str | Decimal = "1000.00",
    vat_rate: str | Decimal = "20.00",
    issue_date: date | None = None,
    type_code: str = "380",
    preceding_invoice: str | None = None,
    description: str = "Prestation de maintenance",
) -> bytes:
    """A CII invoice (or credit note with ``type_code="381"`` and ``preceding_invoice``) as UTF-8 bytes."""
    seller = {**DEMO_SUPPLIER, **(supplier or {})}
    issue = issue_date or date(2026, 10, 5)
    ht = Decimal(str(amount))
    rate = Decimal(str(vat_rate))
    tva = (ht * rate / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    credit = type_code == CREDIT_NOTE
    values = {
        "number": escape(number),
        "type_code": escape(type_code),
        "issue": issue.strftime("%Y%m%d"),
        "due": (issue + timedelta(days=30)).strftime("%Y%m%d"),
        "description": escape(description),
        "ht": _money(ht),
        "tva": _money(tva),
        "ttc": _money(ht + tva),
        "rate": _money(rate),
        "buyer_reference": f"\n      <ram:BuyerReference>{escape(service_code)}</ram:BuyerReference>"
        if service_code
        else "",
        "order_reference": (
            "\n      <ram:BuyerOrderReferencedDocument><ram:IssuerAssignedID>"
            f"{escape(engagement)}</ram:IssuerAssignedID></ram:BuyerOrderReferencedDocument>"
        )
        if engagement
        else "",
        "payment_means": "" if credit else _PAYMENT_MEANS.format(iban=seller["iban"], bic=seller["bic"]),
        "preceding": _PRECEDING.format(reference=escape(preceding_invoice), issue=issue.strftime("%Y%m%d"))
        if preceding_invoice
        else "",
        "seller_name": escape(seller["name"]),
        "seller_siret": escape(seller["siret"]),
        "seller_vat": escape(seller["vat"]),
        "seller_street": escape(seller["street"]),
        "seller_zip": escape(seller["zip"]),
        "seller_city": escape(seller["city"]),
        "buyer_siret": escape(buyer_siret),
        "buyer_name": escape(buyer_name),
    }
    return _TEMPLATE.format(**values).encode("utf-8")


def make_facturx(number: str, **options: object) -> bytes:
    """The same invoice as a Factur-X PDF (one visible page + embedded ``factur-x.xml``)."""
    import facturx  # heavy, and only needed for PDFs

    xml = make_cii(number, **options)  # type: ignore[arg-type]
    lines = [f"Facture {number}", f"Fournisseur : {DEMO_SUPPLIER['name']}", "(facture d'exemple du bac a sable)"]
    pdf = simple_pdf(lines, title=f"Facture {number}")
    return facturx.generate_from_binary(pdf, xml, flavor="factur-x", level="en16931", check_xsd=False)


def make_invoice(number: str, fmt: str = "cii", **options: object) -> tuple[bytes, str, str]:
    """``(file bytes, file name, syntaxeFlux)`` for ``fmt`` ``"cii"`` or ``"facturx"``."""
    safe = number.replace("/", "-")
    if fmt == "cii":
        return make_cii(number, **options), f"xml_cii_chorus_facture_{safe}.xml", "IN_DP_E1_CII_16B"  # type: ignore[arg-type]
    if fmt in ("facturx", "facturx_pdf"):
        return make_facturx(number, **options), f"pdf_factur-x_chorus_facture_{safe}.pdf", "IN_DP_E2_CII_FACTURX"
    raise ValueError(f"unknown sample format {fmt!r}: use 'cii' or 'facturx'")


def deposit_body(data: bytes, file_name: str, syntax: str) -> dict[str, object]:
    """A ``deposerFluxFacture`` body for these bytes."""
    import base64

    return {
        "fichierFlux": base64.b64encode(data).decode("ascii"),
        "nomFichier": file_name,
        "syntaxeFlux": syntax,
        "avecSignature": False,
    }
