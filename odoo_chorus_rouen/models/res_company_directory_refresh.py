"""The company side of the queued refresh of the recipients (see ``res_partner_directory_refresh.py``)."""

from odoo import _, fields, models
from odoo.tools import format_datetime

from .res_partner_directory_refresh import SUMMARY_FAILURES_LISTED


class ResCompany(models.Model):
    _inherit = "res.company"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_recipients_refresh_requested = fields.Datetime(
        string="Chorus Pro Recipients Refresh Requested",
        readonly=True,
        copy=False,
        help="When the refresh of every recipient from the Chorus Pro directory was asked (settings saved or "
        "connection tested); empty once it is done.",
    )
    chorus_pro_recipients_refresh_summary = fields.Text(
        string="Chorus Pro Recipients Refresh",
        readonly=True,
        copy=False,
        help="Outcome of the last refresh of the recipients from the Chorus Pro directory.",
    )

    def _chorus_pro_request_recipients_refresh(self):
        """Queue the refresh of every recipient from the directory (the job runs after commit)."""
        now = fields.Datetime.now()
        for company in self:
            company.sudo().write({
                "chorus_pro_recipients_refresh_requested": now,
                "chorus_pro_recipients_refresh_summary": _(
                    "%(date)s: the recipients are being read from the Chorus Pro directory.",
                    date=format_datetime(self.env, now),
                ),
            })
        self.env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_refresh_recipients")._trigger()

    def _chorus_pro_finish_recipients_refresh(self):
        """Write the summary of the finished refresh on the settings."""
        self.ensure_one()
        company = self.sudo()
        requested = company.chorus_pro_recipients_refresh_requested
        partners = self.env["res.partner"].sudo().with_context(active_test=False).search([
            ("chorus_pro_recipient", "=", True), ("company_id", "in", [False, company.id]),
        ])
        read = partners.filtered(lambda p: p.chorus_pro_directory_date and p.chorus_pro_directory_date >= requested)
        failed = partners - read
        inactive = read.filtered("chorus_pro_structure_inactive")
        lines = [_(
            "%(date)s: %(read)s of %(total)s recipient(s) read from the Chorus Pro directory, %(failed)s failed, "
            "%(inactive)s inactive.",
            date=format_datetime(self.env, fields.Datetime.now()), read=len(read), total=len(partners),
            failed=len(failed), inactive=len(inactive),
        )]
        lines += [
            f"- {partner.display_name}: {partner.chorus_pro_directory_error or '?'}"
            for partner in (failed | inactive)[:SUMMARY_FAILURES_LISTED]
        ]
        company.write({
            "chorus_pro_recipients_refresh_requested": False,
            "chorus_pro_recipients_refresh_summary": "\n".join(lines),
        })

    def _chorus_pro_test_connection(self):
        # EXTENDS odoo_chorus_rouen: working settings queue the refresh of the recipients.
        ok, lines = super()._chorus_pro_test_connection()
        if ok:
            self._chorus_pro_request_recipients_refresh()
            lines.append(_("The recipients are being read from the Chorus Pro directory (summary in the settings)."))
        return ok, lines
