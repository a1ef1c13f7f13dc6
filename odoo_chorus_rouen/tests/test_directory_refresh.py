"""Recipients known before the first posting: the queued refresh of every recipient (settings saved,
connection tested) and the read of a stale recipient before its invoice is deposited."""

from datetime import timedelta
from unittest.mock import patch

import requests

from odoo import fields
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from odoo.addons.odoo_chorus_rouen.models import res_partner_directory_refresh as refresh_module

from .test_posting import UNKNOWN_SIRET
from .test_send import QUIET, ChorusSandboxCase

PRINCIPAL_SIRET = "20002341400101"


@tagged("post_install", "-at_install")
class TestDirectoryBeforeDeposit(ChorusSandboxCase):
    def setUp(self):
        super().setUp()
        # As on a new database: the recipients were never read from the directory (budget defaults).
        self.env["res.partner"].search([("chorus_pro_recipient", "=", True)]).write(
            {"chorus_pro_directory_date": False, "chorus_pro_directory_attempt": False}
        )

    def set_truth(self, siret, **changes):
        """Change what the sandbox's directory says, through its control API (as an integrator would)."""
        answer = requests.post(f"{self.sandbox.url}/sandbox/directory/{siret}", json=changes, timeout=10)
        self.assertEqual(answer.status_code, 200, answer.text)
        return answer.json()

    def test_recipient_read_before_the_first_deposit(self):
        invoice = self.make_invoice(post=True)
        self.assertFalse(self.budget_principal.chorus_pro_directory_date)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent")
        self.assertEqual(self.deposits(invoice), 1)
        self.assertTrue(self.budget_principal.chorus_pro_directory_date, "read before the deposit")
        self.assertTrue(self.budget_principal.chorus_pro_service_ids)
        # Fresh now: the next invoice to it does not read it again.
        calls = self.sandbox.calls().get("rechercherStructure", 0)
        other = self.make_invoice(post=True)
        self.send()
        self.assertEqual(other.chorus_pro_state, "sent")
        self.assertEqual(self.sandbox.calls().get("rechercherStructure", 0), calls)

    def test_requirement_changed_after_posting_holds_the_invoice_then_resend_deposits_once(self):
        invoice = self.make_invoice(post=True)  # the defaults: engagement only
        self.set_truth(PRINCIPAL_SIRET, service_code_required=True)
        with mute_logger(*QUIET):
            self.send()
        self.assertEqual(invoice.chorus_pro_state, "error")
        self.assertEqual(self.deposits(invoice), 0, "nothing deposited")
        self.assertIn("Held before the deposit", invoice.chorus_pro_error)
        self.assertIn("requires a service code (BT-10)", invoice.chorus_pro_error)
        self.assertIn("Resend to Chorus Pro", invoice.chorus_pro_error)
        self.assertIn("Held before the deposit", invoice.message_ids[0].body)
        activity = invoice.activity_ids.filtered(lambda a: a.summary == "Chorus Pro: held before the deposit")
        self.assertEqual(len(activity), 1)
        self.assertIn("requires a service code", activity.note)
        self.assertTrue(self.budget_principal.chorus_pro_requires_service_code, "the fresh entry is kept")
        # Another run does not deposit it behind the user's back.
        self.send()
        self.assertEqual(self.deposits(invoice), 0)
        # The fix, then Resend: deposited once.
        invoice.buyer_reference = "DIR-FINANCES"
        invoice.action_chorus_pro_send()
        self.assertFalse(invoice.activity_ids.filtered(lambda a: a.summary == "Chorus Pro: held before the deposit"))
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent")
        self.assertEqual(self.deposits(invoice), 1)
        self.send()
        self.assertEqual(self.deposits(invoice), 1)

    def test_old_entry_is_read_again_and_closed_structure_holds(self):
        self.budget_principal._chorus_pro_update_directory(self.company._chorus_pro_get_client())
        invoice = self.make_invoice(post=True)
        self.set_truth(PRINCIPAL_SIRET, active=False)
        # Read 8 days ago: older than the default 7 days.
        self.budget_principal.chorus_pro_directory_date = fields.Datetime.now() - timedelta(days=8)
        with mute_logger(*QUIET):
            self.send()
        self.assertEqual(invoice.chorus_pro_state, "error")
        self.assertIn("inactive in the Chorus Pro directory", invoice.chorus_pro_error)
        self.assertEqual(self.deposits(invoice), 0)
        self.assertTrue(self.budget_principal.chorus_pro_structure_inactive)

    def test_siret_unknown_to_chorus_pro_is_held(self):
        unknown = self.env["res.partner"].create({
            "name": "Unknown Structure", "parent_id": self.metropole.id, "type": "invoice",
            "siret": UNKNOWN_SIRET, "chorus_pro_recipient": True, "chorus_pro_requires_engagement": False,
        })
        invoice = self.make_invoice(partner=unknown, post=True)
        with mute_logger(*QUIET):
            self.send()
        self.assertEqual(invoice.chorus_pro_state, "error")
        self.assertIn("Chorus Pro does not know the SIRET", invoice.chorus_pro_error)
        self.assertEqual(self.deposits(invoice), 0)
        self.assertTrue(unknown.chorus_pro_directory_error)

    def test_max_age_parameter(self):
        partner = self.budget_principal
        partner.chorus_pro_directory_date = fields.Datetime.now() - timedelta(days=2)
        self.assertFalse(partner._chorus_pro_directory_is_stale())
        self.env["ir.config_parameter"].sudo().set_param("odoo_chorus_rouen.directory_max_age_days", "1")
        self.assertTrue(partner._chorus_pro_directory_is_stale())
        self.env["ir.config_parameter"].sudo().set_param("odoo_chorus_rouen.directory_max_age_days", "0")
        partner.chorus_pro_directory_date = fields.Datetime.now() - timedelta(seconds=1)
        self.assertTrue(partner._chorus_pro_directory_is_stale(), "0: read before every deposit")


