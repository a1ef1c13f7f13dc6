"""The status sync against the sandbox: flows, statuses in batches, chatter, activities, recycle, resend."""

import dataclasses
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .test_posting import UNKNOWN_SIRET
from .test_send import QUIET, ChorusSandboxCase


@tagged("post_install", "-at_install")
class TestChorusProSync(ChorusSandboxCase):
    def sent_invoice(self, **kwargs):
        invoice = self.make_invoice(post=True, **kwargs)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent")
        return invoice

    def calls_during(self, function):
        before = dict(self.sandbox.calls())
        function()
        after = self.sandbox.calls()
        return {key: after.get(key, 0) - before.get(key, 0) for key in after if after.get(key, 0) != before.get(key, 0)}

    def todo(self, move):
        return move.activity_ids.filtered(lambda a: a.activity_type_id == self.env.ref("mail.mail_activity_data_todo"))

    def test_full_life_to_payment(self):
        # The platform's directory demands a service code of the Transports budget.
        invoice = self.sent_invoice(partner=self.budgets["transports"], buyer_reference="DIR-MOBILITES")
        self.sync()
        self.assertEqual(invoice.chorus_pro_flow_state, "IN_INTEGRE")
        self.assertTrue(invoice.chorus_pro_invoice_id)
        self.assertEqual(invoice.chorus_pro_state, "delivered")
        self.assertEqual(invoice.chorus_pro_status, "MISE_A_DISPOSITION")
        self.assertEqual(invoice.chorus_pro_status_label, "Made available to the recipient")
        self.assertTrue(invoice.chorus_pro_status_date)
        self.assertTrue(invoice.chorus_pro_last_sync)
        chorus_id = int(invoice.chorus_pro_invoice_id)

        self.sandbox.set_invoice_status(chorus_id, "MANDATEE")
        self.sync()
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_status), ("delivered", "MANDATEE"))
        self.sandbox.set_invoice_status(chorus_id, "MISE_EN_PAIEMENT")
        self.sync()
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_status), ("paid", "MISE_EN_PAIEMENT"))
        bodies = invoice.message_ids.mapped("body")
        for code in ("MISE_A_DISPOSITION", "MANDATEE", "MISE_EN_PAIEMENT"):
            self.assertTrue(any(f"({code})" in body for body in bodies), code)
        self.assertFalse(self.todo(invoice), "nothing for the supplier to do")
        # Final: no longer followed.
        calls = self.calls_during(self.sync)
        self.assertEqual(calls, {})

    def test_status_label_follows_the_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        invoice = self.sent_invoice()
        self.sync()
        french = invoice.with_context(lang="fr_FR")
        self.assertEqual(french.chorus_pro_status_label, "Mise à disposition du destinataire")
        self.assertEqual(invoice.with_context(lang="en_US").chorus_pro_status_label, "Made available to the recipient")
        self.assertEqual(invoice.with_context(lang="fr_FR").chorus_pro_flow_state_label, "Intégré")

    def test_statuses_are_read_in_batches(self):
        """Tracked invoices are followed with one paged search per company and run, not one call each."""
        seeded = self.sandbox.seed_invoices(
            40, recipient_siret=self.budget_principal.siret, status="MISE_A_DISPOSITION"
        )
        invoices = self.env["account.move"]
        for offset in range(40):
            invoice = self.make_invoice()
            invoice.action_post()
            invoice.write({
                "chorus_pro_state": "delivered",
                "chorus_pro_status": "MISE_A_DISPOSITION",
                "chorus_pro_invoice_id": str(seeded["first_id"] + offset),
                "chorus_pro_flow_number": seeded["numeroFluxDepot"],
                "chorus_pro_flow_state": "IN_INTEGRE",
                "chorus_pro_deposit_date": fields.Datetime.now(),
            })
            invoices |= invoice
        for invoice in invoices[:5]:
            self.sandbox.set_invoice_status(int(invoice.chorus_pro_invoice_id), "MANDATEE")
        calls = self.calls_during(self.sync)
        self.assertEqual(calls.get("rechercherFactureParFournisseur"), 1)
        self.assertNotIn("consulterHistoriqueFacture", calls)
        self.assertNotIn("consulterCRDetaille", calls)
        self.assertLessEqual(sum(calls.values()), 2)  # the search (+ a token at most)
        self.assertEqual(invoices[:5].mapped("chorus_pro_status"), ["MANDATEE"] * 5)
        self.assertEqual(set(invoices[5:].mapped("chorus_pro_status")), {"MISE_A_DISPOSITION"})
        # The next run asks only for what changed since this one.
        calls = self.calls_during(self.sync)
        self.assertEqual(calls.get("rechercherFactureParFournisseur"), 1)

    def test_one_invoice_failing_does_not_stop_the_sync(self):
        first = self.sent_invoice()
        second = self.sent_invoice()
        original = type(first)._chorus_pro_apply_summary

        def apply(move, summary, client=None):
            if move == first:
                raise RuntimeError("boom")
            return original(move, summary, client)

        with patch.object(type(first), "_chorus_pro_apply_summary", apply), mute_logger(*QUIET):
            self.sync()
        self.assertEqual(second.chorus_pro_state, "delivered")
        self.assertEqual(first.chorus_pro_state, "sent")
        self.sync()
        self.assertEqual(first.chorus_pro_state, "delivered")

    def test_one_invoice_failing_when_the_page_is_written(self):
        """The changes of a page are written together; when that fails, each invoice is written alone."""
        first, second, third = (self.sent_invoice() for __ in range(3))
        self.sync()
        for invoice, status in ((first, "SUSPENDUE"), (second, "SUSPENDUE"), (third, "MANDATEE")):
            self.sandbox.set_invoice_status(int(invoice.chorus_pro_invoice_id), status, "Certificate missing")
        original = type(first).activity_schedule

        def schedule(moves, *args, **kwargs):
            if first in moves:
                raise RuntimeError("boom")
            return original(moves, *args, **kwargs)

        with patch.object(type(first), "activity_schedule", schedule), mute_logger(*QUIET):
            self.assertEqual(self.sync(), 2)
        self.assertEqual((second.chorus_pro_state, second.chorus_pro_status), ("action", "SUSPENDUE"))
        self.assertEqual(len(self.todo(second)), 1)
        self.assertEqual(third.chorus_pro_status, "MANDATEE")
        self.assertEqual(len([body for body in third.message_ids.mapped("body") if "(MANDATEE)" in body]), 1)
        self.assertEqual((first.chorus_pro_state, first.chorus_pro_status), ("delivered", "MISE_A_DISPOSITION"))
        self.assertFalse(self.todo(first))
        self.assertFalse(any("(SUSPENDUE)" in body for body in first.message_ids.mapped("body")))
        self.sync()
        self.assertEqual((first.chorus_pro_state, first.chorus_pro_status), ("action", "SUSPENDUE"))
        self.assertEqual(len(self.todo(first)), 1)
        self.assertEqual(len(self.todo(second)), 1, "not scheduled twice")

    # --- rejections -----------------------------------------------------------------------------

    @mute_logger(*QUIET)
    def test_flow_rejected_then_resent(self):
        unknown = self.env["res.partner"].create({
            "name": "Unknown Structure", "parent_id": self.metropole.id, "type": "invoice",
            "siret": UNKNOWN_SIRET, "chorus_pro_recipient": True, "chorus_pro_requires_engagement": False,
            # Taken as read from the directory: the platform's own rejection is what is tested here (the
            # read before the deposit would hold it: test_directory_refresh.py).
            "chorus_pro_directory_date": fields.Datetime.now(),
        })
        invoice = self.sent_invoice(partner=unknown)
        self.sync()
        self.assertEqual(invoice.chorus_pro_state, "rejected")
        self.assertEqual(invoice.chorus_pro_flow_state, "IN_REJETE")
        self.assertTrue(invoice.chorus_pro_flow_rejected)
        self.assertIn("n'est pas reference", invoice.chorus_pro_error)  # the platform's own words
        self.assertIn("Chorus Pro rejected the file", invoice.message_ids.mapped("body")[0])
        self.assertEqual(len(self.todo(invoice)), 1)
        self.assertTrue(invoice.chorus_pro_can_send, "a rejected flow may be sent again once fixed")
        # Fix the data: address the right budget, resend.
        self.assertTrue(invoice.show_reset_to_draft_button)
        invoice.button_draft()
        self.assertEqual(invoice.state, "draft")
        invoice.partner_id = self.budget_principal
        invoice.action_post()
        self.assertEqual(invoice.chorus_pro_state, "to_send")
        self.assertFalse(invoice.chorus_pro_flow_number)
        self.send()
        self.sync()
        self.assertEqual(invoice.chorus_pro_state, "delivered")

    @mute_logger(*QUIET)
    def test_flow_incident_then_resend_button(self):
        invoice = self.make_invoice(post=True)
        self.sandbox.inject_fault("incident", operation="deposerFluxFacture")
        self.send()
        self.sync()
        self.assertEqual(invoice.chorus_pro_state, "rejected")
        self.assertEqual(invoice.chorus_pro_flow_state, "IN_INCIDENTE")
        self.assertEqual(len(self.todo(invoice)), 1)
        invoice.with_user(self.user_invoicing).action_chorus_pro_send()
        self.assertFalse(self.todo(invoice), "the to-do is done once the invoice is queued again")
        self.send()
        self.sync()
        self.assertEqual(invoice.chorus_pro_state, "delivered")
        self.assertEqual(self.deposits(invoice), 2, "the first flow was never integrated")

    def test_history_only_when_the_search_lacks_the_reason(self):
        invoice = self.sent_invoice()
        self.sync()
        chorus_id = int(invoice.chorus_pro_invoice_id)
        self.sandbox.set_invoice_status(chorus_id, "SUSPENDUE", "Service-done certificate missing")
        calls = self.calls_during(self.sync)
        self.assertNotIn("consulterHistoriqueFacture", calls, "the search gave the reason")
        self.assertIn("Service-done certificate missing", invoice.chorus_pro_error)
        self.sandbox.set_invoice_status(chorus_id, "A_RECYCLER", "Wrong budget")
        original = type(self.env["account.move"])._chorus_pro_apply_summary

        def without_comment(move, summary, client=None):
            return original(move, dataclasses.replace(summary, comment=None), client)

        with patch.object(type(invoice), "_chorus_pro_apply_summary", without_comment):
            calls = self.calls_during(self.sync)
        self.assertEqual(calls.get("consulterHistoriqueFacture"), 1)
        self.assertIn("Wrong budget", invoice.chorus_pro_error)

    def test_rejected_by_the_recipient(self):
        invoice = self.sent_invoice()
        self.sync()
        self.sandbox.set_invoice_status(int(invoice.chorus_pro_invoice_id), "REJETEE", "Wrong amount")
        self.sync()
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_status), ("rejected", "REJETEE"))
        self.assertIn("Wrong amount", invoice.chorus_pro_error)
        self.assertIn("Wrong amount", invoice.message_ids[0].body)
        self.assertEqual(len(self.todo(invoice)), 1)
        self.assertFalse(invoice.chorus_pro_can_send)
        with self.assertRaisesMessage(UserError, "credit note", "new number"):
            invoice.action_chorus_pro_send()
        with self.assertRaisesMessage(UserError, "cannot be reset to draft"):
            invoice.button_draft()
        # Final: the invoice is no longer followed, the activity is not duplicated.
        self.sync()
        self.assertEqual(len(self.todo(invoice)), 1)

    # --- to recycle -----------------------------------------------------------------------------

    def test_to_recycle_then_recycled(self):
        invoice = self.sent_invoice(partner=self.budgets["transports"], buyer_reference="DIR-MOBILITES")
        self.sync()
        self.sandbox.set_invoice_status(int(invoice.chorus_pro_invoice_id), "A_RECYCLER", "Not our budget")
        self.sync()
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_status), ("action", "A_RECYCLER"))
        activity = self.todo(invoice)
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, invoice.invoice_user_id)
        self.assertIn("Recycle", activity.note)
        self.sync()
        self.assertEqual(len(self.todo(invoice)), 1, "one activity per status, not one per run")

        with self.assertRaises(UserError):
            invoice.with_user(self.user_employee).action_chorus_pro_recycle()
        action = invoice.with_user(self.user_invoicing).action_chorus_pro_recycle()
        self.assertEqual(action["res_model"], "chorus.pro.recycle")
        wizard = Form(self.env["chorus.pro.recycle"].with_user(self.user_invoicing).with_context(**action["context"]))
        self.assertEqual(wizard.partner_id, self.budgets["transports"])
        wizard.partner_id = self.budgets["eau"]
        wizard.buyer_reference = False  # the water budget wants no service code: "" clears it on Chorus Pro
        wizard.purchase_order_reference = "EJ-EAU-2026-42"
        wizard.comment = "Addressed to the water budget"
        wizard.save().action_recycle()
        self.assertEqual(invoice.partner_id, self.budgets["eau"])
        self.assertEqual(invoice.purchase_order_reference, "EJ-EAU-2026-42")
        self.assertFalse(invoice.buyer_reference)
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_status), ("delivered", "DEPOSEE"))
        chorus = self.sandbox.invoice(int(invoice.chorus_pro_invoice_id))
        self.assertEqual(chorus["codeDestinataire"], self.budgets["eau"].siret)
        self.assertFalse(chorus.get("codeServiceExecutant"))
        self.assertTrue(any("Recycled on Chorus Pro" in body for body in invoice.message_ids.mapped("body")))
        self.assertEqual(self.deposits(invoice), 1, "recycling is not a new deposit")
        self.assertFalse(self.todo(invoice), "the to-do is done once the platform has the new routing")
        self.sync()
        self.assertEqual(invoice.chorus_pro_status, "MISE_A_DISPOSITION")

    def test_recycle_checks_the_new_routing(self):
        invoice = self.sent_invoice()
        self.sync()
        self.sandbox.set_invoice_status(int(invoice.chorus_pro_invoice_id), "A_RECYCLER")
        self.sync()
        with self.assertRaisesMessage(UserError, "requires an engagement number"):
            invoice._chorus_pro_recycle(self.budgets["eau"], "", "")
        with self.assertRaisesMessage(UserError, "must belong to"):
            invoice._chorus_pro_recycle(self.customer, "", "EJ-1")
        self.assertEqual(invoice.chorus_pro_status, "A_RECYCLER")
