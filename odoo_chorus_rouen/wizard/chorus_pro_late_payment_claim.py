"""Claim the late-payment interest and the 40 EUR indemnity of an invoice paid late.

Drafts an invoice to the same budget contact, with the late invoice's Chorus Pro routing (budget SIRET,
service code, engagement, contract), one line of interest and one of indemnity, both without VAT
(outside its scope: damages, not the price of a supply), referring to the late invoice in the lines and
in BT-25. Once posted it goes to Chorus Pro like any other invoice, after the same checks.
"""

from datetime import timedelta

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount, format_date

INTEREST_ACCOUNT_CODES = ("7631", "763", "76")  # PCG: revenus des créances commerciales
INDEMNITY_ACCOUNT_CODES = ("7588", "758", "75")  # PCG: produits divers de gestion courante


class ChorusProLatePaymentClaim(models.TransientModel):
    _name = "chorus.pro.late.payment.claim"
    _description = "Claim late-payment interest"

    move_id = fields.Many2one("account.move", string="Late Invoice", required=True, readonly=True,
                              ondelete="cascade")
    partner_id = fields.Many2one(related="move_id.partner_id", string="Budget")
    siret = fields.Char(related="move_id.partner_id.siret", string="SIRET")
    buyer_reference = fields.Char(related="move_id.buyer_reference", string="Service Code")
    purchase_order_reference = fields.Char(related="move_id.purchase_order_reference", string="Engagement Number")
    company_id = fields.Many2one(related="move_id.company_id")
    currency_id = fields.Many2one(related="move_id.company_currency_id")
    summary = fields.Text(related="move_id.chorus_pro_delay_summary", string="Payment Delay")
    days_late = fields.Integer(related="move_id.chorus_pro_days_late")
    rate = fields.Float(related="move_id.chorus_pro_late_rate")
    interest = fields.Monetary(string="Interest", required=True, currency_field="currency_id")
    indemnity = fields.Monetary(string="Recovery Indemnity", required=True, currency_field="currency_id")
    invoice_date = fields.Date(string="Invoice Date", required=True, default=fields.Date.context_today)
    interest_account_id = fields.Many2one(
        "account.account", string="Interest Account", required=True, check_company=True,
        domain="[('account_type', 'in', ('income', 'income_other'))]",
    )
    indemnity_account_id = fields.Many2one(
        "account.account", string="Indemnity Account", required=True, check_company=True,
        domain="[('account_type', 'in', ('income', 'income_other'))]",
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        move = self.env["account.move"].browse(values.get("move_id") or self.env.context.get("default_move_id"))
        if move:
            values.setdefault("interest", move.chorus_pro_late_interest)
            values.setdefault("indemnity", move.chorus_pro_late_indemnity)
            values.setdefault("interest_account_id", self._default_account(move, INTEREST_ACCOUNT_CODES).id)
            values.setdefault("indemnity_account_id", self._default_account(move, INDEMNITY_ACCOUNT_CODES).id)
        return values

    @api.model
    def _default_account(self, move, prefixes):
        accounts = self.env["account.account"].with_company(move.company_id)
        for prefix in prefixes:
            account = accounts.search([
                *accounts._check_company_domain(move.company_id),
                ("code", "=like", f"{prefix}%"), ("account_type", "in", ("income", "income_other")),
            ], order="code", limit=1)
            if account:
                return account
        return move.journal_id.default_account_id

    def _line_texts(self):
        """(interest line, indemnity line) texts, in the buyer's language."""
        move = self.move_id
        lang = move.partner_id.lang or move.commercial_partner_id.lang or self.env.lang
        env = self.with_context(lang=lang).env
        start = move.chorus_pro_due_date + timedelta(days=1)  # the first day of interest
        half = move.with_context(lang=lang)._chorus_pro_half_year_label(start.year, 1 if start.month <= 6 else 2)
        rate = f"{move.chorus_pro_late_rate:.2f}"  # not inside _(): Odoo's extractor (Babel 2.10) cannot read f-strings
        interest = env._(
            "Late-payment interest on invoice %(invoice)s of %(date)s (%(amount)s): paid %(days)s days late "
            "(due by %(due)s, payment initiated on %(paid)s), at %(rate)s %% a year (ECB main refinancing rate of "
            "%(half)s + 8 points, Code de la commande publique L2192-13 and R2192-31)",
            invoice=move.name, date=format_date(env, move.invoice_date), amount=format_amount(
                env, move.amount_total, move.currency_id), days=move.chorus_pro_days_late,
            due=format_date(env, move.chorus_pro_due_date), paid=format_date(env, move.chorus_pro_paid_date),
            rate=rate, half=half,
        )
        indemnity = env._(
            "Flat recovery indemnity for the late payment of invoice %(invoice)s (Code de la commande publique "
            "L2192-13 and D2192-35)", invoice=move.name,
        )
        return interest, indemnity

    def action_create_claim(self):
        self.ensure_one()
        move = self.move_id
        move._chorus_pro_check_claimable()
        currency = self.currency_id
        if currency.compare_amounts(self.interest, 0) < 0 or currency.compare_amounts(self.indemnity, 0) < 0 or (
            currency.is_zero(self.interest) and currency.is_zero(self.indemnity)
        ):
            raise UserError(self.env._("Interest and indemnity cannot be negative, and one of them must be due."))
        interest_text, indemnity_text = self._line_texts()
        lines = []
        for text, amount, account in ((interest_text, self.interest, self.interest_account_id),
                                      (indemnity_text, self.indemnity, self.indemnity_account_id)):
            if not currency.is_zero(amount):
                lines.append(Command.create({
                    "name": text, "quantity": 1, "price_unit": amount, "account_id": account.id,
                    "tax_ids": [Command.clear()],  # outside the scope of VAT
                }))
        claim = self.env["account.move"].create({
            "move_type": "out_invoice",
            "partner_id": move.partner_id.id,
            "journal_id": move.journal_id.id,
            "invoice_date": self.invoice_date,
            "currency_id": move.company_currency_id.id,
            "partner_bank_id": move.partner_bank_id.id,
            "fiscal_position_id": move.fiscal_position_id.id,
            # Chorus Pro routing of the late invoice: same budget SIRET (partner), service, engagement, contract.
            "buyer_reference": move.buyer_reference,
            "purchase_order_reference": move.purchase_order_reference,
            "contract_reference": move.contract_reference,
            "chorus_pro_late_invoice_id": move.id,
            "invoice_line_ids": lines,
        })
        # Odoo fills taxes from the account / product defaults: the claim's lines carry none.
        claim.invoice_line_ids.filtered("tax_ids").tax_ids = [Command.clear()]
        move.message_post(body=self.env._("Late-payment claim drafted: %(claim)s.", claim=claim._get_html_link()))
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "res_id": claim.id,
            "view_mode": "form",
            "target": "current",
        }
