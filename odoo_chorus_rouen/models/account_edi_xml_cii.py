"""Chorus Pro corrections of Odoo 18's own Factur-X (CII) exporter.

Odoo's ``account.edi.xml.cii`` computes lines, taxes and totals (the hard part); we keep all of it
and only correct what Chorus Pro routes on or rejects (EINVOICE_FORMATS.md §3 and §5):

* the buyer is the **budget contact** the invoice is addressed to (``partner_id``), not the
  commercial partner: its SIRET goes in BT-47 (``SpecifiedLegalOrganization/ID``) and BT-46
  (``GlobalID``);
* identifiers use the scheme of the company's layout (direct deposit: SIRET ``0009``; reform:
  SIREN ``0002`` + SIRET ``0009`` + electronic addresses ``0225``);
* BT-23 (billing framework: A1, or A2 when already paid; reform: B1/S1/M1 or B2/S2/M2);
* BT-24 = EN 16931, the same level the PDF's XMP declares (Odoo writes EXTENDED in the XML and
  "EN 16931" in the XMP);
* BT-10 / BT-13 only from the Chorus fields (Odoo falls back on the partner's reference and on
  the invoice number, which Chorus would take for a wrong service code or engagement);
* notes PMT / PMD / AAB with their ``SubjectCode`` (BR-FR-05/06);
* the IBAN as ``IBANID`` (Odoo compares the account number with the string ``'iban'`` and always
  writes ``ProprietaryID``) with payment means 30 on invoices, and no payment means on credit notes;
* BT-25/26 (preceding invoice) on credit notes.

Only invoices addressed to a Chorus Pro recipient are touched; every other export is Odoo's.
"""

from __future__ import annotations

from lxml import etree
from stdnum import iban as stdnum_iban

from odoo import models
from odoo.tools import LazyTranslate, cleanup_xml_node

_lt = LazyTranslate(__name__)

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
RAM = "{{{}}}".format(NS["ram"])
QDT = "{{{}}}".format(NS["qdt"])

# BT-24: the Factur-X EN 16931 (comfort) profile. The PDF's XMP must say the same level.
FACTURX_LEVEL = "en16931"
GUIDELINE_EN16931 = "urn:cen.eu:en16931:2017"

SCHEME_SIRET = "0009"  # ISO 6523 ICD: SIRET-CODE
SCHEME_SIREN = "0002"  # ISO 6523 ICD: SIRENE
SCHEME_EADDRESS = "0225"  # French e-invoicing directory address (reform layout)

PAYMENT_MEANS_CREDIT_TRANSFER = "30"  # UNTDID 4461 (BT-81)

# Legal mentions required on French invoices (BR-FR-05/06: each exactly once), rendered in the
# buyer's language. Subject codes are UNTDID 4451.
LEGAL_NOTES = {
    "PMT": _lt("Fixed compensation for recovery costs in case of late payment: EUR 40."),
    "PMD": _lt(
        "Late payment interest: the European Central Bank's main refinancing rate plus eight percentage points."
    ),
    "AAB": _lt("No discount for early payment."),
}

LAYOUT_DIRECT = "direct"
LAYOUT_REFORM = "reform"


def _find(node, path):
    return node.find(path, NS)


def _sub(parent, tag, text=None, index=None, **attrs):
    """Create ``ram:<tag>`` under ``parent`` (at ``index`` when given) with ``text`` and attributes."""
    element = etree.Element(RAM + tag, attrs)
    if text is not None:
        element.text = str(text)
    if index is None:
        parent.append(element)
    else:
        parent.insert(index, element)
    return element


def _insert_after(parent, element, *previous_tags):
    """Insert ``element`` in ``parent`` right after the last child named in ``previous_tags``.

    CII is a strict sequence: the tags given are those allowed before ``element`` by the XSD.
    """
    position = 0
    for index, child in enumerate(parent):
        if etree.QName(child).localname in previous_tags:
            position = index + 1
    parent.insert(position, element)
    return element


