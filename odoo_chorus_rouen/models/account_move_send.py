"""Send & Print: "Chorus Pro" as an invoice sending method.

Choosing it queues the invoice for the send job (no network call in the wizard's transaction).
Posting already queues every invoice addressed to a Chorus Pro recipient, so this method mostly
shows, in the usual place, how the invoice travels, and lets an accountant queue again an
invoice whose sending failed once its data is fixed.
"""

from markupsafe import Markup

from odoo import _, api, models


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _get_default_sending_method(self, move) -> set:
        # EXTENDS account: an invoice addressed to a Chorus Pro recipient goes through Chorus Pro.
        method = move.partner_id.with_company(move.company_id).invoice_sending_method
        if not method and move._chorus_pro_is_recipient_invoice():
            return "chorus_pro"
        return super()._get_default_sending_method(move)

    def _is_applicable_to_company(self, method, company):
        # EXTENDS account
        if method == "chorus_pro":
            return company.country_code == "FR"
        return super()._is_applicable_to_company(method, company)

    def _is_applicable_to_move(self, method, move):
        # EXTENDS account
        if method == "chorus_pro":
            return move.state == "posted" and move._chorus_pro_is_recipient_invoice()
        return super()._is_applicable_to_move(method, move)

    def _get_alerts(self, moves, moves_data):
        # EXTENDS account
        alerts = super()._get_alerts(moves, moves_data)
        chorus_moves = moves.filtered(lambda m: "chorus_pro" in (moves_data[m]["sending_methods"] or []))
        if not chorus_moves:
            return alerts
        not_recipients = chorus_moves.filtered(lambda m: not m._chorus_pro_is_recipient_invoice())
        if not_recipients:
            alerts["odoo_chorus_rouen_not_recipient"] = {
                "level": "danger" if len(moves) == 1 else "warning",
                "message": _(
                    "Chorus Pro only receives invoices addressed to a Chorus Pro recipient (a public buyer's "
                    "budget contact): %(invoices)s.", invoices=", ".join(not_recipients.mapped("display_name")),
                ),
                "action_text": _("View Partner(s)"),
                "action": not_recipients.partner_id._get_records_action(name=_("Check Partner(s)")),
            }
        messages = []
        for move in chorus_moves - not_recipients:
            issues = move._chorus_pro_check_issues()
            if issues:
                messages.append(_("%(invoice)s: %(issues)s", invoice=move.display_name, issues=" ".join(issues)))
        if messages:
            alerts["odoo_chorus_rouen_issues"] = {
                "level": "danger" if len(moves) == 1 else "warning",
                "message": "\n".join(messages),
            }
        already = (chorus_moves - not_recipients).filtered(
            lambda m: m.chorus_pro_state and not m._chorus_pro_can_queue()
        )
        if already:
            alerts["odoo_chorus_rouen_already"] = {
                "level": "info",
                "message": _(
                    "Already on its way to Chorus Pro (it is never sent twice): %(invoices)s.",
                    invoices=", ".join(already.mapped("display_name")),
                ),
            }
        return alerts

    def _hook_if_success(self, moves_data):
        # EXTENDS account: queue for the send job; the deposit happens after commit.
        res = super()._hook_if_success(moves_data)
        to_queue = self.env["account.move"]
        for move, move_data in moves_data.items():
            if "chorus_pro" in (move_data["sending_methods"] or []) and self._is_applicable_to_move("chorus_pro", move):
                if move._chorus_pro_can_queue() and move.chorus_pro_state != "to_send":
                    to_queue |= move
        for move in to_queue:
            issues = move._chorus_pro_check_issues()
            if issues:
                # Never raise here (the batch may run in a cron): say it on the invoice instead.
                move._message_log(body=Markup("<br/>").join([_("Not queued for Chorus Pro:"), *issues]))
                to_queue -= move
        if to_queue:
            to_queue._chorus_pro_queue(_("Queued for Chorus Pro from Send & Print."))
        return res
