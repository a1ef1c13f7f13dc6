"""Chorus Pro corrections of Odoo 18's UBL exporter, for invoices deposited as a UBL XML flow.

Odoo's ``account.edi.xml.ubl_bis3`` (Peppol BIS Billing 3.0, a CIUS of EN 16931) computes lines,
taxes and totals; as for the CII (``account_edi_xml_cii.py``), we keep all of it and correct what
Chorus Pro routes on or rejects (EINVOICE_FORMATS.md §3 and §5, CHORUS_PRO_API.md §5.1-5.4):

* BT-24 ``CustomizationID`` = EN 16931 (not the Peppol CIUS: the deposit does not go through Peppol)
  and BT-23 ``ProfileID`` = the Chorus billing framework (A1, A2 when already paid; reform: B1/S1/M1...);
* the buyer is the **budget contact** the invoice is addressed to, with its SIRET in
  ``PartyIdentification/ID`` (BT-46, scheme ``0009``) and in ``PartyLegalEntity/CompanyID`` (BT-47,
  ``0009`` in the direct layout; SIREN ``0002`` in the reform one), the seller likewise
  (BT-29/BT-30); Odoo writes the Peppol endpoint and the commercial partner's identifiers;
* BT-10 ``BuyerReference`` = the service code and BT-13 ``OrderReference/ID`` = the engagement
  number, exactly the Chorus fields (Odoo falls back on the invoice's reference or number);
* notes PMT / PMD / AAB with the French ``#CODE#`` convention;
* payment means 30 with the IBAN on invoices, none on credit notes; BT-25/26 on credit notes;
* supporting documents as BG-24 ``AdditionalDocumentReference`` with the file embedded
  (``EmbeddedDocumentBinaryObject``, ``@mimeCode``, ``@filename``).

Only the UBL the send job builds for a Chorus Pro deposit is touched (context key
``chorus_pro_xml_flow``); every other UBL export (Peppol...) is Odoo's.
"""

from __future__ import annotations

import base64

from lxml import etree

from odoo import models
from odoo.tools import cleanup_xml_node

from ..core.attachments import mime_type  # noqa: TID252
from .account_edi_xml_cii import (
    GUIDELINE_EN16931,
    LAYOUT_DIRECT,
    LEGAL_NOTES,
    PAYMENT_MEANS_CREDIT_TRANSFER,
    SCHEME_EADDRESS,
    SCHEME_SIREN,
    SCHEME_SIRET,
)
from .ir_attachment import DEFAULT_DOCUMENT_TYPE

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}

# The UBL 2.1 Invoice / CreditNote sequence, header part: a new element goes before the first of these.
_HEADER = (
    "UBLVersionID", "CustomizationID", "ProfileID", "ProfileExecutionID", "ID", "CopyIndicator", "UUID",
    "IssueDate", "IssueTime", "DueDate", "TaxPointDate", "InvoiceTypeCode", "CreditNoteTypeCode", "Note",
    "DocumentCurrencyCode", "TaxCurrencyCode", "PricingCurrencyCode", "PaymentCurrencyCode",
    "PaymentAlternativeCurrencyCode", "AccountingCostCode", "AccountingCost", "LineCountNumeric", "BuyerReference",
    "InvoicePeriod", "DiscrepancyResponse", "OrderReference", "BillingReference", "DespatchDocumentReference",
    "ReceiptDocumentReference", "StatementDocumentReference", "OriginatorDocumentReference",
    "ContractDocumentReference", "AdditionalDocumentReference", "ProjectReference", "Signature",
    "AccountingSupplierParty", "AccountingCustomerParty", "PayeeParty", "BuyerCustomerParty",
    "SellerSupplierParty", "TaxRepresentativeParty", "Delivery", "DeliveryTerms", "PaymentMeans", "PaymentTerms",
    "PrepaidPayment", "AllowanceCharge", "TaxExchangeRate", "PricingExchangeRate", "PaymentExchangeRate",
    "PaymentAlternativeExchangeRate", "TaxTotal", "WithholdingTaxTotal", "LegalMonetaryTotal", "InvoiceLine",
    "CreditNoteLine",
)
_PARTY = (
    "MarkCareIndicator", "MarkAttentionIndicator", "WebsiteURI", "LogoReferenceID", "EndpointID",
    "IndustryClassificationCode", "PartyIdentification", "PartyName", "Language", "PostalAddress",
    "PhysicalLocation", "PartyTaxScheme", "PartyLegalEntity", "Contact", "Person", "AgentParty",
    "ServiceProviderParty", "PowerOfAttorney", "FinancialAccount",
)
_ADDRESS = ("StreetName", "AdditionalStreetName", "CityName", "PostalZone", "CountrySubentity", "AddressLine",
            "Country")


def _el(prefix, tag, text=None, **attrs):
    element = etree.Element(f"{{{NS[prefix]}}}{tag}", {k: v for k, v in attrs.items() if v})
    if text is not None:
        element.text = str(text)
    return element