class AccountEdiXmlCII(models.AbstractModel):
    _inherit = "account.edi.xml.cii"

    # -------------------------------------------------------------------------
    # Which invoices we correct, and how
    # -------------------------------------------------------------------------

    def _chorus_pro_applies(self, invoice):
        return bool(invoice._chorus_pro_is_recipient_invoice())

    def _chorus_pro_layout(self, company):
        layout = company["chorus_pro_layout"] if "chorus_pro_layout" in company._fields else None
        return layout or LAYOUT_DIRECT

    # -------------------------------------------------------------------------
    # Values (before rendering)
    # -------------------------------------------------------------------------

    def _export_invoice_vals(self, invoice):
        # EXTENDS account_edi_ubl_cii
        vals = super()._export_invoice_vals(invoice)
        if not self._chorus_pro_applies(invoice):
            return vals
        company = invoice.company_id
        routing = invoice._chorus_pro_routing()  # on a qualification deposit: the test parties
        buyer_siret = routing.buyer_siret
        seller_siret = routing.seller_siret
        layout = self._chorus_pro_layout(company)
        vals.update({
            # BT-10 / BT-13: never a fallback value (a wrong service code or engagement routes the
            # invoice to the wrong desk or gets it rejected).
            "buyer_reference": routing.service_code,
            "purchase_order_reference": (invoice.purchase_order_reference or "").strip(),
            "contract_reference": (invoice.contract_reference or "").strip(),
            # BT-24
            "document_context_id": GUIDELINE_EN16931,
            # BT-30 / BT-47: the budget contact's SIRET, not the commercial partner's.
            "seller_specified_legal_organization": seller_siret if layout == LAYOUT_DIRECT else seller_siret[:9],
            "buyer_specified_legal_organization": buyer_siret if layout == LAYOUT_DIRECT else buyer_siret[:9],
            "chorus_pro": {
                "layout": layout,
                "buyer_siret": buyer_siret,
                "seller_siret": seller_siret,
            },
        })
        return vals

    # -------------------------------------------------------------------------
    # Rendering, then the corrections of the tree
    # -------------------------------------------------------------------------

    def _export_invoice(self, invoice):
        # EXTENDS account_edi_ubl_cii
        xml_content, errors = super()._export_invoice(invoice)
        if not self._chorus_pro_applies(invoice):
            return xml_content, errors
        tree = etree.fromstring(xml_content)
        self._chorus_pro_fix_tree(invoice, tree)
        cleanup_xml_node(tree)
        return etree.tostring(tree, xml_declaration=True, encoding="UTF-8"), errors

    def _chorus_pro_fix_tree(self, invoice, tree):
        """Apply every Chorus Pro correction to the rendered CII ``tree`` (in place)."""
        company = invoice.company_id
        layout = self._chorus_pro_layout(company)
        routing = invoice._chorus_pro_routing()  # on a qualification deposit: the test parties
        buyer_siret = routing.buyer_siret
        seller_siret = routing.seller_siret
        is_refund = invoice.move_type == "out_refund"

        self._chorus_pro_fix_context(invoice, tree, layout)
        self._chorus_pro_fix_notes(invoice, tree)
        self._chorus_pro_fix_lines(tree)
        for uri in tree.iterfind(".//ram:EmailURIUniversalCommunication/ram:URIID", NS):
            uri.attrib.pop("schemeID", None)  # EN 16931 has no scheme on the contact e-mail (BT-43/BT-58)
        agreement = _find(tree, "./rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement")
        self._chorus_pro_fix_party(
            _find(agreement, "./ram:SellerTradeParty"), seller_siret, layout, company.partner_id
        )
        self._chorus_pro_fix_party(
            _find(agreement, "./ram:BuyerTradeParty"), buyer_siret, layout, invoice._chorus_pro_recipient(), buyer=True,
            name=routing.buyer_name,
        )
        self._chorus_pro_fix_references(invoice, agreement, routing.service_code)
        self._chorus_pro_fix_delivery(tree)
        settlement = _find(tree, "./rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement")
        self._chorus_pro_fix_payment_means(invoice, settlement, is_refund)
        if is_refund:
            self._chorus_pro_add_preceding_invoice(invoice, settlement)

    def _chorus_pro_business_process(self, invoice, layout):
        """BT-23. Direct deposit: the Chorus billing framework; reform: the French operation category."""
        paid = invoice.move_type == "out_invoice" and invoice.payment_state in ("paid", "in_payment")
        if layout == LAYOUT_DIRECT:
            return "A2" if paid else "A1"
        product_types = set(invoice.invoice_line_ids.filtered(lambda line: line.display_type == "product")
                            .mapped(lambda line: line.product_id.type == "service" and "S" or "B"))
        category = product_types.pop() if len(product_types) == 1 else "M"
        return f"{category}{2 if paid else 1}"

    def _chorus_pro_fix_context(self, invoice, tree, layout):
        context = _find(tree, "./rsm:ExchangedDocumentContext")
        for old in context.findall("./ram:BusinessProcessSpecifiedDocumentContextParameter", NS):
            context.remove(old)
        business = etree.Element(RAM + "BusinessProcessSpecifiedDocumentContextParameter")
        _sub(business, "ID", self._chorus_pro_business_process(invoice, layout))
        _insert_after(context, business, "TestIndicator")
        guideline = _find(context, "./ram:GuidelineSpecifiedDocumentContextParameter/ram:ID")
        guideline.text = GUIDELINE_EN16931

    def _chorus_pro_fix_notes(self, invoice, tree):
        document = _find(tree, "./rsm:ExchangedDocument")
        lang = invoice.partner_id.lang or invoice.commercial_partner_id.lang or invoice.company_id.partner_id.lang
        translate = self.with_context(lang=lang).env._
        existing = {
            (note.findtext("./ram:SubjectCode", namespaces=NS) or "").strip()
            for note in document.findall("./ram:IncludedNote", NS)
        }
        for subject_code, text in LEGAL_NOTES.items():
            if subject_code in existing:
                continue
            note = etree.Element(RAM + "IncludedNote")
            _sub(note, "Content", translate(text))
            _sub(note, "SubjectCode", subject_code)
            _insert_after(document, note, "ID", "TypeCode", "IssueDateTime", "IncludedNote")

    def _chorus_pro_fix_lines(self, tree):
        """BT-153: every line needs an item name; Odoo only writes the product's name (none without a product)."""
        for product in tree.iterfind(
            "./rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem/ram:SpecifiedTradeProduct", NS
        ):
            if (product.findtext("./ram:Name", namespaces=NS) or "").strip():
                continue
            for empty in product.findall("./ram:Name", NS):
                product.remove(empty)
            description = _find(product, "./ram:Description")
            text = (description.text or "").strip() if description is not None else ""
            first_line = text.splitlines()[0].strip() if text else "-"
            name = etree.Element(RAM + "Name")
            name.text = first_line
            _insert_after(product, name, "GlobalID", "SellerAssignedID", "BuyerAssignedID")
            if description is not None and text == first_line:
                product.remove(description)

    def _chorus_pro_fix_party(self, party, siret, layout, partner, buyer=False, name=None):
        """BT-29/30 (seller) or BT-46/47 (buyer): identifiers by layout; address completed if needed."""
        for old in party.findall("./ram:GlobalID", NS):
            party.remove(old)
        name_node = _find(party, "./ram:Name")
        if buyer and name_node is not None:
            # the recipient (budget), also when addressed to a person under it; or the test recipient
            name_node.text = name or partner.display_name
        if siret:
            global_id = etree.Element(RAM + "GlobalID", schemeID=SCHEME_SIRET)
            global_id.text = siret
            _insert_after(party, global_id, "ID")
        legal = _find(party, "./ram:SpecifiedLegalOrganization")
        if legal is None and siret:
            legal = etree.Element(RAM + "SpecifiedLegalOrganization")
            _insert_after(party, legal, "ID", "GlobalID", "Name", "Description")
        if legal is not None:
            legal_id = _find(legal, "./ram:ID")
            if legal_id is None:
                legal_id = _sub(legal, "ID", index=0)
            if layout == LAYOUT_DIRECT:
                legal_id.text, scheme = siret, SCHEME_SIRET
            else:
                legal_id.text, scheme = siret[:9], SCHEME_SIREN
            legal_id.set("schemeID", scheme)
        if layout == LAYOUT_REFORM and siret:
            for old in party.findall("./ram:URIUniversalCommunication", NS):
                party.remove(old)
            uri = etree.Element(RAM + "URIUniversalCommunication")
            _sub(uri, "URIID", f"{siret[:9]}_{siret}" if buyer else siret[:9], schemeID=SCHEME_EADDRESS)
            _insert_after(party, uri, "ID", "GlobalID", "Name", "Description", "SpecifiedLegalOrganization",
                          "DefinedTradeContact", "PostalTradeAddress")
        # A budget contact often has no address of its own: use the commercial partner's (BR-11: BT-55).
        address = _find(party, "./ram:PostalTradeAddress")
        if address is not None and _find(address, "./ram:CountryID") is None:
            party.remove(address)
            address = None
        if address is None:
            source = partner if partner.country_id else partner.commercial_partner_id
            if source.country_id:
                address = etree.Element(RAM + "PostalTradeAddress")
                for tag, value in (("PostcodeCode", source.zip), ("LineOne", source.street),
                                   ("LineTwo", source.street2), ("CityName", source.city),
                                   ("CountryID", source.country_id.code)):
                    if value:
                        _sub(address, tag, value)
                _insert_after(party, address, "ID", "GlobalID", "Name", "Description",
                              "SpecifiedLegalOrganization", "DefinedTradeContact")

    def _chorus_pro_fix_references(self, invoice, agreement, service_code=None):
        """BT-10 service code and BT-13 engagement number: exactly the Chorus fields, or nothing."""
        service_code = (invoice.buyer_reference or "").strip() if service_code is None else service_code
        engagement = (invoice.purchase_order_reference or "").strip()
        buyer_reference = _find(agreement, "./ram:BuyerReference")
        if buyer_reference is not None:
            agreement.remove(buyer_reference)
        if service_code:
            _sub(agreement, "BuyerReference", service_code, index=0)
        order = _find(agreement, "./ram:BuyerOrderReferencedDocument")
        if order is not None:
            agreement.remove(order)
        if engagement:
            order = etree.Element(RAM + "BuyerOrderReferencedDocument")
            _sub(order, "IssuerAssignedID", engagement)
            _insert_after(agreement, order, "BuyerReference", "SellerTradeParty", "BuyerTradeParty",
                          "SellerTaxRepresentativeTradeParty", "SellerOrderReferencedDocument")

    def _chorus_pro_fix_delivery(self, tree):
        """EN 16931 allows only identifiers, name and address on the deliver-to party (BG-13)."""
        ship_to = _find(
            tree, "./rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeDelivery/ram:ShipToTradeParty"
        )
        if ship_to is None:
            return
        for tag in ("SpecifiedLegalOrganization", "DefinedTradeContact", "URIUniversalCommunication",
                    "SpecifiedTaxRegistration", "Description"):
            for node in ship_to.findall(f"./ram:{tag}", NS):
                ship_to.remove(node)

    def _chorus_pro_fix_payment_means(self, invoice, settlement, is_refund):
        """BT-81/84: credit transfer (30) to the IBAN on invoices; nothing on credit notes."""
        for means in settlement.findall("./ram:SpecifiedTradeSettlementPaymentMeans", NS):
            settlement.remove(means)
        if is_refund:
            return
        bank = invoice.partner_bank_id
        account = (bank.sanitized_acc_number or "").upper()
        if not account:
            return
        means = etree.Element(RAM + "SpecifiedTradeSettlementPaymentMeans")
        _sub(means, "TypeCode", PAYMENT_MEANS_CREDIT_TRANSFER)
        creditor = _sub(means, "PayeePartyCreditorFinancialAccount")
        if stdnum_iban.is_valid(account):
            _sub(creditor, "IBANID", account)
        else:
            _sub(creditor, "ProprietaryID", account)
        bic = (bank.bank_id.bic or "").replace(" ", "").upper()
        if bic:
            institution = _sub(means, "PayeeSpecifiedCreditorFinancialInstitution")
            _sub(institution, "BICID", bic)
        _insert_after(settlement, means, "CreditorReferenceID", "PaymentReference", "TaxCurrencyCode",
                      "InvoiceCurrencyCode", "PayeeTradeParty")

    def _chorus_pro_add_preceding_invoice(self, invoice, settlement):
        """BT-25/26: the invoice a credit note corrects (BR-FR-CO-05)."""
        origin = invoice.reversed_entry_id
        for old in settlement.findall("./ram:InvoiceReferencedDocument", NS):
            settlement.remove(old)
        if not origin:
            return
        reference = etree.Element(RAM + "InvoiceReferencedDocument")
        _sub(reference, "IssuerAssignedID", origin.name)
        if origin.invoice_date:
            formatted = _sub(reference, "FormattedIssueDateTime")
            date_string = etree.SubElement(
                formatted, QDT + "DateTimeString", {"format": "102"}, nsmap={"qdt": NS["qdt"]}
            )
            date_string.text = origin.invoice_date.strftime("%Y%m%d")
        _insert_after(settlement, reference, "SpecifiedTradeSettlementHeaderMonetarySummation")
