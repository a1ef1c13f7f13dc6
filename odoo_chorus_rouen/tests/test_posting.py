"""Posting an invoice addressed to a Chorus Pro recipient: the checks, then the queue (no network)."""

from contextlib import contextmanager
from unittest.mock import patch

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from .common import ChorusProCommon

ENGAGEMENT = "EJ-2026-000123"
UNKNOWN_SIRET = "73282932000074"  # valid check digit, in no directory of the sandbox


class ChorusInvoiceCase(ChorusProCommon):
    """Helpers shared by the invoice-side tests (no test of its own)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.send_cron = cls.env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_send")
        cls.sync_cron = cls.env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_sync")
        cls.customer = cls.env["res.partner"].create({
            "name": "Ordinary Customer", "country_id": cls.env.ref("base.fr").id,
        })

    @classmethod
    def make_invoice(cls, partner=None, post=False, price=250.0, quantity=3, move_type="out_invoice", **values):
        vals = {
            "move_type": move_type,
            "partner_id": (partner or cls.budget_principal).id,
            "invoice_date": fields.Date.today(),
            "purchase_order_reference": ENGAGEMENT,
            "invoice_line_ids": [Command.create({
                "product_id": cls.product_a.id,
                "name": "Network maintenance, November",
                "quantity": quantity,
                "price_unit": price,
                "tax_ids": [Command.set(cls.tax_sale_a.ids)],
            })],
        }
        vals.update(values)
        move = cls.env["account.move"].create(vals)
        if post:
            move.action_post()
        return move

    @classmethod
    def make_credit_note(cls, invoice, post=False):
        credit_note = invoice._reverse_moves([{"invoice_date": fields.Date.today()}])
        if post:
            credit_note.action_post()
        return credit_note

    def trigger_count(self, cron):
        return self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", cron.id)])

    @contextmanager
    def assertRaisesMessage(self, exception, *fragments):  # noqa: N802 - unittest style
        """Context manager: ``exception`` is raised and its message contains every fragment."""
        with self.assertRaises(exception) as caught:
            yield caught
        message = str(caught.exception.args[0])
        for fragment in fragments:
            self.assertIn(fragment, message)

    def no_network(self):
        """Patch the client factory: any call to it fails the test (posting must never reach Chorus Pro)."""
        return patch.object(
            type(self.env["res.company"]), "_chorus_pro_get_client",
            side_effect=AssertionError("Chorus Pro was called during posting"),
        )


@tagged("post_install", "-at_install")
class TestChorusProPosting(ChorusInvoiceCase):
    def test_post_queues_and_triggers_the_send_job(self):
        invoice = self.make_invoice()
        self.assertTrue(invoice.chorus_pro_is_recipient)
        self.assertFalse(invoice.chorus_pro_state)
        triggers = self.trigger_count(self.send_cron)
        with self.no_network():
            invoice.action_post()
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.chorus_pro_state, "to_send")
        self.assertFalse(invoice.chorus_pro_flow_number)
        self.assertEqual(self.trigger_count(self.send_cron), triggers + 1, "the send job is woken up after commit")
        self.assertIn("queued for Chorus Pro", invoice.message_ids[0].body)

    def test_invoice_to_an_ordinary_customer_is_untouched(self):
        invoice = self.make_invoice(partner=self.customer, purchase_order_reference=False)
        triggers = self.trigger_count(self.send_cron)
        with self.no_network():
            invoice.action_post()
        self.assertFalse(invoice.chorus_pro_is_recipient)
        self.assertFalse(invoice.chorus_pro_state)
        self.assertEqual(self.trigger_count(self.send_cron), triggers)

    def test_the_budget_contact_routes_not_the_commercial_partner(self):
        person = self.env["res.partner"].create({
            "name": "Jeanne Martin", "parent_id": self.budgets["eau"].id, "type": "contact",
        })
        invoice = self.make_invoice(partner=person)
        self.assertEqual(invoice._chorus_pro_recipient(), self.budgets["eau"])
        self.assertEqual(invoice.commercial_partner_id, self.metropole)
        invoice.action_post()
        self.assertEqual(invoice.chorus_pro_state, "to_send")

    def test_credit_note_linked_to_its_invoice_is_queued(self):
        invoice = self.make_invoice(post=True)
        credit_note = self.make_credit_note(invoice, post=True)
        self.assertEqual(credit_note.reversed_entry_id, invoice)
        self.assertEqual(credit_note.chorus_pro_state, "to_send")

    # --- each missing datum blocks, with the right message -----------------------------------

    def test_missing_engagement_number(self):
        invoice = self.make_invoice(purchase_order_reference=False)
        with self.assertRaisesMessage(UserError, "requires an engagement number (BT-13)", "Budget Principal"):
            invoice.action_post()
        self.assertEqual(invoice.state, "draft")
        self.assertFalse(invoice.chorus_pro_state)

    def test_engagement_number_too_long(self):
        invoice = self.make_invoice(purchase_order_reference="E" * 51)
        with self.assertRaisesMessage(UserError, "51 characters", "at most 50"):
            invoice.action_post()

    def test_service_code_required(self):
        self.budget_principal.chorus_pro_requires_service_code = True
        invoice = self.make_invoice()
        with self.assertRaisesMessage(UserError, "requires a service code (BT-10)"):
            invoice.action_post()
        invoice.buyer_reference = "SERV-01"
        invoice.action_post()
        self.assertEqual(invoice.chorus_pro_state, "to_send")

    def test_service_code_or_engagement_required(self):
        self.budget_principal.write({
            "chorus_pro_requires_engagement": False, "chorus_pro_requires_service_or_engagement": True,
        })
        invoice = self.make_invoice(purchase_order_reference=False)
        with self.assertRaisesMessage(UserError, "requires a service code (BT-10) or an engagement number (BT-13)"):
            invoice.action_post()

    def test_service_code_must_be_an_active_service(self):
        self.env["chorus.pro.service"].create([
            {"partner_id": self.budget_principal.id, "code": "SERV-ACTIVE", "name": "Active"},
            {"partner_id": self.budget_principal.id, "code": "SERV-OLD", "name": "Old", "active": False},
        ])
        invoice = self.make_invoice(buyer_reference="SERV-OLD")
        with self.assertRaisesMessage(UserError, "SERV-OLD is not an active service", "SERV-ACTIVE"):
            invoice.action_post()
        invoice.buyer_reference = "SERV-ACTIVE"
        invoice.action_post()
        self.assertEqual(invoice.chorus_pro_state, "to_send")

    def test_budget_contact_with_a_mistyped_siret(self):
        # The contact form refuses it (the partner side's constraint)...
        with self.assertRaisesMessage(ValidationError, "check digit"):
            self.budget_principal.siret = "20002341400102"
        # ...and an invoice to a contact that got one anyway (imported data) is refused at posting.
        self.env.cr.execute(
            "UPDATE res_partner SET siret = %s WHERE id = %s", ("20002341400102", self.budget_principal.id)
        )
        self.budget_principal.invalidate_recordset(["siret"])
        invoice = self.make_invoice()
        with self.assertRaisesMessage(
            UserError, "The SIRET 20002341400102 of Métropole Rouen Normandie, Budget Principal is not valid"
        ):
            invoice.action_post()

    def test_budget_contact_without_siret(self):
        self.env.cr.execute("UPDATE res_partner SET siret = NULL WHERE id = %s", (self.budget_principal.id,))
        self.budget_principal.invalidate_recordset(["siret"])
        with self.assertRaisesMessage(UserError, "has no SIRET"):
            self.make_invoice().action_post()

    def test_missing_company_siret(self):
        self.company.partner_id.siret = False
        with self.assertRaisesMessage(UserError, "Your company", "has no SIRET"):
            self.make_invoice().action_post()

    def test_invalid_company_siret(self):
        self.company.partner_id.siret = "88412345600012"
        with self.assertRaisesMessage(UserError, "88412345600012 of your company", "is not valid"):
            self.make_invoice().action_post()

    def test_missing_bank_account(self):
        invoice = self.make_invoice()
        invoice.partner_bank_id = False
        with self.assertRaisesMessage(UserError, "no bank account to be paid on", "IBAN"):
            invoice.action_post()

    def test_bank_account_that_is_not_an_iban(self):
        bank = self.env["res.partner.bank"].create({
            "acc_number": "12345678901", "partner_id": self.company.partner_id.id, "allow_out_payment": True,
        })
        invoice = self.make_invoice(partner_bank_id=bank.id)
        with self.assertRaisesMessage(UserError, "12345678901 is not a valid IBAN"):
            invoice.action_post()

    def test_credit_note_needs_no_bank_account(self):
        invoice = self.make_invoice(post=True)
        credit_note = self.make_credit_note(invoice)
        credit_note.partner_bank_id = False
        credit_note.action_post()
        self.assertEqual(credit_note.chorus_pro_state, "to_send")

    def test_non_eur_invoice(self):
        usd = self.setup_other_currency("USD")
        invoice = self.make_invoice(currency_id=usd.id)
        with self.assertRaisesMessage(UserError, "The invoice is in USD", "must be in EUR"):
            invoice.action_post()

    def test_line_without_vat_tax(self):
        invoice = self.make_invoice()
        invoice.invoice_line_ids.tax_ids = False
        with self.assertRaisesMessage(UserError, "needs a VAT tax (BT-151/BT-152)", "Network maintenance, November"):
            invoice.action_post()

    def test_invoice_number_chorus_pro_refuses(self):
        year = fields.Date.today().year
        invoice = self.make_invoice(name=f"CHORUS-TOO-LONG-NUMBER/{year}/00001")
        with self.assertRaisesMessage(UserError, "cannot go to Chorus Pro", "at most 20 characters"):
            invoice.action_post()
        self.assertEqual(invoice.state, "draft")

    def test_zero_amount_invoice(self):
        invoice = self.make_invoice(price=0.0)
        with self.assertRaisesMessage(UserError, "total is zero"):
            invoice.action_post()

    def test_credit_note_without_origin(self):
        credit_note = self.make_invoice(move_type="out_refund")
        with self.assertRaisesMessage(
            UserError, "must refer to the invoice it corrects (BT-25)", "'Credit Note' button"
        ):
            credit_note.action_post()

    def test_every_problem_is_listed_at_once(self):
        self.company.partner_id.siret = False
        invoice = self.make_invoice(purchase_order_reference=False, price=0.0)
        invoice.partner_bank_id = False
        with self.assertRaises(UserError) as caught:
            invoice.action_post()
        message = caught.exception.args[0]
        for fragment in ("engagement number", "Your company", "bank account", "total is zero"):
            self.assertIn(fragment, message)
        self.assertEqual(message.count("\n- "), 4)

    def test_messages_are_translated(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        invoice = self.make_invoice(purchase_order_reference=False)
        # The source strings are English; without a French catalogue yet the text falls back to it,
        # but the lookup goes through the translation machinery (no exception, same fragments).
        with self.assertRaisesMessage(UserError, "BT-13"):
            invoice.with_context(lang="fr_FR").action_post()

    # --- after posting -----------------------------------------------------------------------

    def test_reset_to_draft_unqueues_but_never_after_a_deposit(self):
        invoice = self.make_invoice(post=True)
        invoice.button_draft()
        self.assertFalse(invoice.chorus_pro_state)
        invoice.action_post()
        invoice.write({"chorus_pro_state": "sent", "chorus_pro_flow_number": "CPP0011117000000000300001"})
        self.assertFalse(invoice.show_reset_to_draft_button)
        with self.assertRaisesMessage(UserError, "cannot be reset to draft", "credit note"):
            invoice.button_draft()

    def test_send_button_rights_and_rules(self):
        invoice = self.make_invoice(post=True)
        invoice.write({"chorus_pro_state": "error", "chorus_pro_error": "Missing settings"})
        with self.assertRaises(AccessError):
            invoice.with_user(self.user_employee).action_chorus_pro_send()
        triggers = self.trigger_count(self.send_cron)
        invoice.with_user(self.user_invoicing).action_chorus_pro_send()
        self.assertEqual(invoice.chorus_pro_state, "to_send")
        self.assertFalse(invoice.chorus_pro_error)
        self.assertEqual(self.trigger_count(self.send_cron), triggers + 1)
        # Never while a deposit exists.
        invoice.write({"chorus_pro_state": "sent", "chorus_pro_flow_number": "CPP0011117000000000300002"})
        self.assertFalse(invoice.chorus_pro_can_send)
        with self.assertRaisesMessage(UserError, "already on Chorus Pro", "duplicate"):
            invoice.with_user(self.user_accountant).action_chorus_pro_send()

    def test_resend_runs_the_checks_again(self):
        invoice = self.make_invoice(post=True)
        invoice.write({"chorus_pro_state": "error", "purchase_order_reference": False})
        with self.assertRaisesMessage(UserError, "engagement number"):
            invoice.action_chorus_pro_send()
        self.assertEqual(invoice.chorus_pro_state, "error")

    def test_buttons_in_the_form_are_for_accountants(self):
        arch = self.env.ref("odoo_chorus_rouen.view_move_form_inherit_chorus_pro").arch
        for method in ("action_chorus_pro_send", "action_chorus_pro_recycle"):
            self.assertIn(f'name="{method}"', arch)
        self.assertEqual(arch.count('groups="account.group_account_invoice"'), 3)
        self.assertEqual(
            self.env.ref("odoo_chorus_rouen.action_account_move_chorus_pro_send").groups_id,
            self.env.ref("account.group_account_invoice"),
        )
