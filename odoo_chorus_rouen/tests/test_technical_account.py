"""The technical account's password lifecycle, against the sandbox: expiry date, reminders, stop and resume.

Sending stops only when the dedicated check of the account is refused, never on a business call's 401
(issue 18, point 0), and resumes by itself once a later check passes.
"""

import json
import urllib.request
from datetime import date, timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .test_send import QUIET, ChorusSandboxCase

QUIET_ACCOUNT = (*QUIET, "odoo.addons.odoo_chorus_rouen.models.res_company_technical_account")


@tagged("post_install", "-at_install")
class TestChorusProTechnicalAccount(ChorusSandboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = new_test_user(cls.env, "chorus_settings_admin", "base.group_user,base.group_system",
                                  company_id=cls.company.id, company_ids=[(6, 0, cls.company.ids)])

    def account(self, **payload):
        request = urllib.request.Request(
            self.sandbox.url + "/sandbox/technical-account", data=json.dumps(payload).encode() if payload else None,
            method="POST" if payload else "GET", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback sandbox
            return json.loads(answer.read())

    def reminders(self):
        todo = self.env.ref("mail.mail_activity_data_todo")
        return self.env["mail.activity"].search([
            ("res_model", "=", "res.partner"), ("res_id", "=", self.company.partner_id.id),
            ("activity_type_id", "=", todo.id), ("user_id", "=", self.admin.id),
        ])

    def test_connection_test_reads_the_expiry_date(self):
        expiry = fields.Date.today() + timedelta(days=45)
        self.account(expires_at=f"{expiry.isoformat()}T12:00:00+01:00")
        ok, lines = self.company._chorus_pro_test_connection()
        self.assertTrue(ok, lines)
        self.assertEqual(self.company.chorus_pro_password_expiry, expiry)
        self.assertEqual(self.company.chorus_pro_password_expiry_date, expiry)
        self.assertIn(f"expires on {expiry.isoformat()} (in 45 days)", " ".join(lines))
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.chorus_pro_password_expiry, expiry)

    def test_manual_date_only_when_chorus_pro_gives_none(self):
        manual = date(2031, 1, 15)
        self.company.chorus_pro_password_expiry_manual = manual
        self.assertEqual(self.company.chorus_pro_password_expiry_date, manual)
        with patch("odoo.addons.odoo_chorus_rouen.core.client_completion.technical_account_expiry",
                   return_value=None):
            ok, lines = self.company._chorus_pro_test_connection()
        self.assertTrue(ok)
        self.assertIn("Chorus Pro gives no expiry date", " ".join(lines))
        self.assertEqual(self.company.chorus_pro_password_expiry_date, manual)
        self.company._chorus_pro_test_connection()  # the sandbox gives one: it wins over the typed date
        self.assertNotEqual(self.company.chorus_pro_password_expiry_date, manual)

    def test_weekly_directory_job_reads_the_expiry_date(self):
        expiry = fields.Date.today() + timedelta(days=90)
        self.account(expires_at=f"{expiry.isoformat()}T00:00:00+01:00")
        self.env["res.partner"]._cron_chorus_pro_update_directory()
        self.assertEqual(self.company.chorus_pro_password_expiry, expiry)

    def test_reminders_at_30_7_and_1_days_once_each(self):
        expiry = fields.Date.today() + timedelta(days=40)
        self.account(expires_at=f"{expiry.isoformat()}T12:00:00+01:00")
        self.company._chorus_pro_test_connection()
        cron = self.env["res.company"]._cron_chorus_pro_password_reminders
        for days_before, expected in ((35, 0), (30, 1), (29, 1), (20, 1), (7, 2), (7, 2), (3, 2), (1, 3), (0, 3)):
            with freeze_time(expiry - timedelta(days=days_before)):
                cron()
            self.assertEqual(len(self.reminders()), expected, f"{days_before} day(s) before")
        notes = self.reminders().mapped("note")
        self.assertTrue(all("Test connection" in note for note in notes))
        self.assertTrue(any("expires in 1 day(s)" in note for note in notes))
        self.assertFalse(self.reminders().filtered(lambda a: a.user_id == self.user_accountant),
                         "only the Settings administrators")

    def test_fifty_queued_invoices_wait_for_the_new_password(self):
        invoices = self.env["account.move"]
        for _index in range(50):
            invoices |= self.make_invoice(post=True)
        # One rendering for all: the test is about the queue, not about the invoice PDF.
        pdf = invoices[0]._chorus_pro_render_pdf()
        self.account(expire=True)
        with patch.object(type(self.env["account.move"]), "_chorus_pro_render_pdf", return_value=pdf), \
                mute_logger(*QUIET_ACCOUNT):
            self.send()
            self.send()  # a second pass changes nothing and calls nothing
        self.assertEqual(set(invoices.mapped("chorus_pro_state")), {"to_send"})
        self.assertEqual(set(invoices.mapped("chorus_pro_attempts")), {0})
        self.assertFalse(invoices.filtered(lambda m: m.chorus_pro_state == "error"))
        self.assertEqual(sum(self.deposits(invoice) for invoice in invoices), 0)
        # One refused deposit (sent twice: a 401 gets one new token), then one check of the account (a new token,
        # a directory read, again after a new token), then the job leaves the company alone until the next check.
        self.assertEqual(self.sandbox.calls().get("deposerFluxFacture"), 2)
        self.assertEqual(self.sandbox.calls().get("rechercherStructure"), 2)
        self.assertIn("refuses the technical account", self.company.chorus_pro_account_message)
        self.assertIn("was answered HTTP 401, login or password incorrects", self.company.chorus_pro_account_message)
        self.assertTrue(self.company.chorus_pro_account_refused)
        settings = self.env["res.config.settings"].create({})
        self.assertIn("Nothing is sent to Chorus Pro", settings.chorus_pro_account_message)
        self.assertFalse(any("technical account" in (body or "") for body in invoices.message_ids.mapped("body")),
                         "a company-level message, not one per invoice")

        # The administrator sets a new password on the portal, then in Odoo: sending resumes by itself.
        new_password = "renewed-password-2027"
        self.account(password=new_password)
        self.company.sudo().chorus_pro_password = new_password
        self.assertFalse(self.company.chorus_pro_account_refused)
        with patch.object(type(self.env["account.move"]), "_chorus_pro_render_pdf", return_value=pdf):
            self.env["account.move"]._cron_chorus_pro_send(time_budget=0)
        self.assertEqual(set(invoices.mapped("chorus_pro_state")), {"sent"})
        self.assertEqual([self.deposits(invoice) for invoice in invoices], [1] * 50, "each deposited once")
        self.assertEqual(set(invoices.mapped("chorus_pro_attempts")), {0})

    def test_locked_account_stops_only_that_company(self):
        invoice = self.make_invoice(post=True)
        self.account(lock=True)
        with mute_logger(*QUIET_ACCOUNT):
            self.send()
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_attempts), ("to_send", 0))
        self.assertIn(self.company, self.env["res.company"]._chorus_pro_stopped_companies())
        domain = self.env["account.move"]._chorus_pro_send_domain()
        self.assertIn(("company_id", "not in", self.company.ids), domain)
        # Unlocked on the portal; the administrator checks with "Test connection": that lifts the stop.
        self.account(unlock=True)
        ok, lines = self.company._chorus_pro_test_connection()
        self.assertTrue(ok, lines)
        self.assertFalse(self.company.chorus_pro_account_refused)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent")
        self.assertEqual(self.deposits(invoice), 1)

    def due_check(self):
        self.company.sudo().chorus_pro_account_next_check = fields.Datetime.now() - timedelta(seconds=1)

    def test_token_refused_twice_on_a_business_call_does_not_stop_sending(self):
        invoice = self.make_invoice(post=True)
        self.send()  # a token is cached
        second = self.make_invoice(post=True)
        self.sandbox.inject_fault("expire_token", count=2, operation="deposerFluxFacture")
        with mute_logger(*QUIET_ACCOUNT, "odoo.addons.odoo_chorus_rouen.models.res_company_account_check"):
            self.send()
        self.assertFalse(self.company.chorus_pro_account_refused, "a token expired twice is not a refused account")
        self.assertFalse(self.company.chorus_pro_account_message)
        self.assertEqual(second.chorus_pro_state, "to_send")
        self.assertIn("even with a new access token", second.chorus_pro_error)
        self.assertIn("a check of the technical account right after passed", second.chorus_pro_error)
        self.assertNotIn("refused the credentials", second.chorus_pro_error)
        self.due_now(second)
        self.send()
        self.assertEqual((invoice.chorus_pro_state, second.chorus_pro_state), ("sent", "sent"))
        self.assertEqual(self.deposits(second), 1)

        # The soak's case: a status search (settling an uncertain deposit) answered 401 twice.
        third = self.make_invoice(post=True)
        self.sandbox.inject_fault("cut", operation="deposerFluxFacture")
        self.send()
        self.assertEqual(third.chorus_pro_state, "sending")
        self.sandbox.inject_fault("expire_token", count=2, operation="rechercherFactureParFournisseur")
        self.due_now(third)
        with mute_logger(*QUIET_ACCOUNT, "odoo.addons.odoo_chorus_rouen.models.res_company_account_check"):
            self.send()
        self.assertFalse(self.company.chorus_pro_account_refused)
        self.assertEqual(third.chorus_pro_state, "sending", "still settled before any new deposit")
        self.assertIn("right after passed", third.chorus_pro_error)
        self.due_now(third)
        self.send()
        self.assertEqual(third.chorus_pro_state, "delivered", "the earlier deposit was found and adopted")
        self.assertEqual(self.deposits(third), 1)

    def test_refused_account_stops_then_resumes_by_itself(self):
        invoice = self.make_invoice(post=True)
        self.account(lock=True)
        with mute_logger(*QUIET_ACCOUNT):
            self.send()
        company = self.company
        self.assertTrue(company.chorus_pro_account_refused)
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_attempts), ("to_send", 0))
        message = company.chorus_pro_account_message
        self.assertIn("a check made with a new access token (rechercherStructure) was answered HTTP 401, login or "
                      "password incorrects", message)
        self.assertIn("checked again by itself", message)
        self.assertEqual(company.chorus_pro_account_checks, 1)
        first_next = company.chorus_pro_account_next_check
        self.assertGreater(first_next, fields.Datetime.now())
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.chorus_pro_account_next_check, first_next)

        # Before the next check is due: nothing is called at all.
        calls = dict(self.sandbox.calls())
        self.send()
        self.assertEqual(self.sandbox.calls(), calls)
        # Due, still locked: refused again, the next check comes later (back-off), nothing deposited.
        self.due_check()
        with mute_logger(*QUIET_ACCOUNT):
            self.send()
        self.assertTrue(company.chorus_pro_account_refused)
        self.assertEqual(company.chorus_pro_account_checks, 2)
        delay = company.chorus_pro_account_next_check - fields.Datetime.now()
        self.assertGreater(delay, first_next - company.chorus_pro_account_refused)
        self.assertEqual(self.deposits(invoice), 0)
        self.assertEqual(invoice.chorus_pro_attempts, 0)

        # Unlocked on the portal; nobody touches Odoo: the next due check passes and the invoice goes.
        self.account(unlock=True)
        self.due_check()
        self.send()
        self.assertFalse(company.chorus_pro_account_refused)
        self.assertFalse(company.chorus_pro_account_message)
        self.assertEqual((company.chorus_pro_account_checks, company.chorus_pro_account_next_check), (0, False))
        self.assertEqual(invoice.chorus_pro_state, "sent")
        self.assertEqual(self.deposits(invoice), 1)
