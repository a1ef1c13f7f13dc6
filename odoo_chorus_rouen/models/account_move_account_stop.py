"""The send job stops for a company whose technical account Chorus Pro refuses.

A refused technical account (wrong, expired or locked password: ``core.technical_account``) is
not the invoice's fault: no invoice counts a failed attempt, none goes to "Error", none gets a
chatter message. The company gets one message (settings + log, ``res_company_technical_account``)
and its invoices are left in the queue until the login or the password is updated; the next pass
of the send job then sends them.
"""

from odoo import api, models

from ..core import technical_account  # noqa: TID252


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

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
        """Hook of the send job on a failed call: when Chorus Pro refused the technical account, stop
        sending for the company and give the invoice back its place in the queue. Returns whether it did.

        :param attempt_counted: the deposit had counted an attempt and marked the invoice ``sending``
            (nothing was recorded: PISTE refused the call before Chorus Pro took it).
        """
        self.ensure_one()
        if not technical_account.is_account_refused(err):
            return False
        self.company_id._chorus_pro_stop_sending(err)
        if attempt_counted:
            self.write({
                "chorus_pro_state": "to_send",
                "chorus_pro_attempts": max(0, self.chorus_pro_attempts - 1),
                "chorus_pro_next_try": False,
            })
        self._chorus_pro_commit()
        return True
