"""The invoice side of completing a suspended invoice: the button, the checks and the queue."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..core.completion import SUSPENDED_STATUS  # noqa: TID252
from .chorus_pro_completion import PENDING_STATES


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_completion_ids = fields.One2many("chorus.pro.completion", "move_id", string="Chorus Pro Completions")
    chorus_pro_can_complete = fields.Boolean(compute="_compute_chorus_pro_can_complete")

    @api.depends("chorus_pro_status", "chorus_pro_invoice_id", "chorus_pro_completion_ids.state")
    def _compute_chorus_pro_can_complete(self):
        for move in self:
            move.chorus_pro_can_complete = (
                move.chorus_pro_status == SUSPENDED_STATUS
                and bool(move.chorus_pro_invoice_id)
                and not any(c.state in PENDING_STATES for c in move.chorus_pro_completion_ids)
            )

    def _chorus_pro_activity_note(self, code):
        if code == SUSPENDED_STATUS:
            return _("Send the missing supporting documents with the 'Complete on Chorus Pro' button.")
        return super()._chorus_pro_activity_note(code)

    def _chorus_pro_why_not_complete(self):
        self.ensure_one()
        if self.chorus_pro_status != SUSPENDED_STATUS or not self.chorus_pro_invoice_id:
            return _("Only an invoice the buyer suspended on Chorus Pro (status 'Suspended') can be completed.")
        if any(c.state in PENDING_STATES for c in self.chorus_pro_completion_ids):
            return _("A completion of this invoice is already on its way to Chorus Pro.")
        return None

    def action_chorus_pro_complete(self):
        """Button "Complete on Chorus Pro": the wizard (comment and supporting documents)."""
        self.ensure_one()
        self._chorus_pro_check_accountant()
        reason = self._chorus_pro_why_not_complete()
        if reason:
            raise UserError(reason)
        return {
            "type": "ir.actions.act_window",
            "name": _("Complete on Chorus Pro"),
            "res_model": "chorus.pro.complete",
            "view_mode": "form",
            "target": "new",
            "context": {"default_move_id": self.id},
        }

    def _chorus_pro_queue_completion(self, comment, attachments):
        """Queue the completion (the job sends it after commit). :raises UserError: anything that blocks it."""
        self.ensure_one()
        self._chorus_pro_check_accountant()
        reason = self._chorus_pro_why_not_complete()
        if reason:
            raise UserError(reason)
        comment = (comment or "").strip()
        if not comment and not attachments:
            raise UserError(_("Add at least one supporting document or a comment for the buyer."))
        attachments = attachments.sudo()
        # The files stay on the invoice: attach uploads made in the wizard to it.
        attachments.filtered(lambda a: not a.res_id or a.res_model != self._name).write(
            {"res_model": self._name, "res_id": self.id})
        record = self.env["chorus.pro.completion"].sudo().create({
            "move_id": self.id,
            "comment": comment,
            "attachment_ids": [fields.Command.set(attachments.ids)],
        })
        self._message_log(body=_("Completion queued for Chorus Pro by %(user)s: %(count)s file(s).",
                                 user=self.env.user.name, count=len(attachments)))
        self.env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_complete")._trigger()
        return record
