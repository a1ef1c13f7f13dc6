from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"  # pylint: disable=consider-merging-classes-inherited  # one concern per file

    chorus_pro_environment = fields.Selection(related="company_id.chorus_pro_environment", readonly=False)
    chorus_pro_base_url = fields.Char(related="company_id.chorus_pro_base_url", readonly=False)
    chorus_pro_client_id = fields.Char(
        related="company_id.chorus_pro_client_id", readonly=False, groups="base.group_system"
    )
    chorus_pro_client_secret = fields.Char(
        related="company_id.chorus_pro_client_secret", readonly=False, groups="base.group_system"
    )
    chorus_pro_login = fields.Char(related="company_id.chorus_pro_login", readonly=False, groups="base.group_system")
    chorus_pro_password = fields.Char(
        related="company_id.chorus_pro_password", readonly=False, groups="base.group_system"
    )
    chorus_pro_layout = fields.Selection(related="company_id.chorus_pro_layout", readonly=False)

    def action_chorus_pro_test_connection(self):
        """Button of the settings page. The web client saves the settings first (the related
        fields are written to the company), so the values on screen are the ones tested."""
        self.ensure_one()
        return self.company_id.action_chorus_pro_test_connection()
