"""Completing a suspended invoice from Odoo, against the sandbox: wizard, job, exactly once, sync."""

import json
import urllib.request
from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .test_send import QUIET, ChorusSandboxCase

PDF = b"%PDF-1.4\n% bon de livraison signe\n" + b"0" * 4000
QUIET_COMPLETION = (*QUIET, "odoo.addons.odoo_chorus_rouen.models.chorus_pro_completion")


@tagged("post_install", "-at_install")
class TestChorusProCompletion(ChorusSandboxCase):
    def suspended_invoice(self, reason="Bon de livraison manquant"):
        invoice = self.make_invoice(post=True)
        self.send()
        self.sync()
        self.assertEqual(invoice.chorus_pro_state, "delivered")
        self.sandbox.set_invoice_status(int(invoice.chorus_pro_invoice_id), "SUSPENDUE", reason)
        self.sync()
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_status), ("action", "SUSPENDUE"))
        return invoice

    def todo(self, move):
        return move.activity_ids.filtered(lambda a: a.activity_type_id == self.env.ref("mail.mail_activity_data_todo"))

    def document(self, invoice, name="bon-livraison.pdf", raw=PDF):
        return self.env["ir.attachment"].create({"name": name, "raw": raw, "res_model": "account.move",
                                                 "res_id": invoice.id})

    def wizard(self, invoice, user=None):
        action = invoice.with_user(user or self.user_invoicing).action_chorus_pro_complete()
        self.assertEqual(action["res_model"], "chorus.pro.complete")
        return Form(self.env["chorus.pro.complete"].with_user(user or self.user_invoicing)
                    .with_context(**action["context"]))

    def complete_job(self):
        return self.env["chorus.pro.completion"]._cron_chorus_pro_complete()

    def control(self, path):
        with urllib.request.urlopen(self.sandbox.url + path, timeout=10) as answer:  # noqa: S310 - loopback
            return json.loads(answer.read())

    def completions_on_platform(self, invoice):
        history = self.sandbox.invoice(int(invoice.chorus_pro_invoice_id))["history"]
        return [entry for entry in history if entry["status"] == "COMPLETEE"]

    def test_complete_a_suspended_invoice_from_odoo(self):
        invoice = self.suspended_invoice()
        todo = self.todo(invoice)
        self.assertEqual(len(todo), 1)
        self.assertIn("Complete on Chorus Pro", todo.note)
        self.assertTrue(invoice.chorus_pro_can_complete)
        with self.assertRaises(UserError):
            invoice.with_user(self.user_employee).action_chorus_pro_complete()

        document = self.document(invoice)
        # A new file uploaded in the wizard (as the web client's upload widget creates it).
        upload = self.env["ir.attachment"].with_user(self.user_invoicing).create({
            "name": "releve-heures.csv", "raw": b"date;heures\n2026-03-12;7\n",
            "res_model": "chorus.pro.complete", "res_id": 0,
        })
        wizard = self.wizard(invoice)
        self.assertIn("Bon de livraison manquant", wizard.status_comment)
        wizard.comment = "Voici le bon de livraison signé du 12 mars."
        wizard.document_ids.add(document)
        wizard.attachment_ids.add(upload)
        self.assertFalse(wizard.problems)
        wizard.save().action_complete()
        completion = invoice.chorus_pro_completion_ids
        self.assertEqual(completion.state, "to_send", "queued: no network call in the user's transaction")
        self.assertFalse(invoice.chorus_pro_can_complete, "one completion at a time")
        self.assertEqual(self.completions_on_platform(invoice), [])

        self.assertEqual(self.complete_job(), 1)
        self.assertEqual(completion.state, "done")
        completed = self.completions_on_platform(invoice)
        self.assertEqual([e["comment"] for e in completed], ["Voici le bon de livraison signé du 12 mars."])
        files = self.control(f"/sandbox/invoices/{invoice.chorus_pro_invoice_id}/attachments")
        self.assertEqual(sorted((f["name"], f["mime"]) for f in files),
                         [("bon-livraison.pdf", "application/pdf"), ("releve-heures.csv", "text/csv")])
        self.assertEqual((upload.res_model, upload.res_id), ("account.move", invoice.id), "kept on the invoice")
        self.assertTrue(any("Completed on Chorus Pro" in body for body in invoice.message_ids.mapped("body")))

        # The status sync brings Chorus Pro's next status back and closes the to-do.
        self.sync()
        self.assertEqual(invoice.chorus_pro_status, "COMPLETEE")
        self.assertEqual(invoice.chorus_pro_state, "delivered")
        self.assertFalse(self.todo(invoice), "the to-do is done once Chorus Pro shows the invoice completed")
        self.assertFalse(invoice.chorus_pro_can_complete)
        self.assertEqual(self.complete_job(), 0, "nothing left to complete")
        self.assertEqual(self.deposits(invoice), 1, "completing is not a new deposit")

    def test_cut_connection_during_completion_does_not_complete_twice(self):
        invoice = self.suspended_invoice()
        wizard = self.wizard(invoice)
        wizard.comment = "Attestation de service fait"
        wizard.document_ids.add(self.document(invoice, "attestation.pdf"))
        wizard.save().action_complete()
        completion = invoice.chorus_pro_completion_ids
        self.sandbox.inject_fault("cut", operation="completerFacture")  # taken by the platform, answer lost
        with mute_logger(*QUIET_COMPLETION):
            self.complete_job()
        self.assertEqual(completion.state, "completing", "outcome unknown: never refused, never sent blindly")
        self.assertEqual(len(self.completions_on_platform(invoice)), 1)
        completion.next_try = fields.Datetime.now() - timedelta(seconds=1)
        calls = self.sandbox.calls().get("completerFacture", 0)
        self.complete_job()
        self.assertEqual(completion.state, "done")
        self.assertEqual(self.sandbox.calls().get("completerFacture", 0), calls, "settled from the history")
        self.assertEqual(len(self.completions_on_platform(invoice)), 1, "completed once")
        self.assertEqual(self.sandbox.calls().get("ajouterFichierDansSysteme"), 1, "the file is uploaded once")
        self.assertTrue(any("not sent again" in body for body in invoice.message_ids.mapped("body")))
        self.sync()
        self.assertEqual(invoice.chorus_pro_status, "COMPLETEE")

    def test_failure_before_the_platform_completes_once_after_reading_the_history(self):
        invoice = self.suspended_invoice()
        wizard = self.wizard(invoice)
        wizard.comment = "Relevé d'heures"
        wizard.save().action_complete()
        completion = invoice.chorus_pro_completion_ids
        self.sandbox.inject_fault("http_500", operation="completerFacture")  # refused before it was taken
        with mute_logger(*QUIET_COMPLETION):
            self.complete_job()
        self.assertEqual(completion.state, "completing")
        self.assertEqual(self.completions_on_platform(invoice), [])
        completion.next_try = fields.Datetime.now() - timedelta(seconds=1)
        self.complete_job()
        self.assertEqual(completion.state, "done")
        self.assertEqual(len(self.completions_on_platform(invoice)), 1)
        self.assertTrue(any("no completion of the invoice since its suspension" in body
                            for body in invoice.message_ids.mapped("body")))

    def test_files_chorus_pro_would_refuse_are_refused_in_words(self):
        invoice = self.suspended_invoice()
        wizard = self.wizard(invoice)
        wizard.document_ids.add(self.document(invoice, "outil.exe", b"MZ" * 100))
        wizard.document_ids.add(self.document(invoice, "releve-complet.pdf", b"0" * (12 * 1024 * 1024)))
        self.assertIn("outil.exe: Chorus Pro refuses .exe files", wizard.problems)
        self.assertIn("releve-complet.pdf weighs 12.0 MB, more than the 10.0 MB", wizard.problems)
        record = wizard.save()
        with self.assertRaises(UserError) as caught:
            record.action_complete()
        message = caught.exception.args[0]
        self.assertIn("These files cannot be sent to Chorus Pro", message)
        self.assertIn(".exe", message)
        self.assertIn("12.0 MB", message)
        self.assertFalse(invoice.chorus_pro_completion_ids)
        empty = self.wizard(invoice).save()
        with self.assertRaises(UserError):
            empty.action_complete()  # neither a file nor a comment

    def test_buyer_moved_on_before_the_job_ran(self):
        invoice = self.suspended_invoice()
        wizard = self.wizard(invoice)
        wizard.comment = "Pièces jointes"
        wizard.save().action_complete()
        completion = invoice.chorus_pro_completion_ids
        self.sandbox.set_invoice_status(int(invoice.chorus_pro_invoice_id), "REJETEE", "Facture en double")
        with mute_logger(*QUIET_COMPLETION):
            self.complete_job()
        self.assertEqual(completion.state, "error")
        self.assertIn("no longer suspended", completion.error)
        self.assertTrue(any("Not completed on Chorus Pro" in body for body in invoice.message_ids.mapped("body")))
        self.assertEqual(self.completions_on_platform(invoice), [])

    def test_refused_technical_account_makes_the_completion_wait(self):
        invoice = self.suspended_invoice()
        wizard = self.wizard(invoice)
        wizard.comment = "Attestation"
        wizard.save().action_complete()
        completion = invoice.chorus_pro_completion_ids
        self.account_control({"lock": True})
        with mute_logger(*QUIET_COMPLETION, "odoo.addons.odoo_chorus_rouen.models.res_company_technical_account"):
            self.complete_job()
        self.assertEqual((completion.state, completion.attempts), ("to_send", 0))
        self.assertTrue(self.company.chorus_pro_account_refused)
        self.assertEqual(self.complete_job(), 0, "the company is stopped: nothing is tried")
        self.account_control({"unlock": True})
        self.assertTrue(self.company._chorus_pro_test_connection()[0])
        self.complete_job()
        self.assertEqual(completion.state, "done")
        self.assertEqual(len(self.completions_on_platform(invoice)), 1)

    def account_control(self, payload):
        request = urllib.request.Request(self.sandbox.url + "/sandbox/technical-account",
                                         data=json.dumps(payload).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback sandbox
            return json.loads(answer.read())