def _place(parent, element, order):
    """Insert ``element`` in ``parent`` at its place in the XSD sequence ``order`` (after its equals)."""
    name = etree.QName(element).localname
    rank = order.index(name)
    position = len(parent)
    for index, child in enumerate(parent):
        if not isinstance(child.tag, str):
            continue
        local = etree.QName(child).localname
        if local in order and order.index(local) > rank:
            position = index
            break
    parent.insert(position, element)
    return element


def _drop(parent, path):
    for node in parent.findall(path, NS):
        parent.remove(node)


class AccountEdiXmlUBLBIS3(models.AbstractModel):
    _inherit = "account.edi.xml.ubl_bis3"

    def _export_invoice(self, invoice, convert_fixed_taxes=True):
        # EXTENDS account_edi_ubl_cii
        if not self.env.context.get("chorus_pro_xml_flow") or not invoice._chorus_pro_is_recipient_invoice():
            return super()._export_invoice(invoice, convert_fixed_taxes=convert_fixed_taxes)
        # l10n_fr_facturx_chorus_pro concatenates the buyer's Peppol scheme and endpoint, and fails when a public
        # buyer has none (no Peppol registration: the usual case here). Empty strings in the cache for the export
        # only (the Peppol identifiers are replaced below anyway); the stored values are untouched.
        buyer = invoice.partner_id.commercial_partner_id
        missing = [name for name in ("peppol_eas", "peppol_endpoint") if name in buyer._fields and not buyer[name]]
        for name in missing:
            self.env.cache.set(buyer, buyer._fields[name], "")
        try:
            xml_content, errors = super()._export_invoice(invoice, convert_fixed_taxes=convert_fixed_taxes)
        finally:
            if missing:
                buyer.invalidate_recordset(missing)
        tree = etree.fromstring(xml_content)
        self._chorus_pro_fix_ubl(invoice, tree)
        cleanup_xml_node(tree)
        return etree.tostring(tree, xml_declaration=True, encoding="UTF-8"), errors

    def _chorus_pro_fix_ubl(self, invoice, tree):
        """Apply every Chorus Pro correction to the rendered UBL ``tree`` (in place)."""
        cii = self.env["account.edi.xml.cii"]
        layout = cii._chorus_pro_layout(invoice.company_id)
        routing = invoice._chorus_pro_routing()
        is_refund = invoice.move_type == "out_refund"
        self._chorus_pro_ubl_header(invoice, tree, cii._chorus_pro_business_process(invoice, layout))
        self._chorus_pro_ubl_notes(invoice, tree)
        self._chorus_pro_ubl_references(invoice, tree, routing.service_code, is_refund)
        self._chorus_pro_ubl_party(tree.find("cac:AccountingSupplierParty/cac:Party", NS), routing.seller_siret,
                                   layout, invoice.company_id.partner_id)
        self._chorus_pro_ubl_party(tree.find("cac:AccountingCustomerParty/cac:Party", NS), routing.buyer_siret,
                                   layout, invoice._chorus_pro_recipient(), buyer_name=routing.buyer_name)
        self._chorus_pro_ubl_payment_means(invoice, tree, is_refund)
        if self.env.context.get("chorus_pro_embed_documents"):
            self._chorus_pro_ubl_documents(invoice, tree)

    def _chorus_pro_ubl_header(self, invoice, tree, business_process):
        _drop(tree, "cbc:UBLVersionID")
        customization = tree.find("cbc:CustomizationID", NS)
        if customization is None:
            customization = _place(tree, _el("cbc", "CustomizationID"), _HEADER)
        customization.text = GUIDELINE_EN16931  # BT-24
        _drop(tree, "cbc:ProfileID")
        _place(tree, _el("cbc", "ProfileID", business_process), _HEADER)  # BT-23

    def _chorus_pro_ubl_notes(self, invoice, tree):
        lang = invoice.partner_id.lang or invoice.commercial_partner_id.lang or invoice.company_id.partner_id.lang
        translate = self.with_context(lang=lang).env._
        existing = {(note.text or "").strip()[:5] for note in tree.findall("cbc:Note", NS)}
        for subject_code, text in LEGAL_NOTES.items():
            if f"#{subject_code}#" not in existing:
                _place(tree, _el("cbc", "Note", f"#{subject_code}#{translate(text)}"), _HEADER)

    def _chorus_pro_ubl_references(self, invoice, tree, service_code, is_refund):
        """BT-10, BT-13, BT-12 exactly from the Chorus fields; BT-25/26 on a credit note."""
        _drop(tree, "cbc:BuyerReference")
        if service_code:
            _place(tree, _el("cbc", "BuyerReference", service_code), _HEADER)
        _drop(tree, "cac:OrderReference")
        engagement = (invoice.purchase_order_reference or "").strip()
        if engagement:
            order = _el("cac", "OrderReference")
            order.append(_el("cbc", "ID", engagement))
            _place(tree, order, _HEADER)
        _drop(tree, "cac:ContractDocumentReference")
        contract = (invoice.contract_reference or "").strip()
        if contract:
            reference = _el("cac", "ContractDocumentReference")
            reference.append(_el("cbc", "ID", contract))
            _place(tree, reference, _HEADER)
        _drop(tree, "cac:BillingReference")
        origin = invoice.reversed_entry_id
        if is_refund and origin:
            billing = _el("cac", "BillingReference")
            document = _el("cac", "InvoiceDocumentReference")
            document.append(_el("cbc", "ID", origin.name))
            if origin.invoice_date:
                document.append(_el("cbc", "IssueDate", origin.invoice_date.isoformat()))
            billing.append(document)
            _place(tree, billing, _HEADER)

    def _chorus_pro_ubl_party(self, party, siret, layout, partner, buyer_name=None):
        """BT-29/30 or BT-46/47 by layout, the budget's name, an address with a country."""
        direct = layout == LAYOUT_DIRECT
        _drop(party, "cbc:EndpointID")
        if not direct and siret:  # BT-34 / BT-49: the reform's electronic address
            address = f"{siret[:9]}_{siret}" if buyer_name is not None else siret[:9]
            _place(party, _el("cbc", "EndpointID", address, schemeID=SCHEME_EADDRESS), _PARTY)
        _drop(party, "cac:PartyIdentification")
        if siret:
            identification = _el("cac", "PartyIdentification")
            identification.append(_el("cbc", "ID", siret, schemeID=SCHEME_SIRET))
            _place(party, identification, _PARTY)
        name = buyer_name or partner.commercial_partner_id.name
        if buyer_name is not None:
            _drop(party, "cac:PartyName")
            party_name = _el("cac", "PartyName")
            party_name.append(_el("cbc", "Name", name))
            _place(party, party_name, _PARTY)
        for scheme in party.findall("cac:PartyTaxScheme", NS):
            if not (scheme.findtext("cbc:CompanyID", namespaces=NS) or "").strip():
                party.remove(scheme)  # a buyer without VAT number (UBL-SR-53: no tax scheme without its ID)
        _drop(party, "cac:PartyLegalEntity")
        legal = _el("cac", "PartyLegalEntity")
        legal.append(_el("cbc", "RegistrationName", name))  # BT-27 / BT-44
        if siret:
            legal.append(_el("cbc", "CompanyID", siret if direct else siret[:9],
                             schemeID=SCHEME_SIRET if direct else SCHEME_SIREN))
        _place(party, legal, _PARTY)
        # A budget contact often has no address of its own: use the commercial partner's (BR-11: BT-55).
        address = party.find("cac:PostalAddress", NS)
        if address is None or address.find("cac:Country/cbc:IdentificationCode", NS) is None:
            if address is not None:
                party.remove(address)
            source = partner if partner.country_id else partner.commercial_partner_id
            if source.country_id:
                address = _el("cac", "PostalAddress")
                for tag, value in (("StreetName", source.street), ("AdditionalStreetName", source.street2),
                                   ("CityName", source.city), ("PostalZone", source.zip)):
                    if value:
                        address.append(_el("cbc", tag, value))
                country = _el("cac", "Country")
                country.append(_el("cbc", "IdentificationCode", source.country_id.code))
                address.append(country)
                _place(party, address, _PARTY)

    def _chorus_pro_ubl_payment_means(self, invoice, tree, is_refund):
        """BT-81/84: credit transfer (30) to the IBAN on invoices; nothing on credit notes."""
        _drop(tree, "cac:PaymentMeans")
        account = (invoice.partner_bank_id.sanitized_acc_number or "").upper()
        if is_refund or not account:
            return
        means = _el("cac", "PaymentMeans")
        means.append(_el("cbc", "PaymentMeansCode", PAYMENT_MEANS_CREDIT_TRANSFER))
        if invoice.payment_reference:
            means.append(_el("cbc", "PaymentID", invoice.payment_reference))
        financial = _el("cac", "PayeeFinancialAccount")
        # Chorus Pro only accepts an IBAN; posting already refuses another account (the check would say it too).
        financial.append(_el("cbc", "ID", account))
        bic = (invoice.partner_bank_id.bank_id.bic or "").replace(" ", "").upper()
        if bic:
            branch = _el("cac", "FinancialInstitutionBranch")
            branch.append(_el("cbc", "ID", bic))
            financial.append(branch)
        means.append(financial)
        _place(tree, means, _HEADER)

    def _chorus_pro_ubl_documents(self, invoice, tree):
        """BG-24: each supporting document embedded (BT-125) with its type and name (BT-125-1/2)."""
        _drop(tree, "cac:AdditionalDocumentReference")
        for attachment in invoice._chorus_pro_documents():
            reference = _el("cac", "AdditionalDocumentReference")
            reference.append(_el("cbc", "ID", attachment.name))  # BT-122
            reference.append(_el("cbc", "DocumentDescription",
                                 attachment.chorus_pro_document_type or DEFAULT_DOCUMENT_TYPE))  # BT-123
            embedded = _el("cac", "Attachment")
            embedded.append(_el("cbc", "EmbeddedDocumentBinaryObject", base64.b64encode(attachment.raw).decode(),
                                mimeCode=mime_type(attachment.name), filename=attachment.name))
            reference.append(embedded)
            _place(tree, reference, _HEADER)
