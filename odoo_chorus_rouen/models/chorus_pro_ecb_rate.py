"""The ECB main refinancing operations rate per calendar half-year, for late-payment interest.

Shipped with the rates of ``core.late_payment.ECB_MRO_RATES`` and their sources; an accountant adds
or corrects a half-year in Accounting > Configuration > Invoicing > ECB Rates (Chorus Pro).
"""

from datetime import date
from decimal import Decimal

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..core.late_payment import MAX_ECB_RATE, RATE_MARGIN


class ChorusProEcbRate(models.Model):
    _name = "chorus.pro.ecb.rate"
    _description = "ECB rate for late-payment interest"
    _order = "year desc, half desc"
    _rec_name = "display_name"

    year = fields.Integer(string="Year", required=True)
    half = fields.Selection(
        [("1", "First half (from 1 January)"), ("2", "Second half (from 1 July)")],
        string="Half-Year",
        required=True,
    )
    rate = fields.Float(
        string="ECB Rate (%)",
        digits=(6, 2),
        required=True,
        help="Rate of the ECB's main refinancing operations in force on the first day of the half-year "
        "(Code de la commande publique, R2192-31). Interest that starts to run in this half-year is "
        "charged at this rate plus 8 points.",
    )
    interest_rate = fields.Float(string="Interest Rate (%)", digits=(6, 2), compute="_compute_interest_rate")
    first_day = fields.Date(string="First Day", compute="_compute_interest_rate")
    in_force_since = fields.Date(string="In Force Since", help="Effective date of the ECB decision that set this rate.")
    source = fields.Char(string="Source", help="Where the rate was read (ECB table, official journal, press...).")
    confidence = fields.Selection(
        [("confirmed", "Confirmed"), ("secondary", "Secondary source"), ("unverified", "Unverified")],
        string="Confidence",
        default="confirmed",
        required=True,
        help="Confirmed: read in the ECB's own table or an official text. Secondary source: press or "
        "professional sources. Unverified: check it before claiming interest with it.",
    )

    _sql_constraints = [
        ("chorus_pro_ecb_rate_half_unique", "unique(year, half)", "There is already a rate for this half-year."),
        ("chorus_pro_ecb_rate_half_valid", "check(year > 1998)", "The year must be after 1998 (the euro's start)."),
    ]

    @api.constrains("rate")
    def _check_rate(self):
        for record in self:
            if not 0 <= record.rate <= float(MAX_ECB_RATE):
                raise ValidationError(self.env._(
                    "The ECB rate of %(half_year)s must be between 0 and %(max)s %% (the ECB's main refinancing rate, "
                    "in percent, not the interest rate), not %(rate)s %%.",
                    half_year=record.display_name, max=MAX_ECB_RATE, rate=record.rate,
                ))

    @api.depends("rate", "year", "half")
    def _compute_interest_rate(self):
        for record in self:
            record.interest_rate = record.rate + float(RATE_MARGIN)
            record.first_day = date(record.year, 1 if record.half == "1" else 7, 1) if record.year > 0 else False

    @api.depends("year", "half")
    def _compute_display_name(self):
        for record in self:
            record.display_name = self.env._("H%(half)s %(year)s", half=record.half or "?", year=record.year)

    @api.model
    def _chorus_pro_rate_table(self):
        """``{(year, half): Decimal rate}`` for ``core.late_payment.compute_delay``."""
        return {
            (record.year, int(record.half)): Decimal(str(record.rate)).quantize(Decimal("0.001")).normalize()
            for record in self.sudo().search([])
        }

    def _chorus_pro_recompute_invoices(self):
        moves = self.env["account.move"].sudo().search([("chorus_pro_history", "!=", False)])
        moves._chorus_pro_recompute_late_payment()

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records._chorus_pro_recompute_invoices()
        return records

    def write(self, vals):
        result = super().write(vals)
        self._chorus_pro_recompute_invoices()
        return result

    def unlink(self):
        result = super().unlink()
        self.env["chorus.pro.ecb.rate"]._chorus_pro_recompute_invoices()
        return result
