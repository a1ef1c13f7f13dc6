"""Read the buyer's purchase order into a quotation or a sales order (the main addon's wizard, for sales).

The values go to the order's invoice address (the budget, by its SIRET), its engagement number, its
service (one of the recipient's active services once the directory was read; the code typed until then),
its contract and its Customer Reference (the buyer's order number). Every invoice of the order then
carries them (``models/sale_order.py``). The order is attached to the sales order.
"""

from odoo import _, api, fields, models
from odoo.exceptions import UserError


class ChorusProOrderRead(models.TransientModel):
    _inherit = "chorus.pro.order.read"

    sale_order_id = fields.Many2one("sale.order", string="Sales Order", readonly=True, ondelete="cascade")

    def _chorus_pro_target(self):
        self.ensure_one()
        return self.sale_order_id or super()._chorus_pro_target()

    def _chorus_pro_check_target(self):
        order = self.sale_order_id
        if not order:
            return super()._chorus_pro_check_target()
        if order.state == "cancel" or order.locked:
            raise UserError(_(
                "%(order)s is cancelled or locked: it cannot take the values of a purchase order.",
                order=order.display_name,
            ))
        return None

    def _chorus_pro_target_fields(self):
        if not self.sale_order_id:
            return super()._chorus_pro_target_fields()
        return {
            "siret": "partner_invoice_id",
            "engagement": "chorus_pro_engagement",
            "service_code": "chorus_pro_service_code",
            "contract": "chorus_pro_contract",
            "order_number": "client_order_ref",
        }

    def _chorus_pro_current_partner(self):
        return self.sale_order_id.partner_invoice_id if self.sale_order_id else super()._chorus_pro_current_partner()

    def _chorus_pro_write(self, values):
        order = self.sale_order_id
        if not order:
            return super()._chorus_pro_write(values)
        code = values.pop("chorus_pro_service_code", None)
        recipient_id = values.get("partner_invoice_id")
        if recipient_id and order.chorus_pro_service_id.partner_id.id != recipient_id:
            values.update(chorus_pro_service_id=False)  # a service of another recipient (as the form's onchange)
        order.write(values)
        if code:
            recipient = order.chorus_pro_recipient_id
            service = recipient._chorus_pro_find_service(code) if recipient else self.env["chorus.pro.service"]
            if service and service.active:
                order.write({"chorus_pro_service_id": service.id})
            else:  # directory not read, or not an active service: typed as read (confirmation checks it)
                order.write({"chorus_pro_service_id": False, "chorus_pro_service_code": code})
        return None

    @api.depends("move_id", "sale_order_id")
    def _compute_attachment_ids(self):
        return super()._compute_attachment_ids()
