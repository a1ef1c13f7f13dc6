"""Issue #22 on the invoice: "Read the purchase order" on a draft invoice fills the recipient (the budget, by
its SIRET), the engagement number, the service code and the contract from the buyer's order, shows where
each was read, never overwrites a typed value without a click, and attaches the order (optionally as a
supporting document sent to Chorus Pro)."""

import base64

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import file_open

from odoo.addons.odoo_chorus_rouen.sandbox.pdf import simple_pdf

from .test_posting import ChorusInvoiceCase

EAU_ORDER = "data/orders/metropole_eau_order.pdf"  # made by data/make_orders.py (repository root on the addons path)


@tagged("post_install", "-at_install")
class TestReadPurchaseOrder(ChorusInvoiceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with file_open(EAU_ORDER, "rb") as handle:
            cls.eau_order = handle.read()
        cls.eau = cls.budgets["eau"]

    def draft(self, **values):
        values.setdefault("purchase_order_reference", False)
        return self.make_invoice(partner=self.metropole, **values)

    def attach(self, record, name, data):
        return self.env["ir.attachment"].create({"name": name, "raw": data, "res_model": record._name,
                                                 "res_id": record.id})

    def wizard(self, record, **values):
        action = record.action_chorus_pro_read_order()
        return self.env[action["res_model"]].with_context(**action["context"]).create(values)

    def lines(self, wizard, field):
        return wizard.line_ids.filtered(lambda line: line.field == field)

    def test_draft_invoice_takes_the_values_of_the_attached_order(self):
        invoice = self.draft()
        attachment = self.attach(invoice, "BC-2026-00871.pdf", self.eau_order)
        wizard = self.wizard(invoice)
        self.assertEqual(wizard.attachment_id, attachment, "the order attached to the invoice is proposed")
        wizard.action_read()
        self.assertEqual(wizard.state, "review")
        siret = self.lines(wizard, "siret").filtered(lambda line: line.status == "chosen")
        self.assertEqual((siret.raw_value, siret.partner_id), ("20002341400069", self.eau))
        self.assertIn("page 1, line 30", siret.evidence)
        self.assertIn("SIRET 200 023 414 00069", siret.evidence)
        self.assertIn("a known Chorus Pro recipient: Budget de l'Eau", siret.reasons)
        self.assertTrue(siret.use, "the budget completes the Métropole typed as customer")
        # The seat's SIRET (letterhead) is shown below, not ticked; the supplier's is not usable.
        seat = self.lines(wizard, "siret").filtered(lambda line: line.raw_value == "20002341400010")
        self.assertEqual((seat.status, seat.use), ("candidate", False))
        self.assertIn("letterhead", seat.reasons)
        supplier = self.lines(wizard, "siret").filtered(lambda line: line.raw_value == "88412345600011")
        self.assertEqual((supplier.status, supplier.applicable), ("excluded", False))
        engagement = self.lines(wizard, "engagement")
        self.assertEqual((engagement.value, engagement.confidence, engagement.use), ("EJ2026-004217", "high", True))
        self.assertFalse(wizard.missing_text)
        total = self.lines(wizard, "totals")
        self.assertEqual(total.applicable, False)
        self.assertIn("9360.00 EUR incl. tax", total.value)
        wizard.mark_supporting = True
        wizard.action_apply()
        self.assertEqual(invoice.partner_id, self.eau)
        self.assertEqual(
            (invoice.purchase_order_reference, invoice.buyer_reference, invoice.contract_reference),
            ("EJ2026-004217", "DIR-EAU", "2025-M-0142"),
        )
        self.assertTrue(invoice.chorus_pro_is_recipient)
        self.assertEqual((attachment.chorus_pro_send, attachment.chorus_pro_document_type), (True, "BON_COMMANDE"))
        self.assertEqual(invoice.chorus_pro_document_ids, attachment)
        self.assertTrue(invoice.message_ids.filtered(
            lambda message: "Values read from the purchase order BC-2026-00871.pdf" in (message.body or "")))

    def test_a_typed_value_that_differs_is_shown_beside_and_kept_without_a_click(self):
        invoice = self.draft(purchase_order_reference="EJ-TYPED-BY-HAND", buyer_reference="DIR-EAU")
        wizard = self.wizard(invoice, upload=base64.b64encode(self.eau_order), upload_name="commande.pdf")
        wizard.action_read()
        engagement = self.lines(wizard, "engagement")
        self.assertEqual((engagement.value, engagement.current_value), ("EJ2026-004217", "EJ-TYPED-BY-HAND"))
        self.assertTrue(engagement.differs)
        self.assertFalse(engagement.use, "never overwritten without a click")
        self.assertIn("tick it to replace it", engagement.note)
        service = self.lines(wizard, "service_code")
        self.assertEqual((service.differs, service.note), (False, "Already on the record."))
        wizard.action_apply()
        self.assertEqual(invoice.purchase_order_reference, "EJ-TYPED-BY-HAND")
        self.assertEqual((invoice.partner_id, invoice.contract_reference), (self.eau, "2025-M-0142"))
        order = invoice.attachment_ids.filtered(lambda a: a.name == "commande.pdf")
        self.assertEqual(order.raw, self.eau_order, "the uploaded order is attached to the invoice")
        self.assertFalse(order.chorus_pro_send)
        # The person clicks: the value read replaces the typed one.
        wizard = self.wizard(invoice, attachment_id=order.id)
        wizard.action_read()
        self.lines(wizard, "engagement").use = True
        wizard.action_apply()
        self.assertEqual(invoice.purchase_order_reference, "EJ2026-004217")

    def test_another_budget_already_on_the_invoice_is_not_replaced_silently(self):
        invoice = self.make_invoice(partner=self.budget_principal, purchase_order_reference=False)
        wizard = self.wizard(invoice, upload=base64.b64encode(self.eau_order), upload_name="commande.pdf")
        wizard.action_read()
        siret = self.lines(wizard, "siret").filtered(lambda line: line.status == "chosen")
        self.assertTrue(siret.differs)
        self.assertFalse(siret.use)
        self.assertIn("Budget Principal", siret.current_value)
        wizard.action_apply()
        self.assertEqual(invoice.partner_id, self.budget_principal)

    def test_two_budgets_on_the_order_the_person_chooses(self):
        order = simple_pdf([
            "BON DE COMMANDE N° BC-2026-00900", "Facturation sur Chorus Pro :",
            "Budget de l'Eau - SIRET 200 023 414 00069", "Budget Principal - SIRET 200 023 414 00101",
            "N° d'engagement juridique : EJ2026-009000",
        ])
        invoice = self.draft()
        wizard = self.wizard(invoice, upload=base64.b64encode(order), upload_name="bc.pdf")
        wizard.action_read()
        sirets = self.lines(wizard, "siret")
        self.assertEqual(set(sirets.mapped("status")), {"ambiguous"})
        self.assertFalse(any(sirets.mapped("use")), "nothing chosen silently")
        self.assertIn("Recipient (SIRET): 2 values with no clear first", wizard.missing_text)
        sirets.use = True
        with self.assertRaisesRegex(UserError, "Tick one value only for Recipient"):
            wizard.action_apply()
        sirets.filtered(lambda line: line.partner_id == self.budget_principal).use = False
        wizard.action_apply()
        self.assertEqual(invoice.partner_id, self.eau)
        self.assertEqual(invoice.purchase_order_reference, "EJ2026-009000")

    def test_a_scan_is_refused_in_words(self):
        invoice = self.draft()
        wizard = self.wizard(invoice, upload=base64.b64encode(simple_pdf([])), upload_name="scan.pdf")
        with self.assertRaisesRegex(UserError, r"scan\.pdf: This order has no text to read \(a scan\)"):
            wizard.action_read()
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"].search([("name", "=", "odoo_chorus_rouen")])._update_translations(
            ["fr_FR"], overwrite=True)
        with self.assertRaisesRegex(UserError, "Ce bon de commande n'a pas de texte à lire"):
            wizard.with_context(lang="fr_FR").action_read()

    def test_an_unknown_siret_cannot_be_applied(self):
        order = simple_pdf(["Commande n° 2026-ST-0087 du 28/01/2026", "Adresse de facturation : Chorus Pro",
                            "Commune de Sandbox-sur-Seine - SIRET 217 699 909 00016", "Numéro d'EJ : 1300087412"])
        invoice = self.draft()
        wizard = self.wizard(invoice, upload=base64.b64encode(order), upload_name="commune.pdf")
        wizard.action_read()
        siret = self.lines(wizard, "siret")
        self.assertEqual((siret.applicable, siret.use, siret.partner_id.id), (False, False, False))
        self.assertIn("create its contact first", siret.note)
        self.assertIn("217 699 909 00016 is not one of your Chorus Pro recipients", wizard.missing_text)

    def test_only_a_draft_customer_invoice(self):
        invoice = self.make_invoice(post=True)
        with self.assertRaisesRegex(UserError, "Only a draft customer invoice"):
            invoice.action_chorus_pro_read_order()
        draft = self.draft()
        wizard = self.wizard(draft)
        with self.assertRaisesRegex(UserError, "Choose the order among the attached files, or upload it"):
            wizard.action_read()
