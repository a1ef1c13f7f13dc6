"""Two readers of one recipient's directory entry at the same time (the refresh job queued by the
settings and the "Update from the Chorus Pro directory" button, say) never fail on the
one-code-per-recipient rule, and the job does not mark the recipient as failed."""

from unittest.mock import patch

from psycopg2 import errors as pg_errors

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged
from odoo.tools import mute_logger

from .test_send import ChorusSandboxCase

SANDBOX_COMMUNE_SIRET = "21769990900016"  # Commune de Sandbox-sur-Seine, with services in the sandbox directory


@tagged("post_install", "-at_install")
class TestDirectoryConcurrentReads(ChorusSandboxCase):
    def setUp(self):
        super().setUp()
        # Committed, outside the test transaction: the readers below each have their own transaction.
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.recipient_id = env["res.partner"].create({
                "name": "Commune de Sandbox-sur-Seine (concurrency test)",
                "is_company": True,
                "siret": SANDBOX_COMMUNE_SIRET,
                "chorus_pro_recipient": True,
            }).id
        self.envs = [api.Environment(self.env.registry.cursor(), SUPERUSER_ID, {}) for _reader in range(2)]
        self.addCleanup(self.clean_up)
        self.client = self.company._chorus_pro_get_client()
        self.addCleanup(self.client.close)

    def clean_up(self):
        for env in self.envs:
            env.cr.rollback()
            env.cr.close()
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            recipient = env["res.partner"].browse(self.recipient_id)
            recipient.chorus_pro_service_ids.unlink()
            recipient.unlink()

    def read_services(self):
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            recipient = env["res.partner"].browse(self.recipient_id)
            return recipient.chorus_pro_service_ids.mapped("code"), recipient.chorus_pro_directory_error

    def test_job_reading_a_recipient_another_reader_just_read_skips_it(self):
        job, button = self.envs
        job.cr.execute("SELECT 1")  # the job's transaction starts before the other reader commits
        button["res.partner"].browse(self.recipient_id)._chorus_pro_update_directory(self.client)
        button.cr.commit()
        codes, error = self.read_services()
        self.assertTrue(codes)

        recipient = job["res.partner"].browse(self.recipient_id)
        with mute_logger("odoo.sql_db"):
            recipient._chorus_pro_refresh_one(self.client, job.company)
        job.cr.commit()
        self.assertEqual(self.read_services(), (codes, error), "skipped: no second set of services, no failure")
        self.assertFalse(error)

    def test_button_pressed_while_the_job_reads_is_replayed_not_refused(self):
        button, job = self.envs
        button.cr.execute("SELECT 1")
        job["res.partner"].browse(self.recipient_id)._chorus_pro_refresh_one(self.client, job.company)
        job.cr.commit()
        # Without the lock the button would create the services again and fail on "two services with the
        # same code" (a ValidationError shown to the user); with it, PostgreSQL refuses the outdated view
        # with a serialization failure, which Odoo answers by replaying the request with a fresh one.
        # (The company's settings live in the test's own transaction: hand the readers its client.)
        company_class = type(self.env["res.company"])
        with patch.object(company_class, "_chorus_pro_get_client", lambda company: self.client):
            with mute_logger("odoo.sql_db"), self.assertRaises(pg_errors.SerializationFailure):
                button["res.partner"].browse(self.recipient_id).action_chorus_pro_update_directory()
            button.cr.rollback()
            replay = button["res.partner"].browse(self.recipient_id).action_chorus_pro_update_directory()
        self.assertEqual(replay["params"]["type"], "success")
        self.assertTrue(self.read_services()[0])
