"""Which file goes to Chorus Pro: Factur-X (default), or a structured (E1) CII or UBL XML without PDF.

Chosen per company (settings, Chorus Pro block) and overridable per recipient (the public buyer's
partner form). The choice of an invoice is the first one set on its partner, then that partner's
parents (a person under a budget, the budget, the public buyer it belongs to), else the company's.
The flow syntaxes are CHORUS_PRO_API.md §3.2 (``core.payload.SYNTAX_BY_FORMAT``).
"""

from odoo import fields, models

FLOW_FORMATS = [
    ("facturx", "Factur-X (PDF with embedded CII)"),
    ("cii", "CII XML"),
    ("ubl", "UBL XML"),
]
DEFAULT_FLOW_FORMAT = "facturx"
FLOW_FORMAT_HELP = (
    "Factur-X: a PDF/A-3 that carries the CII invoice data and the supporting documents (flow "
    "IN_DP_E2_CII_FACTURX).\nCII XML / UBL XML: the structured invoice alone, without PDF (flows "
    "IN_DP_E1_CII_16B / IN_DP_E1_UBL_INVOICE); Chorus Pro shows it to the buyer with its own style sheet. "
    "Supporting documents travel inside the XML, only as PDF, PNG, JPEG, CSV, XLSX or ODS files."
)


class ResCompany(models.Model):
    _inherit = "res.company"

    chorus_pro_flow_format = fields.Selection(
        FLOW_FORMATS, string="Chorus Pro File Format", default=DEFAULT_FLOW_FORMAT, required=True,
        help=FLOW_FORMAT_HELP,
    )


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    chorus_pro_flow_format = fields.Selection(related="company_id.chorus_pro_flow_format", readonly=False)


class ResPartner(models.Model):
    _inherit = "res.partner"

    chorus_pro_flow_format = fields.Selection(
        FLOW_FORMATS, string="Chorus Pro File Format",
        help="Empty: the format of the contact it belongs to (for a budget: the public buyer), else the "
        "company's (Settings, Chorus Pro).\n" + FLOW_FORMAT_HELP,
    )

    def _chorus_pro_flow_format_of(self, company):
        """The format invoices to this contact go in: its own, else its parents', else ``company``'s."""
        self.ensure_one()
        partner = self
        while partner:
            if partner.chorus_pro_flow_format:
                return partner.chorus_pro_flow_format
            partner = partner.parent_id
        return company.chorus_pro_flow_format or DEFAULT_FLOW_FORMAT
