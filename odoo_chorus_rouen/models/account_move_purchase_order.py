"""The "Read the purchase order" button of a draft customer invoice (wizard ``chorus.pro.order.read``)."""

from odoo import _, models
from odoo.exceptions import UserError


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    def action_chorus_pro_read_order(self):
        """Button: read the buyer's purchase order (attached or uploaded) into this draft invoice."""
        self.ensure_one()
        if self.state != "draft" or self.move_type not in ("out_invoice", "out_refund"):
            raise UserError(_("Only a draft customer invoice or credit note can take the values of a purchase order."))
        return {
            "type": "ir.actions.act_window",
            "name": _("Read the Purchase Order"),
            "res_model": "chorus.pro.order.read",
            "view_mode": "form",
            "target": "new",
            "context": {"default_move_id": self.id},
        }
