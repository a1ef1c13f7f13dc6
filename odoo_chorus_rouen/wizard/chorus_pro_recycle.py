"""Correct the routing of an invoice Chorus Pro asks to recycle (status ``A_RECYCLER``).

The buyer sends it back because the recipient (budget SIRET), the service code or the engagement
number is wrong; ``recyclerFacture`` corrects them on the same invoice (same number).
"""

from odoo import api, fields, models


class ChorusProRecycle(models.TransientModel):
    _name = "chorus.pro.recycle"
    _description = "Recycle an invoice on Chorus Pro"

    move_id = fields.Many2one("account.move", string="Invoice", required=True, readonly=True, ondelete="cascade")
    commercial_partner_id = fields.Many2one(related="move_id.commercial_partner_id")
    status_comment = fields.Text(string="Reason given", related="move_id.chorus_pro_error")
    partner_id = fields.Many2one(
        "res.partner",
        string="Budget",
        required=True,
        domain="[('chorus_pro_recipient', '=', True), ('commercial_partner_id', '=', commercial_partner_id)]",
        help="The budget contact (SIRET) the invoice is addressed to on Chorus Pro.",
    )
    siret = fields.Char(related="partner_id.siret", string="SIRET")
    buyer_reference = fields.Char(string="Service Code", help="'Service Exécutant' in Chorus Pro (BT-10).")
    purchase_order_reference = fields.Char(
        string="Engagement Number", help="'Engagement Juridique' in Chorus Pro (BT-13), at most 50 characters."
    )
    comment = fields.Text(string="Comment", help="Sent to Chorus Pro with the correction.")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        move = self.env["account.move"].browse(values.get("move_id") or self.env.context.get("default_move_id"))
        if move:
            values.setdefault("partner_id", move.partner_id.id)
            values.setdefault("buyer_reference", move.buyer_reference)
            values.setdefault("purchase_order_reference", move.purchase_order_reference)
        return values

    def action_recycle(self):
        self.ensure_one()
        self.move_id._chorus_pro_recycle(
            self.partner_id,
            (self.buyer_reference or "").strip(),
            (self.purchase_order_reference or "").strip(),
            (self.comment or "").strip(),
        )
        return {"type": "ir.actions.act_window_close"}
