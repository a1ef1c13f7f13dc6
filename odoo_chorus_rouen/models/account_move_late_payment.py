"""Late public payment on the invoice: the legal delay counted from Chorus Pro's dates, what it gives,
and the claim invoice (interest and 40 EUR indemnity, outside the scope of VAT).

The figures come from ``core.late_payment`` (rules and sources in its docstring); this file only keeps
the Chorus Pro status history on the invoice, reads the Odoo payment date, and shows the result.

The status sync keeps the date of each status it sees, from its batched search (no call of its own).
At payment, the full history (``consulterHistoriqueFacture``, one call per invoice) is read only when
the kept statuses do not settle the delay (``core.late_payment.history_gap``), after the search and at
most ``history_reads_per_run`` per company and run; the others wait for the next runs, marked
``chorus_pro_history_to_read`` (their delay says so, and a claim reads the history first).
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import format_amount, format_date

from ..core.errors import ChorusError  # noqa: TID252
from ..core.late_payment import DEFAULT_DELAY_DAYS, MissingRateError, compute_delay, history_gap  # noqa: TID252

_logger = logging.getLogger(__name__)

#: statuses whose date matters for the delay; the summary of the sync gives their date for free.
DELAY_STATUSES = (
    "MISE_A_DISPOSITION", "SUSPENDUE", "COMPLETEE", "A_RECYCLER", "REJETEE", "MANDATEE", "MISE_EN_PAIEMENT",
    "ABANDONNEE", "SUPPRIMEE",
)
#: the status that closes the delay: the full history is read then, when the kept statuses do not settle it
#: (``core.late_payment.history_gap``: fills the statuses the sync missed).
PAYMENT_STATUS = "MISE_EN_PAIEMENT"

LATE_STATES = [
    ("none", "Not counted"),
    ("no_start", "Not yet available to the buyer"),
    ("running", "Within the delay"),
    ("overdue", "Overdue"),
    ("paid_on_time", "Paid on time"),
    ("paid_late", "Paid late"),
    ("no_delay", "No payment due"),
    ("rate_missing", "ECB rate missing"),
]
LATE_FIELDS = (
    "chorus_pro_available_date", "chorus_pro_due_date", "chorus_pro_paid_date", "chorus_pro_days_suspended",
    "chorus_pro_days_late", "chorus_pro_late_rate", "chorus_pro_late_interest", "chorus_pro_late_indemnity",
    "chorus_pro_late_state", "chorus_pro_late_total",
)


def _history_day(value):
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10] if value else None


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited  # one concern per file

    chorus_pro_history = fields.Text(
        string="Chorus Pro Status History", copy=False, readonly=True,
        help="JSON list of [status code, date] pairs of the invoice's Chorus Pro history, oldest first.",
    )
    chorus_pro_history_to_read = fields.Boolean(
        string="Chorus Pro History to Read", copy=False, readonly=True, index=True,
        help="The statuses kept by the status sync do not settle the payment delay: the next status sync reads "
             "the invoice's full Chorus Pro history.",
    )
    chorus_pro_payment_delay = fields.Integer(
        string="Payment Delay (days)", compute="_compute_chorus_pro_late_payment", store=True,
        help="The recipient's legal payment delay when the figures were computed.",
    )
    chorus_pro_available_date = fields.Date(
        string="Made Available On", compute="_compute_chorus_pro_late_payment", store=True,
        help="Chorus Pro made the invoice available to the buyer (MISE_A_DISPOSITION): the payment delay starts.",
    )
    chorus_pro_due_date = fields.Date(
        string="Legal Payment Due Date", compute="_compute_chorus_pro_late_payment", store=True,
        help="End of the legal payment delay (a suspension opens a new delay once the invoice is completed).",
    )
    chorus_pro_paid_date = fields.Date(
        string="Payment Initiated On", compute="_compute_chorus_pro_late_payment", store=True,
        help="MISE_EN_PAIEMENT on Chorus Pro, else the payment recorded in Odoo.",
    )
    chorus_pro_days_suspended = fields.Integer(
        string="Days Suspended", compute="_compute_chorus_pro_late_payment", store=True,
    )
    chorus_pro_days_late = fields.Integer(
        string="Days Late", compute="_compute_chorus_pro_late_payment", store=True, aggregator="sum",
    )
    chorus_pro_late_rate = fields.Float(
        string="Late-Payment Interest Rate (%)", digits=(6, 2), compute="_compute_chorus_pro_late_payment",
        store=True, aggregator=None, help="ECB main refinancing rate of the half-year + 8 points.",
    )
    chorus_pro_late_interest = fields.Monetary(
        string="Late-Payment Interest", compute="_compute_chorus_pro_late_payment", store=True,
        currency_field="company_currency_id",
    )
    chorus_pro_late_indemnity = fields.Monetary(
        string="Recovery Indemnity", compute="_compute_chorus_pro_late_payment", store=True,
        currency_field="company_currency_id",
    )
    chorus_pro_late_total = fields.Monetary(
        string="Due for Late Payment", compute="_compute_chorus_pro_late_payment", store=True,
        currency_field="company_currency_id",
    )
    chorus_pro_late_state = fields.Selection(
        LATE_STATES, string="Payment Delay", compute="_compute_chorus_pro_late_payment", store=True, index=True,
    )
    chorus_pro_delay_summary = fields.Text(string="Payment Delay Summary", compute="_compute_chorus_pro_delay_summary")
    chorus_pro_late_invoice_id = fields.Many2one(
        "account.move", string="Late Invoice", copy=False, readonly=True, index="btree_not_null",
        help="The invoice paid late whose interest and indemnity this invoice claims (BT-25).",
    )
    chorus_pro_claim_ids = fields.One2many("account.move", "chorus_pro_late_invoice_id", string="Late-Payment Claims")

    # -------------------------------------------------------------------------
    # Computes
    # -------------------------------------------------------------------------

    def _chorus_pro_delay_inputs(self):
        """(history, amount, delay, Odoo payment date) of this invoice, or None when nothing is counted."""
        self.ensure_one()
        if self.move_type != "out_invoice" or self.state != "posted" or not self.chorus_pro_history:
            return None
        history = self._chorus_pro_history_list()
        if self.chorus_pro_history_to_read and not any(code == "MISE_A_DISPOSITION" for code, _day in history):
            return None  # its start is not known before the sync reads the history: nothing is counted meanwhile
        return history, self.amount_total, self._chorus_pro_legal_delay(), self._chorus_pro_odoo_payment_date()

    def _chorus_pro_legal_delay(self):
        """The recipient's legal payment delay in days (30 by default)."""
        recipient = self._chorus_pro_recipient()
        return (recipient.chorus_pro_payment_delay if recipient else 0) or DEFAULT_DELAY_DAYS

    def _chorus_pro_history_list(self):
        """The kept history: [[status code, "YYYY-MM-DD"], ...], oldest first."""
        try:
            history = json.loads(self.chorus_pro_history or "[]")
        except ValueError:
            _logger.warning("Ignoring the unreadable Chorus Pro history of %s", self.display_name)
            return []
        return [list(entry) for entry in history if isinstance(entry, list) and len(entry) == 2]

    def _chorus_pro_odoo_payment_date(self):
        """The date the invoice was fully paid in Odoo (last reconciliation of its receivable), or None."""
        if self.payment_state not in ("paid", "in_payment"):
            return None
        lines = self.line_ids.filtered(lambda line: line.account_id.account_type == "asset_receivable")
        dates = [day for day in lines.matched_credit_ids.credit_move_id.mapped("date") if day]
        return max(dates) if dates else None

    def _chorus_pro_delay(self, as_of=None, rates=None):
        """``core.late_payment.PaymentDelay`` of this invoice (None when nothing is counted).

        :raises MissingRateError: the ECB rate of the needed half-year is not in the table.
        """
        inputs = self._chorus_pro_delay_inputs()
        if inputs is None:
            return None
        history, amount, delay, paid_on = inputs
        if rates is None:
            rates = self.env["chorus.pro.ecb.rate"]._chorus_pro_rate_table()
        return compute_delay(history, amount, delay, paid_on=paid_on, as_of=as_of or fields.Date.context_today(self),
                             rates=rates)

    @api.depends(
        "chorus_pro_history", "chorus_pro_history_to_read", "amount_total", "payment_state", "state", "move_type",
        "partner_id",
        "partner_id.chorus_pro_payment_delay", "partner_id.parent_id.chorus_pro_payment_delay",
    )
    def _compute_chorus_pro_late_payment(self):
        rates = None
        for move in self:
            values = dict.fromkeys(LATE_FIELDS, False)
            values.update(chorus_pro_late_state="none", chorus_pro_payment_delay=0)
            if move._chorus_pro_delay_inputs() is not None:
                if rates is None:
                    rates = self.env["chorus.pro.ecb.rate"]._chorus_pro_rate_table()
                missing = False
                try:
                    delay = move._chorus_pro_delay(rates=rates)
                except MissingRateError as err:  # the dates are known, the interest waits for the rate
                    delay, missing = err.delay, True
                    values["chorus_pro_late_state"] = "rate_missing"
                if delay is not None:
                    values.update({
                        "chorus_pro_payment_delay": delay.legal_days,
                        "chorus_pro_available_date": delay.available_on or False,
                        "chorus_pro_due_date": delay.due_on or False,
                        "chorus_pro_paid_date": delay.paid_on or False,
                        "chorus_pro_days_suspended": delay.days_suspended,
                        "chorus_pro_late_state": "rate_missing" if missing else delay.state,
                    })
                    if delay.state == "paid_late" and not missing:  # final figures only; "overdue" ones change
                        values.update({
                            "chorus_pro_days_late": delay.days_late,
                            "chorus_pro_late_rate": float(delay.rate),
                            "chorus_pro_late_interest": float(delay.interest),
                            "chorus_pro_late_indemnity": float(delay.indemnity),
                            "chorus_pro_late_total": float(delay.total_due),
                        })
            for name in ("chorus_pro_days_suspended", "chorus_pro_days_late"):
                values[name] = values[name] or 0
            for name in ("chorus_pro_late_rate", "chorus_pro_late_interest", "chorus_pro_late_indemnity",
                         "chorus_pro_late_total"):
                values[name] = values[name] or 0.0
            move.update(values)

    def _chorus_pro_recompute_late_payment(self):
        """Recompute the stored figures (after the ECB rate table changed)."""
        for name in (*LATE_FIELDS, "chorus_pro_payment_delay"):
            self.env.add_to_compute(self._fields[name], self)
        self._recompute_recordset()

    @api.depends("chorus_pro_history", "chorus_pro_late_state", "chorus_pro_due_date", "chorus_pro_paid_date",
                 "chorus_pro_days_suspended", "chorus_pro_days_late", "amount_total", "chorus_pro_history_to_read")
    def _compute_chorus_pro_delay_summary(self):
        for move in self:
            text = move._chorus_pro_delay_text()
            if text and move.chorus_pro_history_to_read:
                text = "{} {}".format(text, move.env._(
                    "Counted from the statuses seen by the status sync only: the next sync reads the full Chorus "
                    "Pro history to check it."
                ))
            move.chorus_pro_delay_summary = text

    def _chorus_pro_delay_text(self):
        """The delay in words, counted today for an unpaid invoice (translated)."""
        self.ensure_one()
        _ = self.env._
        missing = None
        try:
            delay = self._chorus_pro_delay()
        except MissingRateError as err:
            missing, delay = err, err.delay
            if delay is None:
                return self._chorus_pro_missing_rate_text(err)
        if delay is None:
            return False
        currency = self.company_currency_id

        def money(value):
            return format_amount(self.env, float(value), currency)

        def day(value):
            return format_date(self.env, value) if value else ""

        suspended = ""
        if delay.suspended_on:
            suspended = " " + _(
                "Suspended on %(suspended)s, completed on %(completed)s (%(days)s days): a new delay ran from the "
                "completion.", suspended=day(delay.suspended_on), completed=day(delay.completed_on) or "-",
                days=delay.days_suspended,
            ) if delay.completed_on else " " + _(
                "Suspended since %(suspended)s: the delay waits until the invoice is completed.",
                suspended=day(delay.suspended_on),
            )
        if delay.state == "no_start":
            return _("Not yet made available to the buyer on Chorus Pro: the payment delay has not started.")
        if delay.state == "no_delay":
            return _("Rejected or cancelled on Chorus Pro: no payment is due under this invoice.")
        if delay.state == "running":
            return _(
                "Made available on %(available)s: day %(days)s of %(delay)s, due by %(due)s.",
                available=day(delay.available_on), days=delay.days_elapsed, delay=delay.legal_days,
                due=day(delay.due_on) or "-",
            ) + suspended
        if delay.state == "paid_on_time" and delay.paid_on < delay.available_on:
            return _(
                "Paid on time: payment initiated on %(paid)s, before Chorus Pro made the invoice available on "
                "%(available)s. Nothing to claim.", paid=day(delay.paid_on), available=day(delay.available_on),
            )
        if delay.state == "paid_on_time":
            return _(
                "Paid on time: payment initiated on %(paid)s, %(days)s days after it was made available "
                "(due by %(due)s). Nothing to claim.",
                paid=day(delay.paid_on), days=delay.days_elapsed, due=day(delay.due_on),
            ) + suspended
        if missing is not None:
            # The days late and the indemnity do not depend on the rate; only the interest waits for it.
            if delay.state == "overdue":
                head = _("Not paid, %(late)s days late today (due by %(due)s). Due so far: the %(indemnity)s "
                         "recovery indemnity, and interest that waits for the ECB rate.",
                         late=delay.days_late, due=day(delay.due_on), indemnity=money(delay.indemnity))
            else:
                head = _("Paid %(late)s days late: payment initiated on %(paid)s, due by %(due)s. Due to you by law: "
                         "the %(indemnity)s recovery indemnity, and interest that waits for the ECB rate.",
                         late=delay.days_late, paid=day(delay.paid_on), due=day(delay.due_on),
                         indemnity=money(delay.indemnity))
            return f"{head} {self._chorus_pro_missing_rate_text(missing)}{suspended}"
        rate = f"{delay.rate:.2f}"  # not inside _(): Odoo's string extractor (Babel 2.10) cannot read f-strings
        amounts = _(
            "Interest %(interest)s (%(rate)s %% a year: ECB rate of %(half)s + 8 points, on %(amount)s for "
            "%(late)s days) and the %(indemnity)s recovery indemnity: %(total)s.",
            interest=money(delay.interest), rate=rate, amount=money(delay.amount),
            half=self._chorus_pro_half_year_label(*delay.half_year), late=delay.days_late,
            indemnity=money(delay.indemnity), total=money(delay.total_due),
        )
        if delay.state == "overdue":
            return _(
                "Not paid, %(late)s days late today (due by %(due)s). Due so far: ",
                late=delay.days_late, due=day(delay.due_on),
            ) + amounts + suspended
        return _(
            "Paid %(late)s days late: payment initiated on %(paid)s, due by %(due)s. Due to you by law: ",
            late=delay.days_late, paid=day(delay.paid_on), due=day(delay.due_on),
        ) + amounts + suspended

    def _chorus_pro_half_year_label(self, year, half):
        if half == 1:
            return self.env._("the first half of %(year)s", year=year)
        return self.env._("the second half of %(year)s", year=year)

    def _chorus_pro_missing_rate_text(self, err):
        params = err.params
        return self.env._(
            "The ECB main refinancing rate of %(half)s (in force on %(first_day)s) is missing, so the late-payment "
            "interest that started to run on %(start)s cannot be computed. Add it in Configuration > Invoicing > "
            "ECB Rates (Chorus Pro); the ECB publishes its key interest rates on ecb.europa.eu.",
            half=self._chorus_pro_half_year_label(params["year"], params["half"]),
            first_day=format_date(self.env, fields.Date.to_date(params["first_day"])),
            start=format_date(self.env, fields.Date.to_date(params["start"])),
        )

    # -------------------------------------------------------------------------
    # Keeping the history
    # -------------------------------------------------------------------------

    def _chorus_pro_apply_summary(self, summary, client=None):
        # EXTENDS odoo_chorus_rouen: keep the dates the payment delay needs, from the search's answer (no call).
        changed = super()._chorus_pro_apply_summary(summary, client=client)
        if summary.status in DELAY_STATUSES and summary.status_date and self.move_type == "out_invoice":
            history = self._chorus_pro_history_list()
            entry = [summary.status, _history_day(summary.status_date)]
            if entry not in history:
                history.append(entry)
                vals = {"chorus_pro_history": json.dumps(history)}
                if summary.status == PAYMENT_STATUS:
                    gap = self._chorus_pro_history_gap(history)
                    if gap:  # read after the search, within the run's bound (_chorus_pro_sync_after)
                        _logger.debug("Chorus Pro history of %s to read (%s)", self.name, gap)
                        vals["chorus_pro_history_to_read"] = True
                self._chorus_pro_write(vals)
                changed = True
        return changed

    def _chorus_pro_history_gap(self, history):
        """Why the kept ``history`` does not settle this paid invoice's delay (``core.late_payment.history_gap``),
        or None."""
        self.ensure_one()
        deposited = self.chorus_pro_deposit_date
        try:
            return history_gap(history, self._chorus_pro_legal_delay(), deposited_on=deposited and deposited.date())
        except ValueError:  # a delay out of bounds: the figures cannot be counted anyway; read what Chorus says
            return "invalid_delay"

    @api.model
    def _chorus_pro_sync_domain(self):
        # EXTENDS the status sync: a company whose paid invoices have a history to read is synced too.
        return expression.OR([
            super()._chorus_pro_sync_domain(), [("chorus_pro_history_to_read", "=", True), ("state", "=", "posted")],
        ])

    @api.model
    def _chorus_pro_sync_after(self, company, client):
        # EXTENDS the status sync: read the full histories left to read, oldest payment first, at most
        # ``history_reads_per_run`` (0: none; the button still reads one).
        updated = super()._chorus_pro_sync_after(company, client)
        limit = self._chorus_pro_param("history_reads_per_run")
        if limit <= 0:
            return updated
        domain = [("company_id", "=", company.id), ("chorus_pro_history_to_read", "=", True), ("state", "=", "posted"),
                  ("chorus_pro_invoice_id", "!=", False)]
        moves = self.search(domain, order="chorus_pro_status_date, id", limit=limit)
        for move in moves:
            if move._chorus_pro_isolated(move._chorus_pro_read_full_history, client):
                updated.add(move.id)
            self._chorus_pro_commit()
        if len(moves) == limit and (left := self.search_count(domain)):
            _logger.info("Chorus Pro: %s histories of paid invoices of company %s left to read by the next runs "
                         "(history_reads_per_run = %s)", left, company.id, limit)
        return updated

    def _chorus_pro_read_full_history(self, client):
        """Read this invoice's full Chorus Pro history and keep it (one call). Raises ChorusError."""
        self.ensure_one()
        history = client.invoice_history(int(self.chorus_pro_invoice_id))
        self._chorus_pro_write({
            "chorus_pro_history": json.dumps(self._chorus_pro_history_entries(history)),
            "chorus_pro_history_to_read": False,
        })
        return True

    @api.model
    def _chorus_pro_history_entries(self, history):
        return [[entry.status, _history_day(entry.date)] for entry in history.entries if entry.date]

    def action_chorus_pro_read_history(self):
        """Read the Chorus Pro status history again (button): the payment delay is counted from it."""
        for move in self:
            if not move.chorus_pro_invoice_id:
                raise UserError(self.env._(
                    "%(invoice)s has no Chorus Pro invoice ID yet: its history can be read once Chorus Pro has "
                    "integrated it.", invoice=move.display_name,
                ))
            client = move.company_id._chorus_pro_get_client()
            try:
                move._chorus_pro_read_full_history(client)
            except ChorusError as err:
                raise UserError(move._chorus_pro_error_text(err)) from err
        return True

    # -------------------------------------------------------------------------
    # The claim
    # -------------------------------------------------------------------------

    def _chorus_pro_outside_vat_scope(self):
        """A late-payment claim: interest and indemnity are outside the scope of VAT (no tax on its lines)."""
        self.ensure_one()
        return bool(self.chorus_pro_late_invoice_id)

    def action_chorus_pro_claim_late_payment(self):
        self.ensure_one()
        self._chorus_pro_check_claimable()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Claim late-payment interest"),
            "res_model": "chorus.pro.late.payment.claim",
            "view_mode": "form",
            "target": "new",
            "context": {"default_move_id": self.id},
        }

    def _chorus_pro_check_claimable(self):
        self.ensure_one()
        if self.chorus_pro_history_to_read:  # never claim from statuses the sync may have missed
            self.action_chorus_pro_read_history()
        if self.chorus_pro_late_state == "rate_missing":
            try:
                self._chorus_pro_delay()
            except MissingRateError as err:
                raise UserError(self._chorus_pro_missing_rate_text(err)) from err
        if self.chorus_pro_late_state != "paid_late":
            raise UserError(self.env._(
                "%(invoice)s was not paid late (or its payment is not known yet): there is nothing to claim.",
                invoice=self.display_name,
            ))
        claims = self.chorus_pro_claim_ids.filtered(lambda claim: claim.state != "cancel")
        if claims:
            raise UserError(self.env._(
                "The late payment of %(invoice)s is already claimed by %(claim)s.",
                invoice=self.display_name, claim=", ".join(claims.mapped("display_name")),
            ))