@tagged("post_install", "-at_install")
class TestRecipientsRefreshJob(ChorusSandboxCase):
    def setUp(self):
        super().setUp()
        self.env["res.partner"].search([("chorus_pro_recipient", "=", True)]).write(
            {"chorus_pro_directory_date": False, "chorus_pro_directory_attempt": False}
        )
        self.refresh_cron = self.env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_refresh_recipients")

    def test_saving_settings_queues_the_refresh_not_in_the_transaction(self):
        triggers = self.trigger_count(self.refresh_cron)
        calls = sum(self.sandbox.calls().values())
        settings = Form(self.env["res.config.settings"])
        settings.chorus_pro_login = self.sandbox.credentials.login + " "  # a change of the Chorus Pro settings
        settings.save().execute()
        self.assertEqual(sum(self.sandbox.calls().values()), calls, "no network call in the settings transaction")
        self.assertEqual(self.trigger_count(self.refresh_cron), triggers + 1)
        self.assertTrue(self.company.chorus_pro_recipients_refresh_requested)
        self.assertIn("being read", self.company.chorus_pro_recipients_refresh_summary)
        # Saving without touching Chorus Pro settings queues nothing.
        Form(self.env["res.config.settings"]).save().execute()
        self.assertEqual(self.trigger_count(self.refresh_cron), triggers + 1)

        self.env["res.partner"]._cron_chorus_pro_refresh_recipients(batch_size=3)
        self.assertTrue(self.company.chorus_pro_recipients_refresh_requested, "5 budgets left: not finished")
        with patch.object(refresh_module._logger, "info") as log:
            for _run in range(3):
                if self.company.chorus_pro_recipients_refresh_requested:
                    self.env["res.partner"]._cron_chorus_pro_refresh_recipients(batch_size=3)
        self.assertFalse(self.company.chorus_pro_recipients_refresh_requested, "finished in 3 batches of 3")
        progress = [call.args[1:] for call in log.call_args_list if "read from the directory" in call.args[0]]
        self.assertEqual([(read, left) for _name, read, _total, left in progress], [(6, 2), (8, 0)])
        budgets = self.env["res.partner"].concat(*self.budgets.values())
        self.assertTrue(all(budgets.mapped("chorus_pro_directory_date")))
        self.assertIn("8 of 8 recipient(s) read", self.company.chorus_pro_recipients_refresh_summary)
        self.assertIn("0 failed", self.company.chorus_pro_recipients_refresh_summary)
        # The sandbox's transports budget requires a service code: known before the first posting.
        self.assertTrue(self.budgets["transports"].chorus_pro_requires_service_code)
        with self.assertRaisesMessage(Exception, "requires a service code (BT-10)"):
            self.make_invoice(partner=self.budgets["transports"], post=True)

    def test_connection_ok_queues_the_refresh(self):
        ok, lines = self.company._chorus_pro_test_connection()
        self.assertTrue(ok, lines)
        self.assertTrue(self.company.chorus_pro_recipients_refresh_requested)
        self.assertIn("being read from the Chorus Pro directory", lines[-1])

    def test_unusable_settings_end_the_refresh_with_the_reason(self):
        self.company._chorus_pro_request_recipients_refresh()
        self.company.sudo().chorus_pro_client_secret = False
        self.env["res.partner"]._cron_chorus_pro_refresh_recipients()
        self.assertFalse(self.company.chorus_pro_recipients_refresh_requested)
        self.assertIn("were not read", self.company.chorus_pro_recipients_refresh_summary)
