"""Chorus Pro on the invoice: fields, posting checks, queueing, recycling.

Life of one invoice (DESIGN.md):

* ``_post``: the checks run first and list every problem at once; a passing invoice addressed to
  a Chorus Pro recipient is marked ``to_send`` and the send job is triggered (after commit). No
  network call happens in the posting transaction.
* The send job (exactly once) is in :mod:`.account_move_chorus_send`, the status sync in
  :mod:`.account_move_chorus_sync`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from stdnum import iban as stdnum_iban

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..core import delivery  # noqa: TID252
from ..core.budgets import compact_siret, is_valid_siret  # noqa: TID252
from ..core.errors import ChorusError  # noqa: TID252
from ..core.status import REJECTED_FLOW_STATES, ChorusState, flow_status, invoice_status  # noqa: TID252
from .chorus_pro_messages import error_message, message_env
from .chorus_pro_routing import ENGAGEMENT_MAX_LENGTH  # noqa: F401 - kept importable from here

_logger = logging.getLogger(__name__)

CHORUS_PRO_STATES = [
    ("to_send", "To send"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("action", "Action needed"),
    ("rejected", "Rejected"),
    ("paid", "Payment initiated"),
    ("cancelled", "Cancelled"),
    ("error", "Error"),
]
QUEUED_STATES = ("to_send", "sending")
TRACKED_STATES = ("sent", "delivered", "action")  # followed by the sync job
DEPOSITED_STATES = ("sending", "sent", "delivered", "action", "paid")  # a deposit exists or may exist
STATE_BY_CORE = {
    ChorusState.SENT: "sent",
    ChorusState.DELIVERED: "delivered",
    ChorusState.ACTION: "action",
    ChorusState.REJECTED: "rejected",
    ChorusState.PAID: "paid",
    ChorusState.CANCELLED: "cancelled",
}
FLOW_INTEGRATED = "IN_INTEGRE"
FLOW_REJECTED = tuple(sorted(REJECTED_FLOW_STATES))  # IN_INCIDENTE, IN_REJETE, QP_IRRECEVABLE (core/status.py)
PARAM_PREFIX = "odoo_chorus_rouen."
DEFAULTS = {
    "send_batch_size": 50,  # invoices per send job run
    "send_render_batch": 10,  # invoice PDFs rendered in one report call by the send job (1: each alone)
    # Seconds one pass of the send job may spend before it hands over to a new pass (capped under the cron
    # workers' real-time limit, see _chorus_pro_send_time_budget); 0: no limit.
    "send_time_budget_seconds": 30.0,
    "settle_delay_minutes": delivery.DEFAULT_SETTLE_DELAY / 60,  # before depositing again an uncertain one
    "max_attempts": 8,  # retryable failures before the invoice goes to error
    "retry_base_seconds": int(delivery.DEFAULT_BACKOFF_BASE),  # first back-off, doubled each attempt
    "retry_max_seconds": int(delivery.DEFAULT_BACKOFF_MAX),  # back-off cap
    "sync_margin_minutes": 10,  # overlap of two status searches (clock skew, late writes)
    "sync_first_days": 2,  # first sync of a company: changes since the oldest deposit minus this
    "search_page_size": 500,  # invoices per page of the status search
    "flow_reports_per_run": 200,  # at most this many consulterCRDetaille calls per company and run
    "history_reads_per_run": 50,  # at most this many histories of paid invoices read per company and run
}


def _utc_naive(value):
    """Odoo stores naive UTC datetimes; the client gives aware ones."""
    if value is None:
        return False
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value
    return datetime.combine(value, datetime.min.time())


class AccountMove(models.Model):
    _inherit = "account.move"

    chorus_pro_is_recipient = fields.Boolean(
        string="Chorus Pro Recipient",
        compute="_compute_chorus_pro_is_recipient",
        store=True,
        help="The customer invoice or credit note is addressed to a Chorus Pro recipient (a public buyer's "
        "budget contact): it is sent to Chorus Pro when posted.",
    )
    chorus_pro_state = fields.Selection(
        selection=CHORUS_PRO_STATES,
        string="Chorus Pro",
        copy=False,
        index=True,
        readonly=True,
        help="To send: queued, the send job deposits it shortly.\n"
        "Sending: being deposited (or its deposit is being confirmed).\n"
        "Sent: deposited, Chorus Pro is processing the flow.\n"
        "Delivered: integrated, in the buyer's hands.\n"
        "Action needed: the buyer or the platform waits for you (recycle, complete...).\n"
        "Rejected / Payment initiated / Cancelled: final.\n"
        "Error: not sent; read the reason, fix the data, then send again.",
    )
    chorus_pro_status = fields.Char(
        string="Chorus Pro Status Code", copy=False, readonly=True, help="Raw status code of the invoice on Chorus Pro."
    )
    chorus_pro_status_label = fields.Char(string="Chorus Pro Status", compute="_compute_chorus_pro_labels")
    chorus_pro_status_date = fields.Datetime(
        string="Chorus Pro Status Date", copy=False, readonly=True, help="When Chorus Pro set the current status."
    )
    chorus_pro_flow_number = fields.Char(
        string="Chorus Pro Flow Number", copy=False, readonly=True, index="btree_not_null",
        help="numeroFluxDepot given by Chorus Pro when the file was deposited.",
    )
    chorus_pro_flow_state = fields.Char(string="Chorus Pro Flow State Code", copy=False, readonly=True)
    chorus_pro_flow_state_label = fields.Char(string="Chorus Pro Flow State", compute="_compute_chorus_pro_labels")
    chorus_pro_invoice_id = fields.Char(
        string="Chorus Pro Invoice ID", copy=False, readonly=True, index="btree_not_null",
        help="identifiantFactureCPP: the invoice's identifier on Chorus Pro.",
    )
    chorus_pro_deposit_date = fields.Datetime(string="Chorus Pro Deposit Date", copy=False, readonly=True)
    chorus_pro_last_sync = fields.Datetime(
        string="Chorus Pro Last Update", copy=False, readonly=True,
        help="When the status sync last read something new about this invoice on Chorus Pro (its ID, flow state "
             "or status). The sync itself runs every hour and writes nothing when nothing changed.",
    )
    chorus_pro_error = fields.Text(string="Chorus Pro Message", copy=False, readonly=True)
    chorus_pro_attachment_id = fields.Many2one(
        "ir.attachment", string="Chorus Pro File", copy=False, readonly=True,
        help="The Factur-X file deposited on Chorus Pro, exactly as sent.",
    )
    chorus_pro_attachment_name = fields.Char(related="chorus_pro_attachment_id.name", string="Chorus Pro File Name")
    chorus_pro_next_try = fields.Datetime(string="Chorus Pro Next Try", copy=False, readonly=True, index=True)
    chorus_pro_attempts = fields.Integer(string="Chorus Pro Attempts", copy=False, readonly=True)
    chorus_pro_send_started = fields.Datetime(
        string="Chorus Pro Deposit Attempt", copy=False, readonly=True,
        help="When the last deposit attempt started (a deposit whose outcome is unknown is settled from it).",
    )
    chorus_pro_activity_status = fields.Char(copy=False, readonly=True)  # status that got an activity
    chorus_pro_can_send = fields.Boolean(compute="_compute_chorus_pro_can_send")
    chorus_pro_flow_rejected = fields.Boolean(compute="_compute_chorus_pro_can_send")

    # -------------------------------------------------------------------------
    # Computes
    # -------------------------------------------------------------------------

    @api.depends(
        "move_type", "partner_id", "partner_id.chorus_pro_recipient", "partner_id.parent_id.chorus_pro_recipient"
    )
    def _compute_chorus_pro_is_recipient(self):
        for move in self:
            move.chorus_pro_is_recipient = move._chorus_pro_is_recipient_invoice()

    @api.depends("chorus_pro_status", "chorus_pro_flow_state")
    @api.depends_context("lang")
    def _compute_chorus_pro_labels(self):
        french = (self.env.lang or "").startswith("fr")
        for move in self:
            labels = []
            for code, lookup in ((move.chorus_pro_status, invoice_status), (move.chorus_pro_flow_state, flow_status)):
                info = lookup(code) if code else None
                labels.append((info.label_fr if french else info.label_en) if info else False)
            move.chorus_pro_status_label, move.chorus_pro_flow_state_label = labels

    @api.depends("state", "chorus_pro_state", "chorus_pro_is_recipient", "chorus_pro_flow_state",
                 "chorus_pro_invoice_id", "chorus_pro_flow_number")
    def _compute_chorus_pro_can_send(self):
        for move in self:
            move.chorus_pro_flow_rejected = bool(
                move.chorus_pro_flow_state in FLOW_REJECTED and not move.chorus_pro_invoice_id
            )
            move.chorus_pro_can_send = move._chorus_pro_can_queue()

    def _chorus_pro_can_queue(self):
        """Whether the invoice may be (re)queued: never while a deposit exists or may exist,
        unless that deposit is known to be rejected by the platform (IN_REJETE / IN_INCIDENTE)."""
        self.ensure_one()
        if self.state != "posted" or not self.chorus_pro_is_recipient:
            return False
        if self.chorus_pro_state in (False, None, "error", "to_send"):
            return not self.chorus_pro_flow_number or self.chorus_pro_flow_state in FLOW_REJECTED
        if self.chorus_pro_state == "rejected":
            return self.chorus_pro_flow_state in FLOW_REJECTED and not self.chorus_pro_invoice_id
        return False

    @api.depends("chorus_pro_state")
    def _compute_show_reset_to_draft_button(self):
        # EXTENDS account: a deposited invoice is corrected by a credit note, never reset to draft.
        res = super()._compute_show_reset_to_draft_button()
        for move in self:
            if move._chorus_pro_on_platform():
                move.show_reset_to_draft_button = False
        return res

    # -------------------------------------------------------------------------
    # Helpers
    # -------------------------------------------------------------------------

    def _chorus_pro_on_platform(self):
        """Whether the invoice is (or may be) on Chorus Pro: it is then corrected by a credit note only."""
        self.ensure_one()
        return self.chorus_pro_state in DEPOSITED_STATES or bool(
            self.chorus_pro_state in ("rejected", "cancelled") and self.chorus_pro_invoice_id
        )

    def _chorus_pro_recipient(self):
        """The Chorus Pro recipient the invoice is routed to: the budget contact it is addressed to
        (``partner_id``, or its closest flagged parent), never the commercial partner by default."""
        self.ensure_one()
        if self.move_type not in ("out_invoice", "out_refund") or not self.partner_id:
            return self.env["res.partner"]
        return self.partner_id._chorus_pro_get_recipient()

    def _chorus_pro_is_recipient_invoice(self):
        self.ensure_one()
        return bool(self._chorus_pro_recipient())

    @api.model
    def _chorus_pro_param(self, key):
        value = self.env["ir.config_parameter"].sudo().get_param(PARAM_PREFIX + key)
        default = DEFAULTS[key]
        try:
            return type(default)(value) if value not in (None, False, "") else default
        except ValueError:
            _logger.warning("Ignoring the invalid value %r of %s%s", value, PARAM_PREFIX, key)
            return default

    @api.model
    def _chorus_pro_can_commit(self):
        return self.env["account.move.send"]._can_commit()

    def _chorus_pro_commit(self):
        if self._chorus_pro_can_commit():
            self.env.cr.commit()  # pylint: disable=invalid-commit  # guarded: each step of the job is durable

    def _chorus_pro_lang(self):
        return self.env.context.get("lang") or self.company_id.partner_id.lang or "en_US"

    def _chorus_pro_status_text(self, info):
        lang = self._chorus_pro_lang()
        return info.label_fr if lang.startswith("fr") else info.label_en

    def _chorus_pro_requirements(self, partner=None, service_code=None):
        """What the buyer structure demands (BT-10 / BT-13), from the partner side of the addon."""
        partner = partner or self._chorus_pro_recipient()
        return partner._chorus_pro_requirements(service_code=service_code or None)

    @api.model
    def _chorus_pro_active_service_codes(self, partner):
        """Active service codes of the buyer structure, or None when its services are not known."""
        return self.env["chorus.pro.routing"].active_service_codes(partner)

    def _chorus_pro_error_text(self, err):
        """The translated message of a core error, with its technical reason when the message lacks it."""
        text = error_message(self.env, err)
        reason = (getattr(err, "params", None) or {}).get("reason")
        if reason and str(reason) not in text:
            text = f"{text} ({reason})"
        return text

    def _chorus_pro_label(self, field_name):
        """The label of the invoice's field ``field_name`` in the language of ``self.env``, as the form shows it."""
        return self._fields[field_name]._description_string(self.env)

    # -------------------------------------------------------------------------
    # Posting checks
    # -------------------------------------------------------------------------

    def _chorus_pro_routing_issues(self, partner, service_code, engagement, contract=None):
        """Problems of the routing data (buyer SIRET, BT-10, BT-13) for ``partner``: translated texts
        (``chorus.pro.routing.check_recipient``, shared with the sales order's confirmation)."""
        return self.env["chorus.pro.routing"].check_recipient(partner, engagement, service_code, contract)

    def _chorus_pro_check_issues(self):
        """Every problem that would stop this invoice from being sent to Chorus Pro (translated texts)."""
        self.ensure_one()
        issues = self._chorus_pro_routing_issues(
            self._chorus_pro_recipient(),
            (self.buyer_reference or "").strip(),
            (self.purchase_order_reference or "").strip(),
            self.contract_reference,
        )
        company = self.company_id
        company_siret = compact_siret(company.siret or "")
        if not company_siret:
            issues.append(_(
                "Your company %(company)s has no SIRET: fill it in the company's settings.", company=company.name
            ))
        elif not is_valid_siret(company_siret):
            issues.append(_(
                "The SIRET %(siret)s of your company %(company)s is not valid: correct it in the company's settings.",
                siret=company.siret, company=company.name,
            ))
        if self.move_type == "out_invoice":
            bank = self.partner_bank_id
            if not bank:
                issues.append(_(
                    "The invoice has no bank account to be paid on: set your company's IBAN account as "
                    "'%(field)s' (Other Info tab), or add one to the company.",
                    field=self._chorus_pro_label("partner_bank_id"),
                ))
            elif not stdnum_iban.is_valid(bank.acc_number or ""):
                issues.append(_(
                    "The bank account %(account)s is not a valid IBAN: Chorus Pro only accepts payment to an "
                    "IBAN. Correct the account or choose another '%(field)s'.", account=bank.acc_number,
                    field=self._chorus_pro_label("partner_bank_id"),
                ))
        if self.currency_id.name != "EUR":
            issues.append(_(
                "The invoice is in %(currency)s: invoices sent to Chorus Pro must be in EUR.",
                currency=self.currency_id.name,
            ))
        untaxed = self.invoice_line_ids.filtered(lambda line: line.display_type == "product" and not line.tax_ids)
        if untaxed and not self._chorus_pro_outside_vat_scope():  # a late-payment claim has no VAT by law
            # BR-CO-04 / BR-CO-18: without a VAT category the file fails EN 16931 and Chorus Pro rejects it.
            issues.append(_(
                "Every invoice line needs a VAT tax (BT-151/BT-152); when no VAT applies, use a zero-rate or "
                "exempt VAT tax. Lines without tax: %(lines)s.",
                lines=", ".join((line.name or line.product_id.display_name or "?").splitlines()[0] for line in untaxed),
            ))
        if self.currency_id.is_zero(self.amount_total):
            issues.append(_("The invoice total is zero: Chorus Pro does not accept an invoice without an amount."))
        if self.move_type == "out_refund" and not self.reversed_entry_id:
            issues.append(_(
                "A credit note sent to Chorus Pro must refer to the invoice it corrects (BT-25). Create it with "
                "the 'Credit Note' button of that invoice (or fill in its '%(field)s' field).",
                field=self._chorus_pro_label("reversed_entry_id"),
            ))
        return issues

    def _chorus_pro_check_number(self):
        """BT-1 as Chorus Pro takes it: at most 20 characters, letters, digits and - _ / + only."""
        from ..core.validation_routing import INVOICE_NUMBER_MAX, INVOICE_NUMBER_RE  # noqa: TID252

        # self.env._ (not _): inside a comprehension, _ cannot find the language in the caller's frame.
        problems = [
            self.env._(
                "The number %(number)s cannot go to Chorus Pro (at most %(max)s characters: letters, digits and "
                "- _ / +). Give the invoice a shorter number, or change the numbering of the journal %(journal)s.",
                number=move.name, max=INVOICE_NUMBER_MAX, journal=move.journal_id.display_name,
            )
            for move in self
            if len(move.name or "") > INVOICE_NUMBER_MAX or not INVOICE_NUMBER_RE.match(move.name or "")
        ]
        if problems:
            raise UserError("\n".join(problems))

    def _chorus_pro_raise_if_issues(self):
        blocks = []
        # One language for the whole refusal (header, lines, field labels), also over RPC without a context.
        for move in self.with_env(message_env(self.env)):
            issues = move._chorus_pro_check_issues()
            if issues:
                if move.name and move.name != "/":
                    header = _("%(invoice)s (%(customer)s) cannot be sent to Chorus Pro:",
                               invoice=move.name, customer=move.partner_id.display_name)
                else:
                    header = _("This invoice to %(customer)s cannot be sent to Chorus Pro:",
                               customer=move.partner_id.display_name)
                blocks.append("\n".join([header, *(f"- {issue}" for issue in issues)]))
        if blocks:
            raise UserError("\n\n".join(blocks))

    def _post(self, soft=True):
        # EXTENDS account: the Chorus Pro checks run before posting, then the invoices are queued.
        chorus_moves = self.filtered(lambda m: m._chorus_pro_is_recipient_invoice())
        if soft:
            today = fields.Date.context_today(self)
            chorus_moves = chorus_moves.filtered(lambda m: not (m.date > today and m.auto_post != "no"))
        chorus_moves._chorus_pro_raise_if_issues()
        posted = super()._post(soft=soft)
        # The number only exists now: a number Chorus Pro refuses rolls the posting back, it is not
        # left for the send job to find out.
        (posted & chorus_moves)._chorus_pro_check_number()
        to_queue = (posted & chorus_moves).filtered(lambda m: m.state == "posted" and m._chorus_pro_can_queue())
        if to_queue:
            to_queue._chorus_pro_queue(_("Posted: queued for Chorus Pro."))
        return posted

    # -------------------------------------------------------------------------
    # Queueing (no network)
    # -------------------------------------------------------------------------

    def _chorus_pro_queue(self, message=None):
        """Mark the invoices ``to_send`` and wake the send job up (after commit). Never calls Chorus Pro.

        One write for the whole batch (posting 200 invoices must cost about what posting 200 ordinary
        ones costs), through ``_chorus_pro_write``, which does not resynchronise the invoice lines.
        """
        if not self:
            return
        vals = {
            "chorus_pro_state": "to_send",
            "chorus_pro_next_try": False,
            "chorus_pro_attempts": 0,
            "chorus_pro_error": False,
            "chorus_pro_send_started": False,
        }
        # The previous deposit was rejected by the platform: start afresh (the chatter keeps it).
        rejected = self.filtered(lambda m: m.chorus_pro_flow_number and m.chorus_pro_flow_state in FLOW_REJECTED)
        (self - rejected)._chorus_pro_write(vals)
        rejected._chorus_pro_write({
            **vals,
            "chorus_pro_flow_number": False,
            "chorus_pro_flow_state": False,
            "chorus_pro_status": False,
            "chorus_pro_status_date": False,
            "chorus_pro_deposit_date": False,
            "chorus_pro_activity_status": False,
        })
        for move in self.filtered("activity_ids"):
            move._chorus_pro_close_activities(_("queued again"))
        if message:
            self._message_log_batch(bodies={move.id: message for move in self})
        self.env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_send")._trigger()

    def _chorus_pro_check_accountant(self):
        if not self.env.su and not self.env.user.has_group("account.group_account_invoice"):
            raise AccessError(_("Only accountants can send invoices to Chorus Pro."))

    def action_chorus_pro_send(self):
        """Button "Send to Chorus Pro" / "Resend": check again, then queue (the job sends after commit)."""
        self._chorus_pro_check_accountant()
        refused = []
        for move in self:
            if move.state != "posted" or not move.chorus_pro_is_recipient:
                refused.append(_("%(invoice)s: only posted customer invoices and credit notes addressed to a Chorus "
                                 "Pro recipient can be sent to Chorus Pro.", invoice=move.display_name))
            elif not move._chorus_pro_can_queue():
                refused.append(_("%(invoice)s: %(reason)s", invoice=move.display_name,
                                 reason=move._chorus_pro_why_not_queue()))
        if refused:
            raise UserError("\n".join(refused))
        self._chorus_pro_raise_if_issues()
        self._chorus_pro_queue(_("Queued for Chorus Pro by %(user)s.", user=self.env.user.name))
        return True

    def _chorus_pro_why_not_queue(self):
        self.ensure_one()
        if self.chorus_pro_status == "REJETEE":
            return _("the recipient rejected it on Chorus Pro. Issue a credit note for it and a new invoice "
                     "with a new number.")
        if self.chorus_pro_state == "sending":
            return _("it is being sent right now (or its deposit is being confirmed with Chorus Pro).")
        if self.chorus_pro_state == "action":
            return _("Chorus Pro waits for an action on the deposited invoice (see its status), not for a new deposit.")
        return _("it is already on Chorus Pro (flow %(flow)s); sending it again would create a duplicate.",
                 flow=self.chorus_pro_flow_number or "?")

    def button_draft(self):
        # EXTENDS account
        for move in self:
            if move._chorus_pro_on_platform():
                raise UserError(_(
                    "%(invoice)s is on Chorus Pro: it cannot be reset to draft. Issue a credit note to cancel "
                    "or correct it.", invoice=move.display_name,
                ))
        to_unqueue = self.filtered(lambda m: m.chorus_pro_state in ("to_send", "error"))
        res = super().button_draft()
        to_unqueue.write({"chorus_pro_state": False, "chorus_pro_next_try": False, "chorus_pro_error": False})
        return res

    # -------------------------------------------------------------------------
    # Recycle (A_RECYCLER)
    # -------------------------------------------------------------------------

    def action_chorus_pro_recycle(self):
        """Button: open the wizard that corrects the routing of an invoice Chorus Pro asks to recycle."""
        self.ensure_one()
        self._chorus_pro_check_accountant()
        if self.chorus_pro_status != "A_RECYCLER" or not self.chorus_pro_invoice_id:
            raise UserError(_("Only an invoice Chorus Pro asks to recycle (status 'To recycle') can be recycled."))
        return {
            "type": "ir.actions.act_window",
            "name": _("Recycle on Chorus Pro"),
            "res_model": "chorus.pro.recycle",
            "view_mode": "form",
            "target": "new",
            "context": {"default_move_id": self.id},
        }

    def _chorus_pro_recycle_routing(self, partner, service_code):
        """(recipient SIRET, service code) that ``recyclerFacture`` receives for the new routing."""
        return compact_siret(partner.siret), service_code or ""

    def _chorus_pro_recycle(self, partner, service_code, engagement, comment=None):
        """Send the corrected routing of an ``A_RECYCLER`` invoice to Chorus Pro, then record it."""
        self.ensure_one()
        self._chorus_pro_check_accountant()
        issues = self._chorus_pro_routing_issues(partner, service_code, engagement)
        if partner.commercial_partner_id != self.commercial_partner_id:
            issues.append(_("The new budget contact must belong to %(customer)s.",
                            customer=self.commercial_partner_id.display_name))
        if issues:
            raise UserError("\n".join([_("The invoice cannot be recycled:"), *(f"- {i}" for i in issues)]))
        client = self.company_id._chorus_pro_get_client()
        try:
            # "" clears a value on Chorus Pro (None would keep the old one): send the full new routing.
            recipient_siret, routed_service_code = self._chorus_pro_recycle_routing(partner, service_code)
            result = client.recycle_invoice(
                int(self.chorus_pro_invoice_id),
                recipient_siret=recipient_siret,
                service_code=routed_service_code,
                engagement=engagement or "",
                comment=comment or None,
            )
        except ChorusError as err:
            raise UserError(self._chorus_pro_error_text(err)) from err
        # The recipient changes between budget contacts of the same customer (checked above): the
        # receivable (commercial partner) is unchanged, the invoice now says what Chorus Pro holds.
        self.with_context(skip_readonly_check=True).write({
            "partner_id": partner.id,
            "buyer_reference": service_code or False,
            "purchase_order_reference": engagement or False,
        })
        self._message_log(body=_(
            "Recycled on Chorus Pro: recipient %(contact)s (SIRET %(siret)s), service code %(service)s, "
            "engagement %(engagement)s.", contact=partner.display_name, siret=partner.siret,
            service=service_code or "-", engagement=engagement or "-",
        ))
        self._chorus_pro_apply_status(result.status or "DEPOSEE", result.deposit_date)
        return True
