"""CII of a late-payment claim: lines outside the scope of VAT (category "O") and the late invoice in BT-25.

EN 16931 for "Not subject to VAT" (category code O, UNTDID 5305): every line and the single VAT
breakdown carry category O without a rate (BR-O-05, BR-O-06 [S]), the breakdown has a zero tax amount
and an exemption reason, here code ``VATEX-EU-O`` (BR-O-10, BR-O-11 [S]), and the invoice carries no
seller or buyer VAT identifier (BR-O-02, BR-O-03 [S]). Odoo 18's exporter only knows S/E/G/K/L/M for a
domestic invoice (``_get_tax_unece_codes``): it would call these lines "exempt" (E) with a Directive
article, which they are not. The claim's reference to the late invoice goes in BT-25/BT-26, as a credit
note's does.
"""

from lxml import etree

from odoo import models

from .account_edi_xml_cii import NS, QDT, RAM, _find, _insert_after, _sub

EXEMPTION_CODE = "VATEX-EU-O"
EXEMPTION_TEXT = "Non soumis à la TVA (intérêts moratoires et indemnité forfaitaire pour frais de recouvrement)"
SETTLEMENT = "./rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"


class AccountEdiXmlCII(models.AbstractModel):
    _inherit = "account.edi.xml.cii"  # pylint: disable=consider-merging-classes-inherited  # one concern per file

    def _chorus_pro_fix_tree(self, invoice, tree):
        # EXTENDS odoo_chorus_rouen
        result = super()._chorus_pro_fix_tree(invoice, tree)
        if invoice.move_type == "out_invoice" and invoice.chorus_pro_late_invoice_id:
            self._chorus_pro_outside_vat_scope(invoice, tree)
            self._chorus_pro_refer_late_invoice(invoice, _find(tree, SETTLEMENT))
        return result

    def _chorus_pro_outside_vat_scope(self, invoice, tree):
        currency = invoice.currency_id.name
        for line in tree.iterfind(
            "./rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem/ram:SpecifiedLineTradeSettlement",
            NS,
        ):
            for old in line.findall("./ram:ApplicableTradeTax", NS):
                line.remove(old)
            tax = _sub(line, "ApplicableTradeTax", index=0)  # BT-151 first in the line's settlement
            _sub(tax, "TypeCode", "VAT")
            _sub(tax, "CategoryCode", "O")
        settlement = _find(tree, SETTLEMENT)
        for old in settlement.findall("./ram:ApplicableTradeTax", NS):
            settlement.remove(old)
        breakdown = etree.Element(RAM + "ApplicableTradeTax")
        _sub(breakdown, "CalculatedAmount", "0.00")
        _sub(breakdown, "TypeCode", "VAT")
        _sub(breakdown, "ExemptionReason", EXEMPTION_TEXT)
        _sub(breakdown, "BasisAmount", f"{invoice.amount_untaxed:.2f}")
        _sub(breakdown, "CategoryCode", "O")
        _sub(breakdown, "ExemptionReasonCode", EXEMPTION_CODE)
        _insert_after(settlement, breakdown, "CreditorReferenceID", "PaymentReference", "TaxCurrencyCode",
                      "InvoiceCurrencyCode", "InvoiceIssuerReference", "InvoicerTradeParty", "InvoiceeTradeParty",
                      "PayeeTradeParty", "PayerTradeParty", "TaxApplicableTradeCurrencyExchange",
                      "SpecifiedTradeSettlementPaymentMeans")
        summation = _find(settlement, "./ram:SpecifiedTradeSettlementHeaderMonetarySummation")
        for total in summation.findall("./ram:TaxTotalAmount", NS):
            total.text = "0.00"
            total.set("currencyID", currency)
        # Odoo sums the bases of its tax details, which lines without tax are missing from (BR-CO-10, BR-CO-15).
        for tag in ("LineTotalAmount", "TaxBasisTotalAmount"):
            for total in summation.findall(f"./ram:{tag}", NS):
                total.text = f"{invoice.amount_untaxed:.2f}"
        agreement = _find(tree, "./rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement")
        for party in ("SellerTradeParty", "BuyerTradeParty"):
            for registration in agreement.findall(f"./ram:{party}/ram:SpecifiedTaxRegistration", NS):
                if registration.find("./ram:ID[@schemeID='VA']", NS) is not None:
                    registration.getparent().remove(registration)

    def _chorus_pro_refer_late_invoice(self, invoice, settlement):
        """BT-25/BT-26: the invoice paid late."""
        late = invoice.chorus_pro_late_invoice_id
        for old in settlement.findall("./ram:InvoiceReferencedDocument", NS):
            settlement.remove(old)
        reference = etree.Element(RAM + "InvoiceReferencedDocument")
        _sub(reference, "IssuerAssignedID", late.name)
        if late.invoice_date:
            formatted = _sub(reference, "FormattedIssueDateTime")
            date_string = etree.SubElement(formatted, QDT + "DateTimeString", {"format": "102"},
                                           nsmap={"qdt": NS["qdt"]})
            date_string.text = late.invoice_date.strftime("%Y%m%d")
        _insert_after(settlement, reference, "SpecifiedTradeSettlementHeaderMonetarySummation")
