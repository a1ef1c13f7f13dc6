from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

# Reserved to invoices between public bodies: a supplier invoice sent to it is rejected.
FORBIDDEN_SERVICE_CODES = frozenset({"FACTURES_PUBLIQUES"})


class ChorusProService(models.Model):
    """A "service exécutant" of a Chorus Pro recipient structure (its service codes, BT-10)."""

    _name = "chorus.pro.service"
    _description = "Chorus Pro Service"
    _order = "partner_id, code"
    _rec_names_search = ["code", "name"]

    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Recipient",
        required=True,
        index=True,
        ondelete="cascade",
        domain=[("chorus_pro_recipient", "=", True)],
        help="The Chorus Pro recipient (e.g. a budget of the Métropole) this service belongs to.",
    )
    company_id = fields.Many2one(related="partner_id.company_id", store=True, index=True)
    code = fields.Char(
        string="Service Code",
        required=True,
        help="Code of the service in Chorus Pro: put it in the invoice's 'Service Exécutant' (BT-10).",
    )
    name = fields.Char(string="Service Name")
    active = fields.Boolean(default=True)
    chorus_service_id = fields.Char(
        string="Chorus Pro Service ID",
        readonly=True,
        help="idService in the Chorus Pro directory.",
    )
    engagement_required = fields.Boolean(
        string="Engagement Number Required",
        help="Invoices to this service must carry an engagement number (BT-13).",
    )

    _sql_constraints = [
        (
            "partner_code_unique",
            "UNIQUE(partner_id, code)",
            "A Chorus Pro recipient cannot have two services with the same code.",
        ),
    ]

    @api.depends("code", "name")
    def _compute_display_name(self):
        for service in self:
            if service.name and service.name != service.code:
                service.display_name = f"[{service.code}] {service.name}"
            else:
                service.display_name = service.code or ""

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("code"):
                vals["code"] = vals["code"].strip()
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("code"):
            vals["code"] = vals["code"].strip()
        return super().write(vals)

    @api.constrains("code")
    def _check_code(self):
        for service in self:
            if (service.code or "").strip().upper() in FORBIDDEN_SERVICE_CODES:
                raise ValidationError(
                    _(
                        "The service %(code)s is reserved to invoices between public bodies: Chorus Pro rejects "
                        "supplier invoices sent to it. Use the service code given by the buyer.",
                        code=service.code,
                    )
                )
