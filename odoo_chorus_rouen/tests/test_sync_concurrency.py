"""Two status syncs of one company at once (the cron on another server, ``chorus-rouen odoo sync``, a button),
each with its own database connection: the second one skips the company while the first one runs, and a run
that finds nothing new writes nothing, so that it never collides with another transaction (issue 18, point 0b).

The invoice is committed (each cursor below has its own transaction) in the database's main company; the
cursors get the test company's client (its settings live in the test's own transaction).
"""

from unittest.mock import patch

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.odoo_chorus_rouen.models.account_move_chorus_sync import SYNC_NAMESPACE

from .test_send import ChorusSandboxCase


@tagged("post_install", "-at_install")
class TestSyncConcurrency(ChorusSandboxCase):
    def setUp(self):
        super().setUp()
        seeded = self.sandbox.seed_invoices(1, recipient_siret=self.budget_principal.siret,
                                            status="MISE_A_DISPOSITION")
        self.chorus_id = seeded["first_id"]
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            partner = env["res.partner"].create({"name": "Ordinary customer (sync concurrency test)"})
            invoice = env["account.move"].create({
                "move_type": "out_invoice",
                "partner_id": partner.id,
                "invoice_date": fields.Date.today(),
                "invoice_line_ids": [Command.create({"name": "Maintenance", "quantity": 1, "price_unit": 100.0})],
            })
            invoice.action_post()
            invoice.write({  # followed on Chorus Pro, as after its deposit and the first sync
                "chorus_pro_state": "delivered",
                "chorus_pro_status": "MISE_A_DISPOSITION",
                "chorus_pro_invoice_id": str(self.chorus_id),
                "chorus_pro_flow_number": seeded["numeroFluxDepot"],
                "chorus_pro_flow_state": "IN_INTEGRE",
            })
            self.invoice_id, self.partner_id, self.company_id = invoice.id, partner.id, invoice.company_id.id
        self.envs = [api.Environment(self.env.registry.cursor(), SUPERUSER_ID, {}) for _run in range(2)]
        self.addCleanup(self.clean_up)
        self.client = self.company._chorus_pro_get_client()
        self.addCleanup(self.client.close)
        company_class = type(self.env["res.company"])
        patcher = patch.object(company_class, "_chorus_pro_get_client", lambda company: self.client)
        patcher.start()
        self.addCleanup(patcher.stop)

    def clean_up(self):
        for env in self.envs:
            env.cr.rollback()
            env.cr.execute("SELECT pg_advisory_unlock_all()")
            env.cr.close()
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            invoice = env["account.move"].browse(self.invoice_id)
            invoice.write({"chorus_pro_state": False, "chorus_pro_flow_number": False, "chorus_pro_invoice_id": False})
            invoice.button_draft()
            invoice.unlink()
            env["res.partner"].browse(self.partner_id).unlink()
            key = env["account.move"]._chorus_pro_last_sync_key(env["res.company"].browse(self.company_id))
            env["ir.config_parameter"].search([("key", "=", key)]).unlink()

    def read_invoice(self, *names):
        with self.env.registry.cursor() as cr:
            return api.Environment(cr, SUPERUSER_ID, {})["account.move"].browse(self.invoice_id).read(names)[0]

    def search_calls(self):
        return self.sandbox.calls().get("rechercherFactureParFournisseur", 0)

    def test_second_sync_of_a_company_skips_it_while_the_first_runs(self):
        first, second = self.envs
        self.sandbox.set_invoice_status(self.chorus_id, "MANDATEE")
        # The first run holds the company, from the start to the end of its run (across its commits).
        first.cr.execute("SELECT pg_try_advisory_lock(%s, %s)", (SYNC_NAMESPACE, self.company_id))
        self.assertTrue(first.cr.fetchone()[0])
        calls = self.search_calls()
        with mute_logger("odoo.addons.odoo_chorus_rouen.models.account_move_chorus_sync"):
            self.assertEqual(second["account.move"]._cron_chorus_pro_sync(), 0)
        second.cr.commit()
        self.assertEqual(self.search_calls(), calls, "the second run did not ask Chorus Pro anything")
        self.assertEqual(self.read_invoice("chorus_pro_status")["chorus_pro_status"], "MISE_A_DISPOSITION")
        # The first run ends: the next run syncs the company.
        first.cr.execute("SELECT pg_advisory_unlock(%s, %s)", (SYNC_NAMESPACE, self.company_id))
        self.assertEqual(second["account.move"]._cron_chorus_pro_sync(), 1)
        second.cr.commit()
        self.assertEqual(self.search_calls(), calls + 1)
        self.assertEqual(self.read_invoice("chorus_pro_status")["chorus_pro_status"], "MANDATEE")

    def test_a_run_that_finds_nothing_new_writes_nothing(self):
        sync, other = self.envs
        self.sandbox.set_invoice_status(self.chorus_id, "MANDATEE")
        self.assertEqual(sync["account.move"]._cron_chorus_pro_sync(), 1)
        sync.cr.commit()
        before = self.read_invoice("chorus_pro_last_sync", "write_date")
        self.assertTrue(before["chorus_pro_last_sync"])
        # Another transaction (the send job, a user) starts, then the next sync runs and commits. Chorus Pro
        # lists the invoice again (the overlap of two searches) but has nothing new about it.
        other.cr.execute("SELECT 1")
        calls = self.search_calls()
        self.assertEqual(sync["account.move"]._cron_chorus_pro_sync(), 0)
        sync.cr.commit()
        self.assertEqual(self.search_calls(), calls + 1, "the invoice was looked at")
        self.assertEqual(self.read_invoice("chorus_pro_last_sync", "write_date"), before, "and not written")
        # Had the sync rewritten the invoice, this write would fail with a serialization failure.
        invoice = other["account.move"].browse(self.invoice_id)
        invoice._chorus_pro_write({"chorus_pro_error": "written by another transaction"})
        other.flush_all()
        other.cr.commit()
        self.assertEqual(self.read_invoice("chorus_pro_error")["chorus_pro_error"], "written by another transaction")
