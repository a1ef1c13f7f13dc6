"""The send job stops for a company whose technical account Chorus Pro refuses, and starts again by itself.

A business call answered 401 even with a new token only makes the technical account *suspected*
(``core.technical_account``): the company's dedicated check decides (``res_company_account_check``).

* Refused by that check: not the invoice's fault. No invoice counts a failed attempt, none goes to
  "Error", none gets a chatter message. The company gets one message (settings + log) and its invoices
  are left in the queue; each pass of the send job checks the account again when its next check is due
  and sends them as soon as a check passes (or the login or password is updated).
* The check passed (or could not be made): the call failed, not the account. The invoice is retried
  like after any failure that may pass, with a message saying what was observed.
"""

from odoo import api, models

from ..core import technical_account  # noqa: TID252


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _cron_chorus_pro_send(self, *args, **kwargs):
        # EXTENDS odoo_chorus_rouen: first check again the refused technical accounts whose check is due.
        self.env["res.company"]._chorus_pro_recheck_accounts()
        return super()._cron_chorus_pro_send(*args, **kwargs)

    @api.model
    def _chorus_pro_send_domain(self):
        domain = super()._chorus_pro_send_domain()
        stopped = self.env["res.company"]._chorus_pro_stopped_companies()
        if stopped:
            domain = [*domain, ("company_id", "not in", stopped.ids)]
        return domain

    def _chorus_pro_send_one(self, clients):
        if self.company_id._chorus_pro_sending_stopped():
            return "skipped"
        return super()._chorus_pro_send_one(clients)

    def _chorus_pro_account_refused(self, err, attempt_counted=False):
        """Hook of the send job on a failed call: when the call was answered 401 even with a new token,
        check the technical account on its own; when that check is refused, stop sending for the company
        and give the invoice back its place in the queue. Returns whether sending is stopped.

        :param attempt_counted: the deposit had counted an attempt and marked the invoice ``sending``
            (nothing was recorded: PISTE refused the call before Chorus Pro took it).
        """
        self.ensure_one()
        if not technical_account.is_account_suspected(err):
            return False
        if not self.company_id._chorus_pro_account_suspected(err):
            return False  # the account is not refused: the caller handles the failure (retry with back-off)
        if attempt_counted:
            self.write({
                "chorus_pro_state": "to_send",
                "chorus_pro_attempts": max(0, self.chorus_pro_attempts - 1),
                "chorus_pro_next_try": False,
            })
        self._chorus_pro_commit()
        return True

    def _chorus_pro_error_text(self, err):
        # EXTENDS odoo_chorus_rouen: a 401 whose account check passed is not "refused credentials".
        outcome = (getattr(err, "params", None) or {}).get("account_check")
        if not outcome or not technical_account.is_account_suspected(err):
            return super()._chorus_pro_error_text(err)
        values = {"operation": err.params.get("operation") or "?", "reason": err.params.get("reason") or "HTTP 401"}
        if outcome == "passed":
            return self.env._(
                "Chorus Pro answered HTTP 401 to %(operation)s even with a new access token (%(reason)s), but a "
                "check of the technical account right after passed: the call is tried again later.", **values)
        if outcome == "busy":
            return self.env._(
                "Chorus Pro answered HTTP 401 to %(operation)s even with a new access token (%(reason)s); the "
                "technical account is being checked by another job: the call is tried again later.", **values)
        return self.env._(
            "Chorus Pro answered HTTP 401 to %(operation)s even with a new access token (%(reason)s), and the "
            "technical account could not be checked right after (%(check)s): the call is tried again later.",
            check=err.params.get("account_check_answer") or "?", **values)
