"""XML-only deposits (issue #21 part 2): an invoice sent as a structured CII or UBL flow, without PDF.

Done when: an XML-only deposit per format followed to its final status through the sandbox; a recipient
that overrides the company's format; a supporting document travelling inside the XML; one that cannot
travel refused in words. Every ending works the same as for a Factur-X (rejection, recycling,
completion, resend after a rejected flow).
"""

import base64
import hashlib

from lxml import etree

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from odoo.addons.odoo_chorus_rouen.sandbox.pdf import simple_pdf

from .test_send import QUIET, ChorusSandboxCase

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
UBL_INVOICE = "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice"
UBL_CREDIT_NOTE = "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote"
CII_ROOT = "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}CrossIndustryInvoice"
SYNTAX = {"cii": "IN_DP_E1_CII_16B", "ubl": "IN_DP_E1_UBL_INVOICE", "facturx": "IN_DP_E2_CII_FACTURX"}


@tagged("post_install", "-at_install")
class TestChorusProXmlFlows(ChorusSandboxCase):
    def setUp(self):
        super().setUp()
        self.company.sudo().chorus_pro_flow_format = "facturx"

    def deposited(self, invoice):
        """The file the sandbox received for the invoice's flow, checked to be the one Odoo kept."""
        data = self.sandbox.flow_file(invoice.chorus_pro_flow_number)
        self.assertEqual(data, invoice.chorus_pro_attachment_id.raw)
        return data

    def assertDepositedAs(self, invoice, fmt):  # noqa: N802 - unittest style
        self.assertEqual(invoice.chorus_pro_state, "sent", invoice.chorus_pro_error)
        self.assertEqual((invoice.chorus_pro_flow_format_sent, invoice.chorus_pro_flow_syntax), (fmt, SYNTAX[fmt]))
        (deposit,) = self.sandbox.deposits(invoice.name)
        self.assertEqual((deposit["syntaxeFlux"], deposit["outcome"]), (SYNTAX[fmt], "accepted"))
        attachment = invoice.chorus_pro_attachment_id
        if fmt == "facturx":
            self.assertTrue(attachment.raw.startswith(b"%PDF"))
            return None
        self.assertEqual(attachment.name, f"{fmt}_chorus_facture_{invoice.name.replace('/', '-')}.xml")
        self.assertEqual(attachment.mimetype, "application/xml")
        root = etree.fromstring(self.deposited(invoice))
        self.assertNotIn(b"%PDF", attachment.raw[:1024], "no PDF in an XML-only deposit")
        return root

    def follow_to_payment(self, invoice):
        self.sync()
        self.assertEqual((invoice.chorus_pro_flow_state, invoice.chorus_pro_state), ("IN_INTEGRE", "delivered"))
        chorus_id = int(invoice.chorus_pro_invoice_id)
        self.sandbox.set_invoice_status(chorus_id, "MANDATEE")
        self.sync()
        self.sandbox.set_invoice_status(chorus_id, "MISE_EN_PAIEMENT")
        self.sync()
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_status), ("paid", "MISE_EN_PAIEMENT"))

    # --- one deposit per format, to its final status ------------------------------------------------

    def test_cii_xml_deposit_followed_to_payment(self):
        self.company.sudo().chorus_pro_flow_format = "cii"
        invoice = self.make_invoice(partner=self.budgets["transports"], buyer_reference="DIR-MOBILITES", post=True)
        self.assertEqual(self.send(), 1)
        root = self.assertDepositedAs(invoice, "cii")
        self.assertEqual(root.tag, CII_ROOT)
        agreement = root.find("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement", NS)
        self.assertEqual(agreement.findtext("ram:BuyerReference", namespaces=NS), "DIR-MOBILITES")
        self.assertEqual(agreement.findtext("ram:BuyerTradeParty/ram:GlobalID", namespaces=NS),
                         self.budgets["transports"].siret)
        self.assertIn(SYNTAX["cii"], invoice.message_ids[0].body + invoice.chorus_pro_flow_syntax)
        self.follow_to_payment(invoice)
        self.assertEqual(self.sandbox.invoice(int(invoice.chorus_pro_invoice_id))["codeDestinataire"],
                         self.budgets["transports"].siret)
        self.assertEqual(self.deposits(invoice), 1)

    def test_ubl_xml_deposit_followed_to_payment_and_credit_note(self):
        self.company.sudo().chorus_pro_flow_format = "ubl"
        invoice = self.make_invoice(partner=self.budgets["dechets"], post=True)
        self.assertEqual(self.send(), 1)
        root = self.assertDepositedAs(invoice, "ubl")
        self.assertEqual(root.tag, UBL_INVOICE)
        self.assertEqual(root.findtext("cbc:CustomizationID", namespaces=NS), "urn:cen.eu:en16931:2017")
        self.assertEqual(root.findtext("cbc:ProfileID", namespaces=NS), "A1")
        self.assertEqual(root.findtext("cac:OrderReference/cbc:ID", namespaces=NS), invoice.purchase_order_reference)
        buyer = root.find("cac:AccountingCustomerParty/cac:Party", NS)
        siret = self.budgets["dechets"].siret
        self.assertEqual(buyer.find("cac:PartyIdentification/cbc:ID", NS).attrib, {"schemeID": "0009"})
        self.assertEqual(buyer.findtext("cac:PartyIdentification/cbc:ID", namespaces=NS), siret)
        self.assertEqual(buyer.findtext("cac:PartyLegalEntity/cbc:CompanyID", namespaces=NS), siret)
        self.assertEqual(root.findtext("cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID", namespaces=NS),
                         "FR7630006000011234567890189")
        notes = [note.text[:5] for note in root.findall("cbc:Note", NS)]
        self.assertTrue({"#PMT#", "#PMD#", "#AAB#"} <= set(notes), notes)
        self.follow_to_payment(invoice)

        credit_note = self.make_credit_note(invoice, post=True)
        self.send()
        root = self.assertDepositedAs(credit_note, "ubl")
        self.assertEqual(root.tag, UBL_CREDIT_NOTE)
        self.assertEqual(root.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=NS),
                         invoice.name)
        self.assertIsNone(root.find("cac:PaymentMeans", NS), "no payment means on a credit note")
        self.sync()
        self.assertEqual(credit_note.chorus_pro_state, "delivered")

    # --- the recipient's choice --------------------------------------------------------------------

    def test_a_recipient_overrides_the_company_format(self):
        self.company.sudo().chorus_pro_flow_format = "cii"
        self.metropole.chorus_pro_flow_format = "ubl"  # the public buyer: every budget under it...
        self.budgets["eau"].chorus_pro_flow_format = "facturx"  # ...but this one
        person = self.env["res.partner"].create({"name": "Service comptable", "parent_id": self.budgets["eau"].id,
                                                 "type": "invoice"})
        other_buyer = self.env["res.partner"].create({
            "name": "Commune de Test", "is_company": True, "chorus_pro_recipient": True, "siret": "21760540100017",
            "country_id": self.env.ref("base.fr").id, "chorus_pro_directory_date": "2026-01-01 00:00:00",
        })
        self.assertEqual(self.budget_principal._chorus_pro_flow_format_of(self.company), "ubl")
        self.assertEqual(person._chorus_pro_flow_format_of(self.company), "facturx")
        self.assertEqual(other_buyer._chorus_pro_flow_format_of(self.company), "cii")

        principal = self.make_invoice(partner=self.budget_principal, post=True)
        eau = self.make_invoice(partner=self.budgets["eau"], post=True)
        self.send()
        self.assertDepositedAs(principal, "ubl")
        self.assertDepositedAs(eau, "facturx")
        self.metropole.chorus_pro_flow_format = False  # empty again: the company's choice
        self.assertEqual(self.budget_principal._chorus_pro_flow_format_of(self.company), "cii")

    # --- supporting documents ------------------------------------------------------------------------

    def attach(self, move, name, data):
        return self.env["ir.attachment"].create({"name": name, "raw": data, "res_model": "account.move",
                                                 "res_id": move.id})

    def test_a_supporting_document_travels_inside_the_xml(self):
        self.company.sudo().chorus_pro_flow_format = "ubl"
        invoice = self.make_invoice(partner=self.budgets["transports"], buyer_reference="DIR-MOBILITES")
        delivery_note = simple_pdf(["Bon de livraison BL-2026-117"])
        document = self.attach(invoice, "bon-livraison.pdf", delivery_note)
        document.chorus_pro_document_type = "BON_LIVRAISON"
        invoice.chorus_pro_document_ids = [Command.link(document.id)]
        invoice.action_post()
        self.send()
        root = self.assertDepositedAs(invoice, "ubl")
        (reference,) = root.findall("cac:AdditionalDocumentReference", NS)
        self.assertEqual(reference.findtext("cbc:ID", namespaces=NS), "bon-livraison.pdf")
        binary = reference.find("cac:Attachment/cbc:EmbeddedDocumentBinaryObject", NS)
        self.assertEqual((binary.get("mimeCode"), binary.get("filename")), ("application/pdf", "bon-livraison.pdf"))
        self.assertEqual(base64.b64decode(binary.text), delivery_note)
        # The sandbox reads it out of the flow, which it integrates (nothing breaks a limit).
        (shown,) = self.sandbox.flow_embedded(invoice.chorus_pro_flow_number)["documents"][0]["embedded"]
        self.assertEqual(shown["sha256"], hashlib.sha256(delivery_note).hexdigest())
        self.sync()
        self.assertEqual(invoice.chorus_pro_flow_state, "IN_INTEGRE")

    def test_a_cii_flow_carries_the_document_too(self):
        self.company.sudo().chorus_pro_flow_format = "cii"
        invoice = self.make_invoice()
        timesheet = b"date;heures\n2026-11-03;7\n"
        invoice.chorus_pro_document_upload_ids = [
            Command.link(self.env["ir.attachment"].create({"name": "heures.csv", "raw": timesheet}).id)]
        invoice.action_post()
        self.send()
        root = self.assertDepositedAs(invoice, "cii")
        binary = root.find(".//ram:AdditionalReferencedDocument/ram:AttachmentBinaryObject", NS)
        self.assertEqual((binary.get("mimeCode"), binary.get("filename")), ("text/csv", "heures.csv"))
        self.assertEqual(base64.b64decode(binary.text), timesheet)

    def test_a_document_that_cannot_travel_in_xml_is_refused_in_words(self):
        self.company.sudo().chorus_pro_flow_format = "ubl"
        invoice = self.make_invoice()
        report = self.attach(invoice, "compte-rendu.docx", b"PK\x03\x04" + bytes(100))
        with self.assertRaisesMessage(ValidationError, "compte-rendu.docx cannot travel inside a UBL XML invoice",
                                      "PDF, PNG, JPEG, CSV, XLSX or ODS"):
            report.chorus_pro_send = True
        self.assertFalse(report.chorus_pro_send)
        # Accepted for a Factur-X recipient; if the recipient then switches to XML, the send job refuses it.
        self.budget_principal.chorus_pro_flow_format = "facturx"
        report.chorus_pro_send = True
        invoice.action_post()
        self.budget_principal.chorus_pro_flow_format = "cii"
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "error")
        self.assertIn("compte-rendu.docx cannot travel inside a CII XML invoice", invoice.chorus_pro_error)
        self.assertEqual(self.deposits(invoice), 0)
        # Back to Factur-X (or the file removed), the resend goes.
        self.budget_principal.chorus_pro_flow_format = False
        self.company.sudo().chorus_pro_flow_format = "facturx"
        invoice.action_chorus_pro_send()
        self.send()
        self.assertDepositedAs(invoice, "facturx")

    def test_files_too_big_once_base64_encoded_are_refused_in_words(self):
        self.company.sudo().chorus_pro_flow_format = "cii"
        invoice = self.make_invoice()
        plan = self.attach(invoice, "plan.pdf", b"%PDF-1.4\n" + bytes(8 * 1024 * 1024))  # 8 MB: fits a Factur-X
        with self.assertRaisesMessage(ValidationError, "Inside a CII XML invoice the files are base64-encoded",
                                      "10.0 MB") as caught:
            plan.chorus_pro_send = True
        self.assertNotIn("Factur-X", str(caught.exception.args[0]), "said once, for the XML it travels in")
        self.company.sudo().chorus_pro_flow_format = "facturx"
        plan.chorus_pro_send = True  # in a Factur-X the same file fits

    # --- endings: rejected flow and resend, recycle, completion -------------------------------------

    def test_endings_work_the_same_for_an_xml_flow(self):
        self.company.sudo().chorus_pro_flow_format = "ubl"
        invoice = self.make_invoice(partner=self.budgets["transports"], buyer_reference="DIR-MOBILITES", post=True)
        self.send()
        self.assertDepositedAs(invoice, "ubl")
        self.sync()
        chorus_id = int(invoice.chorus_pro_invoice_id)
        # To recycle: the routing is corrected on the platform, no new deposit.
        self.sandbox.set_invoice_status(chorus_id, "A_RECYCLER", "Not our budget")
        self.sync()
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_status), ("action", "A_RECYCLER"))
        action = invoice.with_user(self.user_invoicing).action_chorus_pro_recycle()
        wizard = Form(self.env["chorus.pro.recycle"].with_user(self.user_invoicing).with_context(**action["context"]))
        wizard.partner_id = self.budgets["eau"]
        wizard.buyer_reference = False
        wizard.purchase_order_reference = "EJ-EAU-2026-42"
        wizard.save().action_recycle()
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_status), ("delivered", "DEPOSEE"))
        # Suspended: completed from Odoo, no new deposit.
        self.sandbox.set_invoice_status(chorus_id, "SUSPENDUE", "Bon de livraison manquant")
        self.sync()
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_status), ("action", "SUSPENDUE"))
        action = invoice.with_user(self.user_invoicing).action_chorus_pro_complete()
        wizard = Form(self.env["chorus.pro.complete"].with_user(self.user_invoicing).with_context(**action["context"]))
        wizard.comment = "Voici le bon de livraison."
        wizard.document_ids.add(self.attach(invoice, "bon-livraison.pdf", simple_pdf(["BL"])))
        wizard.save().action_complete()
        self.assertEqual(self.env["chorus.pro.completion"]._cron_chorus_pro_complete(), 1)
        self.sync()
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_status), ("delivered", "COMPLETEE"))
        self.assertEqual(self.deposits(invoice), 1, "recycling and completing are not new deposits")
        # Rejected by the buyer: a credit note and a new invoice, never a resend.
        self.sandbox.set_invoice_status(chorus_id, "REJETEE", "Wrong amount")
        self.sync()
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_status), ("rejected", "REJETEE"))
        self.assertFalse(invoice.chorus_pro_can_send)

    @mute_logger(*QUIET)
    def test_a_rejected_xml_flow_is_sent_again_once_fixed(self):
        self.company.sudo().chorus_pro_flow_format = "cii"
        invoice = self.make_invoice(post=True)
        self.sandbox.inject_fault("incident", operation="deposerFluxFacture")  # the flow ends IN_INCIDENTE
        self.send()
        self.assertDepositedAs(invoice, "cii")
        flow = invoice.chorus_pro_flow_number
        self.sync()
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_flow_state), ("rejected", "IN_INCIDENTE"))
        self.assertTrue(invoice.chorus_pro_can_send)
        invoice.with_user(self.user_invoicing).action_chorus_pro_send()
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent", invoice.chorus_pro_error)
        self.assertNotEqual(invoice.chorus_pro_flow_number, flow)
        self.assertEqual([d["syntaxeFlux"] for d in self.sandbox.deposits(invoice.name)], [SYNTAX["cii"]] * 2)
        self.sync()
        self.assertEqual(invoice.chorus_pro_state, "delivered")

    @mute_logger(*QUIET)
    def test_an_uncertain_xml_deposit_is_settled_with_the_same_file(self):
        self.company.sudo().chorus_pro_flow_format = "ubl"
        invoice = self.make_invoice(post=True)
        self.sandbox.inject_fault("http_500", operation="deposerFluxFacture")  # unknown outcome, not recorded
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sending")
        kept = invoice.chorus_pro_attachment_id.raw
        self.due_now(invoice)
        self.send()
        self.assertDepositedAs(invoice, "ubl")
        self.assertEqual(invoice.chorus_pro_attachment_id.raw, kept, "the same XML, with its syntax")
