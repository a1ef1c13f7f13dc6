"""The job lock (models/chorus_pro_job_lock.py) between two workers, each with its own database connection:
a record another transaction changed since this one began is "taken", quietly (no ERROR in Odoo's log for
an answer the send job expects several times a day with two cron workers)."""

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged

from odoo.addons.odoo_chorus_rouen.models import chorus_pro_job_lock as job_lock

NAMESPACE = 424242  # a namespace of this test's own: no job's lock is touched


@tagged("post_install", "-at_install")
class TestJobLock(TransactionCase):
    def setUp(self):
        super().setUp()
        with self.env.registry.cursor() as cr:
            self.partner_id = api.Environment(cr, SUPERUSER_ID, {})["res.partner"].create(
                {"name": "Job lock test"}).id
        self.envs = [api.Environment(self.env.registry.cursor(), SUPERUSER_ID, {}) for _worker in range(2)]
        self.addCleanup(self.clean_up)

    def clean_up(self):
        for env in self.envs:
            env.cr.rollback()
            env.cr.execute("SELECT pg_advisory_unlock_all()")
            env.cr.close()
        with self.env.registry.cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["res.partner"].browse(self.partner_id).unlink()

    def test_a_record_changed_since_the_transaction_began_is_taken_quietly(self):
        worker, other = self.envs
        mine = worker["res.partner"].browse(self.partner_id)
        self.assertEqual(mine.name, "Job lock test")  # this worker's transaction has begun (its snapshot)
        other["res.partner"].browse(self.partner_id).write({"name": "Changed by another worker"})
        other.cr.commit()
        with self.assertNoLogs("odoo.sql_db", "ERROR"):
            self.assertFalse(job_lock.try_lock(mine, NAMESPACE))
        worker.cr.execute("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
                          "AND pid = pg_backend_pid()", (NAMESPACE,))
        self.assertEqual(worker.cr.fetchone()[0], 0, "the advisory lock is given back")
        worker.cr.rollback()  # a new transaction: the record is free now
        self.assertTrue(job_lock.try_lock(worker["res.partner"].browse(self.partner_id), NAMESPACE))

    def test_a_record_another_worker_holds_is_taken(self):
        worker, other = self.envs
        self.assertTrue(job_lock.try_lock(other["res.partner"].browse(self.partner_id), NAMESPACE))
        with self.assertNoLogs("odoo.sql_db", "ERROR"):
            self.assertFalse(job_lock.try_lock(worker["res.partner"].browse(self.partner_id), NAMESPACE))
