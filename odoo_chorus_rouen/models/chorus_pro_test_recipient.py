"""One line of a company's qualification data set: the test recipient that stands for a real one.

The qualification platform holds only the company's test data set (a test supplier and test public
recipients created on the qualification portal): the Métropole's real SIRETs are not there. Each
line maps a real recipient (a budget contact) to a test recipient of the data set, with the test
recipient's service code and rules (typed, or read from the platform with "Read the data set").
On qualification, an invoice to the real recipient is deposited to the test recipient instead
(``account_move_qualification.py``); production never maps (``core/recipient_map.py``).
"""

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..core.budgets import compact_siret, format_siret, is_valid_siret  # noqa: TID252
from .res_partner import SIRET_INPUT_SIZE


class ChorusProTestRecipient(models.Model):
    _name = "chorus.pro.test.recipient"
    _description = "Chorus Pro Qualification Test Recipient"
    _order = "company_id, recipient_id, id"
    _rec_name = "test_siret"

    company_id = fields.Many2one(
        "res.company", string="Company", required=True, index=True, ondelete="cascade",
        default=lambda self: self.env.company,
    )
    recipient_id = fields.Many2one(
        "res.partner", string="Real Recipient", required=True, ondelete="cascade",
        domain=[("chorus_pro_recipient", "=", True)],
        help="The real Chorus Pro recipient (e.g. the Budget Principal) whose invoices go to the test recipient "
        "on qualification.",
    )
    real_siret = fields.Char(string="Real SIRET", related="recipient_id.siret")
    test_siret = fields.Char(
        string="Test Recipient SIRET", required=True, size=SIRET_INPUT_SIZE,
        help="SIRET of a test public recipient of your qualification data set (qualification portal).",
    )
    test_name = fields.Char(string="Test Recipient Name", help="As the qualification directory names it.")
    test_service_code = fields.Char(
        string="Test Service Code",
        help="Service code (BT-10) of the test recipient put on the deposited invoice; empty: none (the real "
        "service code means nothing to the test recipient).",
    )
    engagement_required = fields.Boolean(
        string="Engagement Number Required",
        help="The test recipient rejects invoices without an engagement number (BT-13): the invoice's own "
        "engagement number is kept.",
    )
    service_code_required = fields.Boolean(
        string="Service Code Required", help="The test recipient rejects invoices without a service code."
    )
    service_or_engagement_required = fields.Boolean(string="Service Code or Engagement Number Required")
    read_date = fields.Datetime(string="Read From the Platform On", readonly=True, copy=False)
    read_message = fields.Char(string="Platform Says", readonly=True, copy=False)

    _sql_constraints = [
        ("recipient_company_unique", "unique(company_id, recipient_id)",
         "A real recipient has one test recipient per company."),
    ]

    @api.model
    def _clean_vals(self, vals):
        for name in ("test_siret",):
            if isinstance(vals.get(name), str):
                vals[name] = compact_siret(vals[name])
        if isinstance(vals.get("test_service_code"), str):
            vals["test_service_code"] = vals["test_service_code"].strip() or False
        return vals

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create([self._clean_vals(dict(vals)) for vals in vals_list])
        records.company_id._chorus_pro_data_set_changed()
        return records

    def write(self, vals):
        result = super().write(self._clean_vals(dict(vals)))
        if not self.env.context.get("chorus_pro_reading_data_set"):  # the reader re-queues once, at the end
            self.company_id._chorus_pro_data_set_changed()
        return result

    @api.constrains("test_siret")
    def _check_test_siret(self):
        for line in self:
            if not is_valid_siret(line.test_siret or ""):
                raise ValidationError(_(
                    "The test recipient SIRET %(siret)s is not valid (14 digits with a valid check digit): copy it "
                    "from your qualification data set.", siret=line.test_siret,
                ))

    def _describe(self):
        """``test recipient 130 000 011 00010 (name)`` for messages."""
        self.ensure_one()
        siret = compact_siret(self.test_siret or "")
        shown = format_siret(siret) if is_valid_siret(siret) else self.test_siret
        return f"{shown} ({self.test_name})" if self.test_name else shown

    def _requirements(self):
        """What the test recipient demands, as the core's validation reads it."""
        from ..core.budgets import Requirements  # noqa: TID252

        self.ensure_one()
        return Requirements(
            service_code=self.service_code_required,
            engagement=self.engagement_required,
            service_or_engagement=self.service_or_engagement_required,
        )
