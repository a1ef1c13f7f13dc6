"""Issue #22 on the quotation: "Read the purchase order" fills the invoice address (the budget, by its SIRET),
the engagement number, the service (among the recipient's active services), the contract and the Customer
Reference from the buyer's order; a typed value that differs waits for a click; the order is attached."""

import base64

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import file_open

from .test_sale_order import ChorusSaleCase

TRANSPORTS_ORDER = "data/orders/metropole_transports_compact.pdf"  # made by data/make_orders.py


@tagged("post_install", "-at_install")
class TestReadPurchaseOrderOnQuotation(ChorusSaleCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with file_open(TRANSPORTS_ORDER, "rb") as handle:
            cls.order_pdf = handle.read()

    def quotation(self, **values):
        return self.make_order(partner=self.metropole, **values)

    def wizard(self, order, **values):
        action = order.action_chorus_pro_read_order()
        return self.env[action["res_model"]].with_context(**action["context"]).create(values)

    def line(self, wizard, field):
        return wizard.line_ids.filtered(lambda line: line.field == field and line.status == "chosen")

    def test_quotation_takes_the_order_and_its_invoice_carries_it(self):
        self.read_transports()  # the directory knows the budget's services: the service is chosen among them
        quotation = self.quotation()
        attachment = self.env["ir.attachment"].create({
            "name": "commande-2026-TR-0412.pdf", "raw": self.order_pdf, "res_model": "sale.order",
            "res_id": quotation.id,
        })
        wizard = self.wizard(quotation)
        self.assertEqual(wizard.attachment_id, attachment)
        self.assertFalse(wizard.can_mark_supporting, "supporting documents belong to invoices")
        wizard.action_read()
        siret = self.line(wizard, "siret")
        self.assertEqual((siret.partner_id, siret.use), (self.transports, True))
        self.assertIn("page 1, line 10", siret.evidence)
        self.assertIn("an active service of Budget annexe des Transports", self.line(wizard, "service_code").reasons)
        number = self.line(wizard, "order_number")
        self.assertEqual((number.value, number.applicable, number.use), ("2026/TR/0412", True, True))
        wizard.action_apply()
        self.assertEqual(quotation.partner_invoice_id, self.transports)
        self.assertEqual(quotation.chorus_pro_service_id.code, "DIR-MOBILITES")
        self.assertEqual(
            (quotation.chorus_pro_engagement, quotation.chorus_pro_service_code, quotation.chorus_pro_contract,
             quotation.client_order_ref),
            ("26TR000512", "DIR-MOBILITES", "AC-2024-031", "2026/TR/0412"),
        )
        self.assertFalse(quotation.chorus_pro_engagement_proposal)
        quotation.action_confirm()
        self.deliver(quotation)
        invoice = quotation._create_invoices()
        self.assertEqual(invoice.partner_id, self.transports)
        self.assertEqual((invoice.purchase_order_reference, invoice.buyer_reference, invoice.contract_reference),
                         ("26TR000512", "DIR-MOBILITES", "AC-2024-031"))

    def test_a_typed_engagement_that_differs_waits_for_a_click(self):
        quotation = self.quotation(chorus_pro_engagement="EJ-TYPED")
        wizard = self.wizard(quotation, upload=base64.b64encode(self.order_pdf), upload_name="bc.pdf")
        wizard.action_read()
        engagement = self.line(wizard, "engagement")
        self.assertEqual((engagement.value, engagement.current_value, engagement.differs, engagement.use),
                         ("26TR000512", "EJ-TYPED", True, False))
        wizard.action_apply()
        self.assertEqual(quotation.chorus_pro_engagement, "EJ-TYPED", "never overwritten without a click")
        self.assertEqual(quotation.partner_invoice_id, self.transports)
        self.assertEqual(quotation.chorus_pro_service_code, "DIR-MOBILITES", "typed as read before the directory")
        attached = self.env["ir.attachment"].search([("res_model", "=", "sale.order"), ("res_id", "=", quotation.id)])
        self.assertEqual(attached.mapped("name"), ["bc.pdf"])
        wizard = self.wizard(quotation)
        self.assertEqual(wizard.attachment_id, attached)
        wizard.action_read()
        self.line(wizard, "engagement").use = True
        wizard.action_apply()
        self.assertEqual(quotation.chorus_pro_engagement, "26TR000512")

    def test_a_sales_order_too_but_not_a_cancelled_one(self):
        order = self.quotation(chorus_pro_engagement="26TR000512")
        order.action_confirm()
        wizard = self.wizard(order, upload=base64.b64encode(self.order_pdf), upload_name="bc.pdf")
        wizard.action_read()
        wizard.action_apply()
        self.assertEqual(order.chorus_pro_contract, "AC-2024-031")
        cancelled = self.quotation()
        cancelled._action_cancel()
        with self.assertRaisesRegex(UserError, "cancelled or locked"):
            cancelled.action_chorus_pro_read_order()
