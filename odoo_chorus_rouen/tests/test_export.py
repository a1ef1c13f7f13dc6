"""The Factur-X sent to Chorus Pro: Odoo's exporter with the Chorus corrections, checked by core.validation."""

import io

from lxml import etree
from pypdf import PdfReader

from odoo import Command
from odoo.tests import tagged

from odoo.addons.odoo_chorus_rouen.core.validation import read_facts
from odoo.addons.odoo_chorus_rouen.models.account_move_chorus_send import validate_invoice_file

from .common import DEMO_SUPPLIER_BIC, DEMO_SUPPLIER_IBAN
from .test_posting import ENGAGEMENT, ChorusInvoiceCase

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
HTA = "./rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
HTS = "./rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
TRANSPORTS_SIRET = "20002341400036"


@tagged("post_install", "-at_install")
class TestChorusProExport(ChorusInvoiceCase):
    def sending_data(self, move):
        return {**self.env["account.move.send"]._get_default_sending_settings(move), "sending_methods": ["chorus_pro"]}

    def export(self, move):
        xml, _constraints = self.env["account.edi.xml.cii"]._export_invoice(move)
        return etree.fromstring(xml)

    def text(self, tree, path):
        return tree.findtext(path, namespaces=NS)

    def test_invoice_xml_carries_the_chorus_routing(self):
        invoice = self.make_invoice(partner=self.budgets["transports"], buyer_reference="SERV-TRANSPORTS", post=True)
        tree = self.export(invoice)
        # BT-24 / BT-23
        self.assertEqual(self.text(tree, ".//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"),
                         "urn:cen.eu:en16931:2017")
        self.assertEqual(self.text(tree, ".//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"), "A1")
        # Buyer: the budget's SIRET (BT-47 and BT-46), not the Métropole's.
        buyer = tree.find(f"{HTA}/ram:BuyerTradeParty", NS)
        legal = buyer.find("./ram:SpecifiedLegalOrganization/ram:ID", NS)
        self.assertEqual((legal.text, legal.get("schemeID")), (TRANSPORTS_SIRET, "0009"))
        global_id = buyer.find("./ram:GlobalID", NS)
        self.assertEqual((global_id.text, global_id.get("schemeID")), (TRANSPORTS_SIRET, "0009"))
        self.assertEqual(self.text(buyer, "./ram:Name"), self.budgets["transports"].display_name)
        # Seller SIRET
        seller_legal = tree.find(f"{HTA}/ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID", NS)
        self.assertEqual((seller_legal.text, seller_legal.get("schemeID")), ("88412345600011", "0009"))
        # BT-10, BT-13
        self.assertEqual(self.text(tree, f"{HTA}/ram:BuyerReference"), "SERV-TRANSPORTS")
        self.assertEqual(self.text(tree, f"{HTA}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"), ENGAGEMENT)
        # Notes with subject codes
        subjects = [n.text for n in tree.iterfind("./rsm:ExchangedDocument/ram:IncludedNote/ram:SubjectCode", NS)]
        self.assertEqual(sorted(subjects), ["AAB", "PMD", "PMT"])
        # Payment means 30 to the IBAN (IBANID, not ProprietaryID), BIC
        means = tree.find(f"{HTS}/ram:SpecifiedTradeSettlementPaymentMeans", NS)
        self.assertEqual(self.text(means, "./ram:TypeCode"), "30")
        self.assertEqual(self.text(means, "./ram:PayeePartyCreditorFinancialAccount/ram:IBANID"), DEMO_SUPPLIER_IBAN)
        self.assertIsNone(means.find("./ram:PayeePartyCreditorFinancialAccount/ram:ProprietaryID", NS))
        self.assertEqual(self.text(means, "./ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID"),
                         DEMO_SUPPLIER_BIC)
        self.assertIsNone(tree.find(f"{HTS}/ram:InvoiceReferencedDocument", NS))

    def test_no_fallback_for_service_code_and_engagement(self):
        # Odoo fills BT-10 with the partner's reference and BT-13 with the invoice number when empty:
        # Chorus Pro would take them for a wrong service code / engagement number.
        self.budgets["eau"].ref = "CUSTOMER-REF"
        self.budgets["eau"].write({"chorus_pro_requires_engagement": False})
        invoice = self.make_invoice(partner=self.budgets["eau"], purchase_order_reference=False, post=True)
        tree = self.export(invoice)
        self.assertIsNone(tree.find(f"{HTA}/ram:BuyerReference", NS))
        self.assertIsNone(tree.find(f"{HTA}/ram:BuyerOrderReferencedDocument", NS))

    def test_paid_invoice_is_a2(self):
        invoice = self.make_invoice(post=True)
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        tree = self.export(invoice)
        self.assertEqual(self.text(tree, ".//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"), "A2")

    def test_credit_note_xml(self):
        invoice = self.make_invoice(post=True)
        credit_note = self.make_credit_note(invoice, post=True)
        tree = self.export(credit_note)
        self.assertEqual(self.text(tree, "./rsm:ExchangedDocument/ram:TypeCode"), "381")
        self.assertIsNone(tree.find(f"{HTS}/ram:SpecifiedTradeSettlementPaymentMeans", NS))
        self.assertEqual(self.text(tree, f"{HTS}/ram:InvoiceReferencedDocument/ram:IssuerAssignedID"), invoice.name)
        self.assertEqual(
            self.text(tree, f"{HTS}/ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/qdt:DateTimeString"),
            invoice.invoice_date.strftime("%Y%m%d"),
        )
        facts = read_facts(etree.tostring(tree))
        self.assertTrue(facts.is_credit_note)
        self.assertEqual(facts.preceding_invoice, invoice.name)

    def test_line_without_product_gets_an_item_name(self):
        invoice = self.make_invoice(invoice_line_ids=[Command.create({
            "name": "Audit of the water network\nphase 2", "quantity": 1, "price_unit": 900.0,
            "tax_ids": [Command.set(self.tax_sale_a.ids)],
        })], post=True)
        tree = self.export(invoice)
        product = tree.find("./rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem/"
                            "ram:SpecifiedTradeProduct", NS)
        self.assertEqual(self.text(product, "./ram:Name"), "Audit of the water network")

    def test_other_customers_keep_odoo_export(self):
        invoice = self.make_invoice(partner=self.customer, purchase_order_reference=False, post=True)
        tree = self.export(invoice)
        self.assertIn("extended", self.text(tree, ".//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"))
        self.assertIsNone(tree.find(".//ram:BusinessProcessSpecifiedDocumentContextParameter", NS))

    def test_reform_layout(self):
        self.company.chorus_pro_layout = "reform"
        invoice = self.make_invoice(partner=self.budgets["transports"], post=True)
        tree = self.export(invoice)
        buyer = tree.find(f"{HTA}/ram:BuyerTradeParty", NS)
        legal = buyer.find("./ram:SpecifiedLegalOrganization/ram:ID", NS)
        self.assertEqual((legal.text, legal.get("schemeID")), ("200023414", "0002"))
        self.assertEqual(buyer.find("./ram:GlobalID", NS).text, TRANSPORTS_SIRET)
        self.assertEqual(buyer.find("./ram:URIUniversalCommunication/ram:URIID", NS).get("schemeID"), "0225")
        self.assertRegex(self.text(tree, ".//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"), r"^[BSM]1$")

    def test_factur_x_pdf_passes_core_validation(self):
        """The real file: invoice PDF rendered, XML embedded at the EN 16931 level, zero validation errors."""
        for move in (self.make_invoice(partner=self.budgets["transports"], post=True),):
            credit_note = self.make_credit_note(move, post=True)
            for record in (move, credit_note):
                with self.subTest(record=record.name):
                    pdf, filename, syntax = record._chorus_pro_build_file()
                    self.assertEqual(syntax, "IN_DP_E2_CII_FACTURX")
                    self.assertTrue(filename.endswith(".pdf"))
                    self.assertTrue(pdf.startswith(b"%PDF"))
                    reader = PdfReader(io.BytesIO(pdf))
                    self.assertEqual(list(reader.attachments), ["factur-x.xml"])
                    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
                    self.assertIn("<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>", xmp)
                    requirements = {TRANSPORTS_SIRET: self.budgets["transports"]._chorus_pro_requirements()}
                    findings = validate_invoice_file(pdf, requirements, "direct")
                    errors = [f"{f.rule}: {f.message}" for f in findings if f.severity == "error"]
                    self.assertEqual(errors, [])
                    self.assertEqual([f.rule for f in findings if f.severity == "warning"], [])

    def test_validation_errors_are_listed(self):
        findings = validate_invoice_file(b"%PDF-1.4 not really a pdf", {}, "direct")
        self.assertTrue(findings)
        self.assertEqual(findings[0].layer, "input")

    # --- Send & Print --------------------------------------------------------------------------

    def test_send_and_print_offers_chorus_pro(self):
        invoice = self.make_invoice(post=True)
        self.assertIn("chorus_pro", dict(self.env["res.partner"]._fields["invoice_sending_method"].selection))
        send = self.env["account.move.send"]
        self.assertEqual(send._get_default_sending_method(invoice), "chorus_pro")
        self.assertTrue(send._is_applicable_to_move("chorus_pro", invoice))
        other = self.make_invoice(partner=self.customer, purchase_order_reference=False, post=True)
        self.assertFalse(send._is_applicable_to_move("chorus_pro", other))
        alerts = send._get_alerts(other, {other: self.sending_data(other)})
        self.assertIn("odoo_chorus_rouen_not_recipient", alerts)

    def test_send_and_print_queues_again_after_an_error(self):
        invoice = self.make_invoice(post=True)
        invoice.write({"chorus_pro_state": "error", "chorus_pro_error": "Settings were missing"})
        with self.no_network():
            self.env["account.move.send"]._hook_if_success({invoice: {"sending_methods": ["chorus_pro"]}})
        self.assertEqual(invoice.chorus_pro_state, "to_send")
        # Already on its way: not queued twice.
        invoice.write({"chorus_pro_state": "sent", "chorus_pro_flow_number": "CPP0011117000000000300009"})
        alerts = self.env["account.move.send"]._get_alerts(invoice, {invoice: self.sending_data(invoice)})
        self.assertIn("odoo_chorus_rouen_already", alerts)
        self.env["account.move.send"]._hook_if_success({invoice: {"sending_methods": ["chorus_pro"]}})
        self.assertEqual(invoice.chorus_pro_state, "sent")
