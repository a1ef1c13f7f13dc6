"""The legal payment delay of a Chorus Pro recipient (late-payment interest)."""

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..core.late_payment import DEFAULT_DELAY_DAYS, MAX_DELAY_DAYS


class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited  # one concern per file

    chorus_pro_payment_delay = fields.Integer(
        string="Payment Delay (days)",
        default=DEFAULT_DELAY_DAYS,
        help="Maximum payment delay of this public buyer, counted from the day Chorus Pro makes the invoice "
        "available to it: 30 days for the State and local authorities such as the Métropole and its budgets, "
        "50 days for public hospitals, 60 days for public undertakings (Code de la commande publique, "
        "R2192-10 and R2192-11), or the shorter delay of the contract. Past it, late-payment interest and "
        "the 40 EUR indemnity are due.",
    )

    @api.constrains("chorus_pro_payment_delay")
    def _check_chorus_pro_payment_delay(self):
        for partner in self:
            if partner.chorus_pro_payment_delay <= 0 or partner.chorus_pro_payment_delay > MAX_DELAY_DAYS:
                raise ValidationError(self.env._(
                    "The payment delay of %(partner)s must be between 1 and 365 days (30 for local authorities, "
                    "50 for public hospitals).", partner=partner.display_name,
                ))
