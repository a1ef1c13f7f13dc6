"""The lock a Chorus Pro job takes on one record before it calls the platform (send job, completion job).

Never waiting: a session advisory lock, which outlives the commits of the job and dies with the worker's
connection, then the row lock (``FOR UPDATE SKIP LOCKED``) that also keeps out a user writing the record
at that moment. Each job has its own advisory namespace, so an invoice and a completion with the same id
never block each other.
"""

import logging

import psycopg2

from odoo.tools import SQL, mute_logger

_logger = logging.getLogger(__name__)


def try_lock(record, namespace):
    """Take ``record`` for this worker; False when another worker or a user has it."""
    record.ensure_one()
    cr = record.env.cr
    cr.execute("SELECT pg_try_advisory_lock(%s, %s)", (namespace, record.id))
    if not cr.fetchone()[0]:
        return False
    try:
        # A record changed since this transaction began fails with a serialization error: an expected
        # answer (another worker or a user has just had it), which Odoo would log as an ERROR "bad query".
        with cr.savepoint(flush=False), mute_logger("odoo.sql_db"):
            cr.execute(SQL("SELECT id FROM %s WHERE id = %s FOR UPDATE SKIP LOCKED",
                           SQL.identifier(record._table), record.id))
            locked = bool(cr.fetchone())
    except psycopg2.OperationalError:  # changed since this transaction started: someone else has it
        locked = False
    if not locked:
        unlock(record, namespace)
    return locked


def unlock(record, namespace):
    """Release the advisory lock of ``record`` (the row lock ends with the transaction)."""
    try:
        with record.env.cr.savepoint(flush=False):
            record.env.cr.execute("SELECT pg_advisory_unlock(%s, %s)", (namespace, record.id))
    except psycopg2.Error:  # aborted transaction: the job's final pg_advisory_unlock_all() releases it
        _logger.warning("Chorus Pro: could not release the job lock of %s %s yet", record._name, record.id)
