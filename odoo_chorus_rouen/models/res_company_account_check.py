"""The dedicated check of a company's Chorus Pro technical account, and the re-checks while it is refused.

A business call (a deposit, a search, a completion) answered 401 even with a new token only makes the
account *suspected* (``core.technical_account.is_account_suspected``): a token can expire twice in a row.
Sending stops for the company only when the dedicated check (``core.technical_account.check_account``: a
new token, then one cheap read with the technical account) is refused as well; the company's message
says what that check observed.

While sending is stopped, each pass of the send job checks the account again by itself once its next
check is due, with a growing back-off (``retry_base_seconds``, doubled up to ``retry_max_seconds``), and
resumes sending as soon as a check passes: nobody has to retype the settings after a platform hiccup.
Changing the login or the password, or a successful "Test connection", resumes at once
(``res_company_technical_account``).

One check of a company at a time: a session advisory lock, taken without waiting; a worker that finds
it taken leaves the check to the one that holds it.
"""

import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..core import delivery, technical_account  # noqa: TID252
from ..core.budgets import compact_siret  # noqa: TID252

_logger = logging.getLogger(__name__)

# Session advisory lock namespace ("CPA0"): one check of a company's technical account at a time.
ACCOUNT_CHECK_NAMESPACE = 0x43504130


class ResCompany(models.Model):
    _inherit = "res.company"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_account_next_check = fields.Datetime(
        string="Technical Account Next Check",
        copy=False,
        readonly=True,
        help="While Chorus Pro refuses the technical account, when the send job checks it again by itself.",
    )
    chorus_pro_account_checks = fields.Integer(
        string="Refused Account Checks",
        copy=False,
        readonly=True,
        help="Checks of the technical account refused in a row since sending stopped (the back-off grows with it).",
    )

    # ------------------------------------------------------------------
    # The check
    # ------------------------------------------------------------------

    def _chorus_pro_check_lock(self):
        """Take this company's account check for this worker; False when another worker has it.

        The job's transaction is then committed (when committing is allowed), so that what another
        worker concluded just before is seen.
        """
        self.ensure_one()
        self.env.cr.execute("SELECT pg_try_advisory_lock(%s, %s)", (ACCOUNT_CHECK_NAMESPACE, self.id))
        if not self.env.cr.fetchone()[0]:
            return False
        self.env["account.move"]._chorus_pro_commit()
        self.invalidate_recordset()
        return True

    def _chorus_pro_check_unlock(self):
        self.env.cr.execute("SELECT pg_advisory_unlock(%s, %s)", (ACCOUNT_CHECK_NAMESPACE, self.id))

    def _chorus_pro_check_account(self):
        """The dedicated check (``core.technical_account.check_account``) with this company's settings.

        :return: a ``core.technical_account.AccountCheck``; never raises for Chorus Pro's or the settings' sake.
        """
        self.ensure_one()
        try:
            client = self._chorus_pro_get_client()
        except UserError as err:
            return technical_account.AccountCheck("failed", "settings", err.args[0])
        try:
            return technical_account.check_account(client, compact_siret(self.sudo().siret or "") or None)
        finally:
            client.close()

    def _chorus_pro_account_suspected(self, err):
        """A business call was answered 401 even with a new token (``err``): check the account on its own.

        Sending stops for the company only when the dedicated check is refused too. The check's outcome is
        left on the error (``account_check``, ``account_check_answer``) for the invoice's message.

        :return: whether sending is stopped for the company (by this check or an earlier one).
        """
        self.ensure_one()
        company = self.sudo()
        if company._chorus_pro_sending_stopped():
            return True
        if not company._chorus_pro_check_lock():
            err.params.update(account_check="busy", account_check_answer="")
            return False
        try:
            if company._chorus_pro_sending_stopped():  # concluded by another worker meanwhile
                return True
            check = company._chorus_pro_check_account()
            err.params.update(account_check=check.outcome, account_check_answer=check.answer)
            if not check.refused:
                _logger.info(
                    "Chorus Pro: company %s: %s was answered HTTP 401 with a new token (%s), but the check of the "
                    "technical account %s: not stopping", company.id, err.params.get("operation"),
                    err.params.get("reason"), "passed" if check.passed else f"could not be made ({check.answer})",
                )
                return False
            company._chorus_pro_stop_sending(check, next_check=company._chorus_pro_next_account_check(1))
            self.env["account.move"]._chorus_pro_commit()
            return True
        finally:
            company._chorus_pro_check_unlock()

    @api.model
    def _chorus_pro_next_account_check(self, checks):
        """When to check again after ``checks`` refused checks in a row (the send job's back-off)."""
        move = self.env["account.move"]
        delay = delivery.next_attempt_delay(
            checks,
            base=move._chorus_pro_param("retry_base_seconds"),
            maximum=move._chorus_pro_param("retry_max_seconds"),
        )
        return fields.Datetime.now() + timedelta(seconds=delay)

    # ------------------------------------------------------------------
    # Re-checks while sending is stopped
    # ------------------------------------------------------------------

    @api.model
    def _chorus_pro_recheck_accounts(self):
        """Check again the technical account of each stopped company whose next check is due; resume
        sending where it passes. Called at the start of each pass of the send job. Returns the companies
        resumed."""
        now = fields.Datetime.now()
        due = self.sudo().search([
            ("chorus_pro_account_refused", "!=", False),
            "|", ("chorus_pro_account_next_check", "=", False), ("chorus_pro_account_next_check", "<=", now),
        ])
        resumed = self.browse()
        for company in due:
            if not company._chorus_pro_sending_stopped():  # its settings changed since: lifted there
                resumed |= company
                continue
            if not company._chorus_pro_check_lock():
                continue
            try:
                if company._chorus_pro_recheck_account():
                    resumed |= company
            finally:
                company._chorus_pro_check_unlock()
        return resumed

    def _chorus_pro_recheck_account(self):
        """One re-check (the lock is held). Returns whether sending resumed."""
        self.ensure_one()
        now = fields.Datetime.now()
        if not self.chorus_pro_account_refused or (
                self.chorus_pro_account_next_check and self.chorus_pro_account_next_check > now):
            return False  # another worker resumed it or checked it just before
        check = self._chorus_pro_check_account()
        move = self.env["account.move"]
        if check.passed:
            self._chorus_pro_resume_sending(_("a check of the technical account passed"))
            move._chorus_pro_commit()
            return True
        checks = self.chorus_pro_account_checks + 1
        next_check = self._chorus_pro_next_account_check(checks)
        if check.refused:
            self._chorus_pro_stop_sending(check, next_check=next_check, checks=checks)
        else:
            _logger.info("Chorus Pro: company %s: the technical account could not be checked (%s); next check %s",
                         self.id, check.answer, next_check)
            self.write({"chorus_pro_account_checks": checks, "chorus_pro_account_next_check": next_check})
        self.env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_send")._trigger(at=next_check)
        move._chorus_pro_commit()
        return False


class ResConfigSettings(models.TransientModel):
    """When the refused technical account is checked again, beside the company's message on the settings."""

    _inherit = "res.config.settings"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_account_next_check = fields.Datetime(related="company_id.chorus_pro_account_next_check")
