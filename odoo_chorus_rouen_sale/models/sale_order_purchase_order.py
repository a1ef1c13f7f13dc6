"""The "Read the purchase order" button of a quotation or sales order (wizard ``chorus.pro.order.read``)."""

from odoo import models
from odoo.exceptions import UserError


class SaleOrder(models.Model):
    _inherit = "sale.order"  # pylint: disable=consider-merging-classes-inherited

    def action_chorus_pro_read_order(self):
        """Button: read the buyer's purchase order (attached or uploaded) into this order."""
        self.ensure_one()
        if self.state == "cancel" or self.locked:
            raise UserError(self.env._("A cancelled or locked order cannot take the values of a purchase order."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Read the Purchase Order"),
            "res_model": "chorus.pro.order.read",
            "view_mode": "form",
            "target": "new",
            "context": {"default_sale_order_id": self.id},
        }
