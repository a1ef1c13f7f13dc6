"""Recipients known before the first posting: the queued refresh of every recipient, and freshness.

* Saving working Chorus Pro settings, or a successful "Test connection", asks for a refresh of
  every recipient of the company (``res.company._chorus_pro_request_recipients_refresh``); the job
  ``ir_cron_chorus_pro_refresh_recipients`` does it after commit, one recipient per transaction, with
  its progress in the server log, then writes a summary on the settings.
* ``_chorus_pro_directory_is_stale`` tells the send job which recipients to read again before a
  deposit (never read, or older than the ``directory_max_age_days`` parameter).
"""

import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_datetime

from .res_partner import DIRECTORY_BATCH_SIZE

_logger = logging.getLogger(__name__)

MAX_AGE_PARAM = "odoo_chorus_rouen.directory_max_age_days"
DEFAULT_MAX_AGE_DAYS = 7.0
SUMMARY_FAILURES_LISTED = 10


class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_structure_inactive = fields.Boolean(
        string="Inactive on Chorus Pro",
        readonly=True,
        copy=False,
        help="The Chorus Pro directory says this structure is inactive: invoices to it are rejected.",
    )

    # ------------------------------------------------------------------
    # Freshness
    # ------------------------------------------------------------------

    @api.model
    def _chorus_pro_directory_max_age(self):
        """How old a directory entry may be before the send job reads it again (``timedelta``)."""
        value = self.env["ir.config_parameter"].sudo().get_param(MAX_AGE_PARAM)
        try:
            days = float(value) if value not in (None, False, "") else DEFAULT_MAX_AGE_DAYS
        except ValueError:
            _logger.warning("Ignoring the invalid value %r of %s", value, MAX_AGE_PARAM)
            days = DEFAULT_MAX_AGE_DAYS
        return timedelta(days=max(0.0, days))

    def _chorus_pro_directory_is_stale(self):
        """Whether this recipient's directory entry was never read or is older than the allowed age."""
        self.ensure_one()
        if not self.chorus_pro_directory_date:
            return True
        return self.chorus_pro_directory_date <= fields.Datetime.now() - self._chorus_pro_directory_max_age()

    # ------------------------------------------------------------------
    # Queued refresh of every recipient (settings saved / connection tested)
    # ------------------------------------------------------------------

    @api.model
    def _chorus_pro_refresh_domain(self, company):
        """Recipients of ``company`` (its own and those shared by all companies) not read since it asked."""
        return [
            ("chorus_pro_recipient", "=", True),
            ("company_id", "in", [False, company.id]),
            "|",
            ("chorus_pro_directory_attempt", "=", False),
            ("chorus_pro_directory_attempt", "<", company.chorus_pro_recipients_refresh_requested),
        ]

    @api.model
    def _cron_chorus_pro_refresh_recipients(self, batch_size=DIRECTORY_BATCH_SIZE):
        """Read every recipient of the companies that asked for it (``ir_cron_chorus_pro_refresh_recipients``).

        ``batch_size`` recipients per call, each in its own transaction (outside tests); the progress
        goes to the server log and to the cron runner, which calls the job again while some remain.
        A company whose recipients are all read gets a summary on its settings.
        """
        companies = self.env["res.company"].sudo().search([("chorus_pro_recipients_refresh_requested", "!=", False)])
        done = remaining = 0
        for company in companies:
            if done >= batch_size:
                remaining += self.search_count(self._chorus_pro_refresh_domain(company))
                continue
            lang = company.partner_id.lang or "en_US"
            count, left = self.with_context(lang=lang)._chorus_pro_refresh_company(company, batch_size - done)
            done += count
            remaining += left
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return done

    @api.model
    def _chorus_pro_refresh_company(self, company, limit):
        """One batch of the refresh of ``company``'s recipients: ``(recipients read, recipients left)``."""
        domain = self._chorus_pro_refresh_domain(company)
        partners = self.search(domain, order="id", limit=limit)
        total = self.search_count([("chorus_pro_recipient", "=", True), ("company_id", "in", [False, company.id])])
        try:
            client = company._chorus_pro_get_client()
        except UserError as err:
            _logger.warning("Chorus Pro: refresh of the recipients of %s stopped: %s", company.name, err.args[0])
            company.write({
                "chorus_pro_recipients_refresh_requested": False,
                "chorus_pro_recipients_refresh_summary": _(
                    "%(date)s: the recipients were not read from the Chorus Pro directory: %(error)s",
                    date=format_datetime(self.env, fields.Datetime.now()), error=err.args[0],
                ),
            })
            return 0, 0
        done = 0
        try:
            for partner in partners:
                partner._chorus_pro_refresh_one(client, company)
                done += 1
                if self._chorus_pro_can_commit():
                    self.env.cr.commit()  # pylint: disable=invalid-commit  # one recipient per transaction
        finally:
            client.close()
        left = self.search_count(domain)
        _logger.info("Chorus Pro: recipients of %s read from the directory: %s of %s, %s left",
                     company.name, total - left, total, left)
        if not left:
            company._chorus_pro_finish_recipients_refresh()
        return done, left
