"""Settings: saving changed, complete Chorus Pro settings queues the refresh of every recipient."""

from odoo import api, fields, models

from .res_company import CREDENTIAL_FIELDS

WATCHED_FIELDS = ("chorus_pro_environment", "chorus_pro_base_url", *CREDENTIAL_FIELDS)


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_recipients_refresh_summary = fields.Text(related="company_id.chorus_pro_recipients_refresh_summary")
    chorus_pro_settings_changed = fields.Boolean()  # set at create: the related fields are written then

    @api.model_create_multi
    def create(self, vals_list):
        # base drops the related values that did not change (in place) and writes the others to the company.
        records = super().create(vals_list)
        for record, vals in zip(records, vals_list, strict=True):
            if any(name in vals for name in WATCHED_FIELDS):
                record.chorus_pro_settings_changed = True
        return records

    def set_values(self):
        # EXTENDS base: no network here; the refresh is a job that runs after commit.
        res = super().set_values()
        for settings in self.filtered("chorus_pro_settings_changed"):
            company = settings.company_id.sudo()
            if company._chorus_pro_is_configured():
                company._chorus_pro_request_recipients_refresh()
        return res
