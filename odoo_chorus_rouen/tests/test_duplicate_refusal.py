"""Exactly once when Chorus Pro is slow: a duplicate refusal after an uncertain deposit confirms the first one."""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.odoo_chorus_rouen.sandbox.sample_invoices import make_cii

from .test_send import QUIET, ChorusSandboxCase

HOUR = 3600


@tagged("post_install", "-at_install")
class TestChorusProSlowPlatform(ChorusSandboxCase):
    """The platform takes 2 h to process a flow; the settle delay is 10 min."""

    def setUp(self):
        super().setUp()
        self.sandbox.configure(processing_delay=2 * HOUR / 3, routing_delay=60)  # 3 processing steps: 2 h
        self.addCleanup(self.sandbox.configure, processing_delay=0, routing_delay=0)
        self.env["ir.config_parameter"].sudo().set_param("odoo_chorus_rouen.settle_delay_minutes", "10")

    def todo(self, move):
        return move.activity_ids.filtered(lambda a: a.activity_type_id == self.env.ref("mail.mail_activity_data_todo"))

    def bodies(self, move):
        return "\n".join(move.message_ids.mapped("body"))

    def test_a_cut_deposit_deposited_again_is_confirmed_by_the_duplicate_refusal_and_followed_to_payment(self):
        invoice = self.make_invoice(post=True)
        self.sandbox.inject_fault("cut", operation="deposerFluxFacture")  # recorded by the platform, no answer
        with mute_logger(*QUIET):
            self.send()
        self.assertEqual(invoice.chorus_pro_state, "sending")
        self.assertTrue(invoice.chorus_pro_deposit_uncertain)

        # A minute later the first flow is still being processed: not found, the settle delay is not over.
        self.sandbox.advance(60)
        self.due_now(invoice)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sending")
        self.assertLessEqual(invoice.chorus_pro_next_try, invoice.chorus_pro_send_started + timedelta(minutes=10))
        self.assertEqual(self.deposits(invoice), 1)

        # Settle delay over, still not listed (the platform is slow): deposited again, as designed.
        invoice.chorus_pro_send_started -= timedelta(minutes=11)
        self.sandbox.advance(600)
        self.due_now(invoice)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent")
        self.assertEqual(self.deposits(invoice), 2)
        second_flow = invoice.chorus_pro_flow_number

        # Two hours later Chorus Pro has integrated the first flow and refused the second as a duplicate.
        self.sandbox.advance(2 * HOUR)
        report = self.sandbox.duplicate_report([invoice.name])
        self.assertEqual(report["refused_duplicate_flows"], 1)
        self.assertEqual(report["received_twice"], 0, "the Métropole received it once")
        self.sync()
        original = self.sandbox.invoices(number=invoice.name)
        self.assertEqual(len(original), 1)
        self.assertNotEqual(invoice.chorus_pro_state, "rejected")
        self.assertIn(invoice.chorus_pro_state, ("sent", "delivered"))
        self.assertEqual(invoice.chorus_pro_invoice_id, str(original[0]["identifiantFactureCPP"]))
        self.assertEqual(invoice.chorus_pro_flow_number, original[0]["numeroFluxDepot"], "the first flow")
        self.assertFalse(invoice.chorus_pro_error)
        self.assertFalse(self.todo(invoice), "nothing for the user to do")
        bodies = self.bodies(invoice)
        self.assertIn("Chorus Pro already had this invoice from an earlier deposit; the second deposit (flow "
                      f"{second_flow}) was refused as a duplicate, as expected.", bodies)
        self.assertIn("Nothing needs to be done", bodies)
        self.assertFalse(invoice.chorus_pro_can_send, "never resent")

        # Followed to its final status through the original.
        self.sandbox.set_invoice_status(original[0]["identifiantFactureCPP"], "MISE_EN_PAIEMENT")
        self.sync()
        self.assertEqual(invoice.chorus_pro_state, "paid")
        self.assertEqual(invoice.chorus_pro_status, "MISE_EN_PAIEMENT")
        self.assertFalse(self.todo(invoice))
        self.send()
        self.assertEqual(self.deposits(invoice), 2, "at most one refused duplicate flow, never a third deposit")

    def test_the_send_job_looks_again_while_it_waits_and_adopts_the_first_deposit_once_integrated(self):
        self.env["ir.config_parameter"].sudo().set_param("odoo_chorus_rouen.settle_delay_minutes", "1440")
        invoice = self.make_invoice(post=True)
        self.sandbox.inject_fault("cut", operation="deposerFluxFacture")
        with mute_logger(*QUIET):
            self.send()
        for minutes in (30, 60, 90):  # still being processed: wait, and look again within the hour
            invoice.chorus_pro_send_started -= timedelta(minutes=30)
            self.sandbox.advance(30 * 60)
            self.due_now(invoice)
            self.send()
            self.assertEqual(invoice.chorus_pro_state, "sending", minutes)
            self.assertLessEqual(invoice.chorus_pro_next_try, fields.Datetime.now() + timedelta(hours=1))
        self.sandbox.advance(HOUR)  # integrated
        self.due_now(invoice)
        self.send()
        self.assertIn(invoice.chorus_pro_state, ("sent", "delivered"))
        self.assertTrue(invoice.chorus_pro_invoice_id)
        self.assertEqual(self.deposits(invoice), 1, "never deposited again")
        self.assertIn("the earlier deposit went through", self.bodies(invoice))

    def test_no_second_deposit_while_the_known_first_flow_is_still_being_processed(self):
        invoice = self.make_invoice(post=True)
        data, filename, syntax = invoice._chorus_pro_build_file()
        invoice._chorus_pro_store_file(data, filename)
        flow = self.company._chorus_pro_get_client().deposit_flow(data, filename, syntax).flow_number
        # The flow number of the uncertain deposit is known (left by an interrupted run).
        invoice.write({"chorus_pro_state": "sending", "chorus_pro_flow_number": flow,
                       "chorus_pro_send_started": invoice.create_date - timedelta(minutes=11)})
        self.due_now(invoice)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sending", "settle delay over, but the flow is still processing")
        self.assertEqual(self.deposits(invoice), 1)
        self.sandbox.advance(2 * HOUR + 1)
        self.due_now(invoice)
        self.send()
        self.assertIn(invoice.chorus_pro_state, ("sent", "delivered"))
        self.assertTrue(invoice.chorus_pro_invoice_id)
        self.assertEqual(self.deposits(invoice), 1)

    def test_a_number_used_on_chorus_pro_by_another_tool_is_a_real_problem(self):
        invoice = self.make_invoice(post=True)
        # The same number was deposited from the Chorus Pro portal (another file, another amount).
        client = self.company._chorus_pro_get_client()
        client.deposit_flow(make_cii(invoice.name, amount="12.00"), "portal.xml", "IN_DP_E1_CII_16B")
        self.sandbox.advance(2 * HOUR + 1)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent")
        self.assertFalse(invoice.chorus_pro_deposit_uncertain)
        self.sandbox.advance(2 * HOUR + 1)
        self.sync()
        self.assertEqual(invoice.chorus_pro_state, "rejected")
        self.assertFalse(invoice.chorus_pro_invoice_id, "the other invoice is never adopted")
        self.assertTrue(invoice.chorus_pro_duplicate_conflict)
        self.assertIn("already used on Chorus Pro by an invoice that was not deposited from Odoo",
                      invoice.chorus_pro_error)
        self.assertIn("new number", invoice.chorus_pro_error)
        self.assertIn("doublon", invoice.chorus_pro_error, "the platform's own reason is kept")
        todo = self.todo(invoice)
        self.assertEqual(len(todo), 1)
        self.assertIn("credit note", todo.note)
        self.assertFalse(invoice.chorus_pro_can_send, "resending would only add refused flows")
        with self.assertRaisesRegex(UserError, "already used on Chorus Pro"):
            invoice.action_chorus_pro_send()

    def test_an_original_with_another_amount_is_not_adopted_even_after_an_uncertain_deposit(self):
        invoice = self.make_invoice(post=True)
        client = self.company._chorus_pro_get_client()
        client.deposit_flow(make_cii(invoice.name, amount="12.00"), "other.xml", "IN_DP_E1_CII_16B")
        self.sandbox.advance(2 * HOUR + 1)
        invoice.write({"chorus_pro_state": "sending", "chorus_pro_deposit_uncertain": True,
                       "chorus_pro_send_started": invoice.create_date - timedelta(minutes=11)})
        self.due_now(invoice)
        self.send()  # the number is on Chorus Pro, but not with this amount: not adopted, deposited again
        self.assertEqual(invoice.chorus_pro_state, "sent")
        self.assertFalse(invoice.chorus_pro_invoice_id)
        self.sandbox.advance(2 * HOUR + 1)
        self.sync()
        self.assertEqual(invoice.chorus_pro_state, "rejected")
        self.assertFalse(invoice.chorus_pro_invoice_id)
        self.assertIn("has another amount, date or recipient", invoice.chorus_pro_error)
