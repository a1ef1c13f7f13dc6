"""Chorus Pro on the invoice: posting checks, the send job (exactly once) and the status sync.

Life of one invoice (DESIGN.md):

* ``_post``: the checks run first and list every problem at once; a passing invoice addressed to
  a Chorus Pro recipient is marked ``to_send`` and the send job is triggered (after commit). No
  network call happens in the posting transaction.
* ``_cron_chorus_pro_send``: one invoice at a time, under a row lock (``FOR UPDATE SKIP LOCKED``)
  and a session advisory lock that outlives the commits: build and check the Factur-X, mark the
  invoice ``sending`` and commit, deposit, write the flow number and commit. An invoice found in
  ``sending`` without a flow number (the outcome of a deposit is unknown: timeout, cut connection,
  worker killed) is first looked up on Chorus Pro by its number; it is deposited again only if it
  is still not there once the settle delay has passed. **An invoice is never deposited twice.**
* ``_cron_chorus_pro_sync``: per company, one paged search of the invoices whose status changed
  since the last sync (matched by Chorus id, else flow number + number), the flow report only for
  flows that are not resolved yet; changes go to the chatter, statuses that need the supplier
  put an activity on the invoice, final statuses stop the polling.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import psycopg2
from markupsafe import Markup
from stdnum import iban as stdnum_iban

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import config, format_datetime

from ..core import delivery  # noqa: TID252
from ..core.budgets import compact_siret, is_valid_siret  # noqa: TID252
from ..core.errors import ChorusError  # noqa: TID252
from ..core.status import ChorusState, flow_status, invoice_status  # noqa: TID252
from .chorus_pro_messages import error_message

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
FLOW_REJECTED = ("IN_REJETE", "IN_INCIDENTE", "QP_IRRECEVABLE")
ENGAGEMENT_MAX_LENGTH = 50
MIN_RETRY_SECONDS = 30
# Longest sleep of an Odoo cron worker between two passes (odoo.service.server.SLEEP_INTERVAL + up to 9 s): the
# server's watchdog counts it in the pass.
CRON_WORKER_SLEEP = 70
MIN_TIME_BUDGET = 10.0
# Attribute of the cron runner's job cursor holding the monotonic start of the send job's pass.
PASS_CLOCK_ATTRIBUTE = "_chorus_pro_send_pass_started"

# Session advisory lock namespace ("CPR0"): held by the worker that builds and deposits an invoice,
# across its commits; PostgreSQL releases it if the worker dies.
ADVISORY_NAMESPACE = 0x43505230

PARAM_PREFIX = "odoo_chorus_rouen."
DEFAULTS = {
    "send_batch_size": 50,  # invoices per send job run
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
}


def validate_invoice_file(data, requirements, layout):
    """``core.validation.validate`` of ``data`` (all layers): the list of findings. Never raises.

    Under Odoo's address-space limit (``limit_memory_hard``) the core runs the Schematrons in a
    persistent child process by itself (SaxonC cannot start under that limit).
    """
    from ..core import validation  # noqa: TID252

    return validation.validate(data, requirements=requirements, layout=layout).findings


def _utc_naive(value):
    """Odoo stores naive UTC datetimes; the client gives aware ones."""
    if value is None:
        return False
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value
    return datetime.combine(value, datetime.min.time())


class _SyncEffects:
    """What the status sync does to one invoice, recorded while a page of changes is worked out
    (``AccountMove._chorus_pro_apply_page``), then applied with the whole page."""

    __slots__ = ("activities", "closed", "logs", "vals")

    def __init__(self):
        self.vals = {}  # field values, in the order they were written
        self.logs = []  # chatter notes
        self.activities = []  # (summary, note, user id) of the to-dos to schedule
        self.closed = []  # labels of the statuses that close this addon's to-dos


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
    chorus_pro_last_sync = fields.Datetime(string="Chorus Pro Last Sync", copy=False, readonly=True)
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
        services = partner.with_context(active_test=False).chorus_pro_service_ids
        if not services:
            return None
        return set(services.filtered("active").mapped("code"))

    def _chorus_pro_error_text(self, err):
        """The translated message of a core error, with its technical reason when the message lacks it."""
        text = error_message(self.env, err)
        reason = (getattr(err, "params", None) or {}).get("reason")
        if reason and str(reason) not in text:
            text = f"{text} ({reason})"
        return text

    def _chorus_pro_label(self, field_name):
        return self._fields[field_name]._description_string(self.env)

    # -------------------------------------------------------------------------
    # Posting checks
    # -------------------------------------------------------------------------

    def _chorus_pro_routing_issues(self, partner, service_code, engagement):
        """Problems of the routing data (buyer SIRET, BT-10, BT-13) for ``partner``: translated texts."""
        issues = []
        contact = partner.display_name
        siret = compact_siret(partner.siret or "")
        if not siret:
            issues.append(_(
                "The customer %(contact)s has no SIRET: fill in the SIRET of the budget the invoice is "
                "addressed to, on the contact's form.", contact=contact,
            ))
        elif not is_valid_siret(siret):
            issues.append(_(
                "The SIRET %(siret)s of %(contact)s is not valid (14 digits with a valid check digit): correct "
                "it on the contact's form, from the buyer's purchase order.", siret=partner.siret, contact=contact,
            ))
        requirements = self._chorus_pro_requirements(partner, service_code)
        service_label = self._chorus_pro_label("buyer_reference")
        engagement_label = self._chorus_pro_label("purchase_order_reference")
        if requirements.engagement and not engagement:
            issues.append(_(
                "%(contact)s requires an engagement number (BT-13): fill in '%(field)s' (Other Info tab) with "
                "the number printed on the purchase order.", contact=contact, field=engagement_label,
            ))
        if requirements.service_code and not service_code:
            issues.append(_(
                "%(contact)s requires a service code (BT-10): fill in '%(field)s' (Other Info tab).",
                contact=contact, field=service_label,
            ))
        if requirements.service_or_engagement and not (service_code or engagement):
            issues.append(_(
                "%(contact)s requires a service code (BT-10) or an engagement number (BT-13): fill in "
                "'%(service)s' or '%(engagement)s' (Other Info tab).",
                contact=contact, service=service_label, engagement=engagement_label,
            ))
        if engagement and len(engagement) > ENGAGEMENT_MAX_LENGTH:
            issues.append(_(
                "The engagement number has %(length)s characters; Chorus Pro accepts at most %(max)s.",
                length=len(engagement), max=ENGAGEMENT_MAX_LENGTH,
            ))
        if service_code:
            codes = self._chorus_pro_active_service_codes(partner)
            if codes is not None and service_code not in codes:
                issues.append(_(
                    "The service code %(code)s is not an active service of %(contact)s on Chorus Pro "
                    "(active services: %(codes)s).",
                    code=service_code, contact=contact, codes=", ".join(sorted(codes)) or _("none"),
                ))
        return issues

    def _chorus_pro_check_issues(self):
        """Every problem that would stop this invoice from being sent to Chorus Pro (translated texts)."""
        self.ensure_one()
        issues = self._chorus_pro_routing_issues(
            self._chorus_pro_recipient(),
            (self.buyer_reference or "").strip(),
            (self.purchase_order_reference or "").strip(),
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
                    "'Recipient Bank' (Other Info tab), or add one to the company."
                ))
            elif not stdnum_iban.is_valid(bank.acc_number or ""):
                issues.append(_(
                    "The bank account %(account)s is not a valid IBAN: Chorus Pro only accepts payment to an "
                    "IBAN. Correct the account or choose another 'Recipient Bank'.", account=bank.acc_number,
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
        from ..core.validation import INVOICE_NUMBER_MAX, INVOICE_NUMBER_RE  # noqa: TID252

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
        for move in self:
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
    # Send job
    # -------------------------------------------------------------------------

    @api.model
    def _chorus_pro_send_domain(self):
        now = fields.Datetime.now()
        return [
            ("chorus_pro_state", "in", QUEUED_STATES),
            ("state", "=", "posted"),
            "|", ("chorus_pro_next_try", "=", False), ("chorus_pro_next_try", "<=", now),
        ]

    @api.model
    def _chorus_pro_send_time_budget(self):
        """Seconds a pass of the send job may take (0: no limit): the ``send_time_budget_seconds`` parameter,
        capped by the real-time limit of Odoo's cron workers (``limit_time_real_cron``, else
        ``limit_time_real``), past which the server kills the worker. A cron worker's clock also runs while
        it sleeps between passes (up to ``CRON_WORKER_SLEEP`` s) and the other jobs of the pass need their
        share: the cap is half of what is left after that sleep, and at least ``MIN_TIME_BUDGET`` s."""
        budget = max(0.0, self._chorus_pro_param("send_time_budget_seconds"))
        limit = config.get("limit_time_real_cron")
        if limit is None or limit < 0:  # -1 (default): the HTTP workers' limit applies
            limit = config.get("limit_time_real") or 0
        if limit and limit > 0:
            cap = max(MIN_TIME_BUDGET, (limit - CRON_WORKER_SLEEP) / 2)
            budget = min(budget, cap) if budget else cap
        return budget

    @api.model
    def _chorus_pro_send_pass_start(self):
        """Monotonic start of the current pass of the send job. Odoo's cron runner calls a job that reports
        remaining work up to ten times in a row, on one cursor and under ONE real-time limit: those chained
        calls share the clock of the first, kept on that cursor (the next pass gets a new cursor). Any other
        call (a manual run, the CLI) starts its own clock."""
        now = time.monotonic()
        if not self.env.context.get("ir_cron_progress_id"):
            return now
        cr = self.env.cr
        if getattr(cr, PASS_CLOCK_ATTRIBUTE, None) is None:
            setattr(cr, PASS_CLOCK_ATTRIBUTE, now)
        return getattr(cr, PASS_CLOCK_ATTRIBUTE)

    @api.model
    def _cron_chorus_pro_send(self, batch_size=None, time_budget=None):
        """Deposit the queued invoices on Chorus Pro (cron ``ir_cron_chorus_pro_send``).

        At most ``batch_size`` invoices (parameter ``send_batch_size``), and no new invoice is started once the
        pass has spent ``time_budget`` seconds (see ``_chorus_pro_send_time_budget``; 0: no limit): the job then
        triggers itself, so a slow machine (the invoice PDF alone can take 2 s) never runs into the worker's
        time limit. Returns the number of invoices processed."""
        started = self._chorus_pro_send_pass_start()
        batch_size = batch_size or self._chorus_pro_param("send_batch_size")
        if time_budget is None:
            time_budget = self._chorus_pro_send_time_budget()
        domain = self._chorus_pro_send_domain()
        moves = self.search(domain, order="chorus_pro_next_try asc, id asc", limit=batch_size + 1)
        more = len(moves) > batch_size
        moves = moves[:batch_size]
        clients = {}
        done = skipped = 0
        out_of_time = False
        try:
            for move in moves:
                if time_budget and time.monotonic() - started >= time_budget and (done or skipped):
                    out_of_time = more = True
                    break
                # Messages stored on the invoice are in the company's language (the cron has none).
                outcome = move.with_context(lang=move._chorus_pro_lang())._chorus_pro_send_one(clients)
                if outcome == "skipped":
                    skipped += 1
                else:
                    done += 1
        finally:
            # Safety net: pooled connections keep session locks; never leave one behind.
            if self._chorus_pro_can_commit():
                self.env.cr.rollback()
            self.env.cr.execute("SELECT pg_advisory_unlock_all()")
        remaining = max(0, self.search_count(self._chorus_pro_send_domain()) - skipped)
        if out_of_time:
            _logger.info("Chorus Pro: send job out of its %ss time budget after %s invoice(s); %s left for the "
                         "next pass", time_budget, done, remaining)
            # Not chained by the cron runner in this pass (that would run past the time limit): a new pass,
            # triggered below, has a fresh limit.
            self.env["ir.cron"]._notify_progress(done=done, remaining=0)
        else:
            self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        if more and remaining:
            self.env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_send")._trigger()
        return done

    def _chorus_pro_try_lock(self):
        """Take the invoice for this worker, never waiting: a session advisory lock, which outlives the
        commits of the job and dies with the worker's connection, then the row lock (``FOR UPDATE SKIP
        LOCKED``) that also keeps out a user writing the invoice at that moment."""
        self.ensure_one()
        cr = self.env.cr
        cr.execute("SELECT pg_try_advisory_lock(%s, %s)", (ADVISORY_NAMESPACE, self.id))
        if not cr.fetchone()[0]:
            return False
        try:
            with cr.savepoint(flush=False):
                cr.execute("SELECT id FROM account_move WHERE id = %s FOR UPDATE SKIP LOCKED", (self.id,))
                locked = bool(cr.fetchone())
        except psycopg2.OperationalError:  # changed since this transaction started: someone else has it
            locked = False
        if not locked:
            self._chorus_pro_unlock()
        return locked

    def _chorus_pro_unlock(self):
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute("SELECT pg_advisory_unlock(%s, %s)", (ADVISORY_NAMESPACE, self.id))
        except psycopg2.Error:  # aborted transaction: the job's final pg_advisory_unlock_all() releases it
            _logger.warning("Chorus Pro: could not release the send lock of invoice %s yet", self.id)

    def _chorus_pro_send_one(self, clients):
        """Process one queued invoice. Returns "skipped", "sent", "settled", "waiting", "retry" or "error"."""
        self.ensure_one()
        if not self._chorus_pro_try_lock():
            return "skipped"
        try:
            self.invalidate_recordset()
            now = fields.Datetime.now()
            if (self.state != "posted" or self.chorus_pro_state not in QUEUED_STATES
                    or (self.chorus_pro_next_try and self.chorus_pro_next_try > now)):
                return "skipped"
            try:
                client = self._chorus_pro_client(clients)
            except UserError as err:
                return self._chorus_pro_fail(err.args[0], uncertain=self.chorus_pro_state == "sending")
            try:
                if self.chorus_pro_state == "sending":
                    outcome = self._chorus_pro_settle(client)
                    if outcome != "deposit_again":
                        return outcome
                return self._chorus_pro_deposit(client)
            except Exception as err:  # noqa: BLE001 - one invoice never stops the others
                _logger.exception("Chorus Pro: unexpected error while sending invoice %s", self.id)
                if self._chorus_pro_can_commit():
                    self.env.cr.rollback()
                self.invalidate_recordset()
                uncertain = self.chorus_pro_state == "sending"
                return self._chorus_pro_fail(
                    _("Unexpected error while sending to Chorus Pro: %(error)s", error=str(err) or repr(err)),
                    uncertain=uncertain, retry=uncertain,
                )
        finally:
            self._chorus_pro_unlock()

    def _chorus_pro_client(self, clients):
        company = self.company_id
        if company.id not in clients:
            clients[company.id] = company._chorus_pro_get_client()
        return clients[company.id]

    # --- build -----------------------------------------------------------------

    def _chorus_pro_render_pdf(self):
        """The invoice PDF the Factur-X is built on: the legal PDF when it exists, else a fresh rendering."""
        self.ensure_one()
        if self.invoice_pdf_report_id:
            return self.invoice_pdf_report_id.raw
        report = self.env["account.move.send"]._get_default_pdf_report_id(self)
        content, report_type = self.env["ir.actions.report"].with_context(force_report_rendering=True)\
            ._pre_render_qweb_pdf(report.report_name, res_ids=self.ids)
        if report_type != "pdf":
            raise UserError(_("The invoice PDF could not be rendered."))
        return self.env["ir.actions.report"]._get_splitted_report(report.report_name, content, report_type)[self.id]

    def _chorus_pro_build_file(self):
        """Build the Factur-X PDF (Odoo's exporter + the Chorus corrections) and validate it.

        :return: ``(pdf_bytes, filename, syntax)``
        :raises UserError: data problems (every one listed).
        """
        self.ensure_one()
        import facturx

        from ..core import payload, validation  # noqa: TID252

        self._chorus_pro_raise_if_issues()
        builder = self.env["account.edi.xml.cii"]
        xml, odoo_constraints = builder._export_invoice(self)
        if odoo_constraints:
            _logger.debug("Odoo's Factur-X constraints on invoice %s (not blocking): %s", self.id, odoo_constraints)
        pdf = self._chorus_pro_render_pdf()
        lang = (self.partner_id.lang or "fr_FR").replace("_", "-")
        try:
            facturx_pdf = facturx.generate_from_binary(
                pdf, xml, flavor="factur-x", level="en16931", check_xsd=False, lang=lang,
                pdf_metadata={
                    "author": self.company_id.name,
                    "keywords": "Factur-X, Invoice",
                    "title": f"{self.company_id.name}: {self.name}",
                    "subject": f"Factur-X {self.name}",
                },
            )
        except Exception as err:  # noqa: BLE001 - factur-x raises bare exceptions
            raise UserError(_("The Factur-X file could not be built: %(error)s", error=str(err))) from err
        recipient = self._chorus_pro_recipient()
        buyer_siret = compact_siret(recipient.siret or "")
        requirements = {buyer_siret: self._chorus_pro_requirements(recipient, self.buyer_reference)}
        layout = self.company_id.chorus_pro_layout or "direct"
        errors = [f for f in validate_invoice_file(facturx_pdf, requirements, layout) if f.severity == "error"]
        if errors:
            lines = [
                f"- {finding.rule}: {finding.message}" + (f" ({finding.bt})" if finding.bt else "")
                for finding in errors
            ]
            raise UserError("\n".join([
                _("The Factur-X file of %(invoice)s breaks %(count)s rule(s); nothing was sent:",
                  invoice=self.name, count=len(lines)),
                *lines,
            ]))
        filename = payload.deposit_filename(self.name, validation.Format.FACTURX_PDF)
        syntax = payload.SYNTAX_BY_FORMAT[validation.Format.FACTURX_PDF]
        return facturx_pdf, filename, syntax

    def _chorus_pro_store_file(self, data, filename):
        self.ensure_one()
        attachment = self.env["ir.attachment"].sudo().create({
            "name": filename,
            "raw": data,
            "mimetype": "application/pdf",
            "res_model": self._name,
            "res_id": self.id,
            "description": _("Factur-X file deposited on Chorus Pro"),
        })
        self.chorus_pro_attachment_id = attachment
        return attachment

    # --- deposit ----------------------------------------------------------------

    def _chorus_pro_deposit(self, client):
        """Build (or reuse) the file, mark ``sending`` + commit, deposit, record the flow + commit."""
        self.ensure_one()
        from ..core import payload, validation  # noqa: TID252

        if self.chorus_pro_state == "sending" and self.chorus_pro_attachment_id:
            # Depositing again after an unknown outcome: exactly the same file.
            data = self.chorus_pro_attachment_id.raw
            filename = self.chorus_pro_attachment_id.name
            syntax = payload.SYNTAX_BY_FORMAT[validation.Format.FACTURX_PDF]
        else:
            try:
                data, filename, syntax = self._chorus_pro_build_file()
            except UserError as err:
                return self._chorus_pro_fail(err.args[0])
            self._chorus_pro_store_file(data, filename)

        # The point of no return: once committed, any later run treats the outcome as unknown until
        # Chorus Pro says whether it has the invoice.
        self.write({
            "chorus_pro_state": "sending",
            "chorus_pro_send_started": fields.Datetime.now(),
            "chorus_pro_attempts": self.chorus_pro_attempts + 1,
        })
        self._chorus_pro_commit()

        try:
            result = client.deposit_flow(data, filename, syntax)
        except ChorusError as err:
            failure = delivery.classify_failure(err)
            return self._chorus_pro_fail(
                self._chorus_pro_error_text(err),
                uncertain=failure.kind == "uncertain",
                retry=failure.kind != "error",
                retry_after=failure.retry_after,
            )

        self.write({
            "chorus_pro_state": "sent",
            "chorus_pro_flow_number": result.flow_number,
            "chorus_pro_flow_state": False,
            "chorus_pro_deposit_date": fields.Datetime.now(),
            "chorus_pro_next_try": False,
            "chorus_pro_attempts": 0,
            "chorus_pro_error": False,
        })
        self._message_log(
            body=_("Sent to Chorus Pro: flow %(flow)s (file %(file)s).", flow=result.flow_number, file=filename),
            attachment_ids=self.chorus_pro_attachment_id.ids,
        )
        self._chorus_pro_commit()
        return "sent"

    def _chorus_pro_backoff(self, retry_after=None):
        delay = delivery.next_attempt_delay(
            self.chorus_pro_attempts,
            retry_after,
            base=self._chorus_pro_param("retry_base_seconds"),
            maximum=self._chorus_pro_param("retry_max_seconds"),
        )
        return fields.Datetime.now() + timedelta(seconds=delay)

    def _chorus_pro_fail(self, message, *, retry=False, uncertain=False, retry_after=None):
        """Record a failure of the send job on the invoice (never raises) and commit.

        :param retry: the failure may pass: keep the invoice queued with a back-off.
        :param uncertain: a deposit may exist: the invoice stays ``sending`` until Chorus Pro is asked.
        """
        self.ensure_one()
        vals = {"chorus_pro_error": message}
        if uncertain:
            # Never "error": the resend button would allow a second deposit. Ask Chorus Pro first.
            vals["chorus_pro_state"] = "sending"
            settle = timedelta(minutes=self._chorus_pro_param("settle_delay_minutes"))
            started = self.chorus_pro_send_started or fields.Datetime.now()
            # Ask again once the settle delay is over, or sooner on a back-off, never in a tight loop.
            vals["chorus_pro_next_try"] = max(min(started + settle, self._chorus_pro_backoff(retry_after)),
                                              fields.Datetime.now() + timedelta(seconds=MIN_RETRY_SECONDS))
            outcome = "waiting"
        elif retry and self.chorus_pro_attempts < self._chorus_pro_param("max_attempts"):
            vals["chorus_pro_state"] = "to_send"
            vals["chorus_pro_next_try"] = self._chorus_pro_backoff(retry_after)
            outcome = "retry"
        else:
            if retry:
                message = _("Chorus Pro still fails after %(count)s attempts: %(error)s",
                            count=self.chorus_pro_attempts, error=message)
                vals["chorus_pro_error"] = message
            vals.update({"chorus_pro_state": "error", "chorus_pro_next_try": False})
            outcome = "error"
        self.write(vals)
        if outcome == "error":
            self._message_log(body=Markup("%s<br/>%s") % (
                _("Not sent to Chorus Pro. Fix the problem, then use 'Send to Chorus Pro'."),
                Markup("<br/>").join(message.splitlines()),
            ))
        elif outcome == "waiting":
            self._message_log(body=_("Chorus Pro: %(error)s Next check: %(when)s.", error=message,
                                     when=format_datetime(self.env, vals["chorus_pro_next_try"])))
        self._chorus_pro_commit()
        return outcome

    # --- settle an unknown outcome ---------------------------------------------

    def _chorus_pro_find_deposited(self, client):
        """The Chorus Pro invoice matching this one (same number, buyer, supplier and type), or None."""
        self.ensure_one()
        return delivery.find_deposited(
            client.search_invoices(invoice_number=self.name),
            self.name,
            buyer_siret=self._chorus_pro_recipient().siret,
            supplier_siret=self.company_id.siret,
            invoice_type="AVOIR" if self.move_type == "out_refund" else "FACTURE",
        )

    def _chorus_pro_settle(self, client):
        """The invoice is ``sending`` without a flow number: did the last deposit reach Chorus Pro?

        :return: "settled" (found: adopted), "waiting" (not found yet, settle delay not over, or
            Chorus Pro could not be asked) or "deposit_again".
        """
        self.ensure_one()
        try:
            summary = self._chorus_pro_find_deposited(client)
        except ChorusError as err:
            return self._chorus_pro_fail(self._chorus_pro_error_text(err), uncertain=True, retry=True,
                                         retry_after=getattr(err, "retry_after", None))
        if summary is not None:
            self.write({
                "chorus_pro_invoice_id": str(summary.chorus_id),
                "chorus_pro_flow_number": summary.flow_number or self.chorus_pro_flow_number,
                "chorus_pro_flow_state": FLOW_INTEGRATED,
                "chorus_pro_deposit_date": _utc_naive(summary.deposit_date) or self.chorus_pro_send_started,
                "chorus_pro_state": "sent",
                "chorus_pro_next_try": False,
                "chorus_pro_attempts": 0,
                "chorus_pro_error": False,
                "chorus_pro_last_sync": fields.Datetime.now(),
            })
            self._message_log(body=_(
                "Chorus Pro has this invoice (Chorus Pro ID %(id)s, flow %(flow)s): the earlier deposit went "
                "through, it is not sent again.", id=summary.chorus_id, flow=summary.flow_number or "?",
            ))
            self._chorus_pro_apply_status(summary.status, summary.status_date, summary.comment)
            self._chorus_pro_commit()
            return "settled"
        settle = timedelta(minutes=self._chorus_pro_param("settle_delay_minutes"))
        started = self.chorus_pro_send_started or fields.Datetime.now()
        elapsed = (fields.Datetime.now() - started).total_seconds()
        if delivery.settle_decision(False, elapsed, settle.total_seconds()) == "wait":
            self.write({"chorus_pro_next_try": started + settle})
            self._chorus_pro_commit()
            return "waiting"
        self._message_log(body=_(
            "Chorus Pro does not have this invoice %(delay)s minutes after the uncertain deposit: it is "
            "deposited again.", delay=int(settle.total_seconds() // 60),
        ))
        return "deposit_again"

    # -------------------------------------------------------------------------
    # Status sync
    # -------------------------------------------------------------------------

    @api.model
    def _chorus_pro_last_sync_key(self, company):
        return f"{PARAM_PREFIX}last_sync.{company.id}"

    @api.model
    def _cron_chorus_pro_sync(self):
        """Bring Chorus Pro flow states and invoice statuses back onto the invoices (``ir_cron_chorus_pro_sync``)."""
        groups = self._read_group(
            [("chorus_pro_state", "in", TRACKED_STATES), ("state", "=", "posted")], ["company_id"]
        )
        companies = self.env["res.company"].browse([company.id for company, in groups])
        done = 0
        for company in companies:
            try:
                lang = self.env.context.get("lang") or company.partner_id.lang or "en_US"
                done += self.with_company(company).with_context(lang=lang)._chorus_pro_sync_company(company)
            except Exception:  # noqa: BLE001 - one company never stops the others
                _logger.exception("Chorus Pro: status sync of company %s failed", company.id)
                if self._chorus_pro_can_commit():
                    self.env.cr.rollback()
        self.env["ir.cron"]._notify_progress(done=done, remaining=0)
        return done

    @api.model
    def _chorus_pro_sync_company(self, company):
        """One sync run for one company. Returns the number of invoices updated."""
        tracked = self.search([
            ("company_id", "=", company.id),
            ("chorus_pro_state", "in", TRACKED_STATES),
            ("state", "=", "posted"),
        ])
        if not tracked:
            return 0
        try:
            client = company._chorus_pro_get_client()
        except UserError as err:
            _logger.warning("Chorus Pro: status sync of company %s skipped: %s", company.id, err.args[0])
            return 0
        run_started = fields.Datetime.now()
        params = self.env["ir.config_parameter"].sudo()
        last_sync = fields.Datetime.to_datetime(params.get_param(self._chorus_pro_last_sync_key(company)) or False)
        if last_sync:
            since = last_sync - timedelta(minutes=self._chorus_pro_param("sync_margin_minutes"))
        else:
            oldest = min(d for d in tracked.mapped(lambda m: m.chorus_pro_deposit_date or m.create_date) if d)
            since = oldest - timedelta(days=self._chorus_pro_param("sync_first_days"))

        seen, updated = set(), set()  # invoice ids
        by_chorus_id = {move.chorus_pro_invoice_id: move for move in tracked if move.chorus_pro_invoice_id}
        by_flow = {
            (move.chorus_pro_flow_number, move.name): move for move in tracked if move.chorus_pro_flow_number
        }
        page_size = self._chorus_pro_param("search_page_size")
        page = []  # (invoice, summary): applied together, about one page of the search at a time
        search_ok = True
        try:
            for summary in client.search_invoices(
                changed_since=since.replace(tzinfo=timezone.utc),
                page_size=page_size,
            ):
                move = by_chorus_id.get(str(summary.chorus_id)) or by_flow.get((summary.flow_number, summary.number))
                if not move or move.id in seen:
                    continue
                seen.add(move.id)
                page.append((move, summary))
                if len(page) >= page_size:
                    updated |= self._chorus_pro_apply_page(page, client)
                    page = []
        except ChorusError as err:
            search_ok = False
            _logger.warning("Chorus Pro: status search of company %s failed: %s", company.id, err)
        updated |= self._chorus_pro_apply_page(page, client)  # what the search gave before it ended or failed
        self._chorus_pro_commit()

        # Flows not resolved by the search: still processing, or rejected (no invoice ever appears).
        pending = tracked.filtered(
            lambda m: m.id not in seen
            and m.chorus_pro_state == "sent" and not m.chorus_pro_invoice_id and m.chorus_pro_flow_number
        )
        for move in pending[: self._chorus_pro_param("flow_reports_per_run")]:
            if move._chorus_pro_isolated(move._chorus_pro_follow_flow, client):
                updated.add(move.id)
            self._chorus_pro_commit()

        if search_ok:
            params.set_param(self._chorus_pro_last_sync_key(company), fields.Datetime.to_string(run_started))
        self._chorus_pro_commit()
        return len(updated)

    def _chorus_pro_sync_failed(self, err):
        """Log the failure of the sync of this invoice (the run goes on)."""
        if isinstance(err, ChorusError):
            _logger.warning("Chorus Pro: sync of invoice %s failed: %s", self.id, err)
        else:
            _logger.error("Chorus Pro: sync of invoice %s failed", self.id, exc_info=err)

    def _chorus_pro_isolated(self, method, *args):
        """Run ``method`` for this invoice alone (its result, or False): a failure is logged and rolled back,
        the run goes on."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                return method(*args)
        except Exception as err:  # noqa: BLE001
            self._chorus_pro_sync_failed(err)
        self.invalidate_recordset()
        return False

    @api.model
    def _chorus_pro_apply_page(self, page, client):
        """Apply search results, a list of ``(invoice, summary)``, together. Returns the ids of the invoices updated.

        Each invoice's ``_chorus_pro_apply_summary`` runs alone and only *records* its effects (values,
        chatter entries, activities: ``_SyncEffects``); one that fails is logged and skipped, the others
        go on. The recorded effects are then applied in a few batched calls, in one savepoint. Should
        that fail, the page is applied again one invoice at a time, each in its own savepoint, so that
        one bad record never blocks the others.
        """
        if not page:
            return set()
        recorded = {}  # invoice id -> _SyncEffects
        updated = set()
        try:
            with self.env.cr.savepoint():
                env = self.with_context(chorus_pro_effects=recorded).env
                for move, summary in page:
                    recorded[move.id] = _SyncEffects()
                    try:
                        if move.with_env(env)._chorus_pro_apply_summary(summary, client):
                            updated.add(move.id)
                    except psycopg2.Error:
                        raise  # the transaction is in trouble: roll the page back
                    except Exception as err:  # noqa: BLE001 - this invoice only: nothing of it was written
                        del recorded[move.id]
                        move._chorus_pro_sync_failed(err)
                        move.invalidate_recordset()
                self._chorus_pro_apply_effects(recorded)
            return updated
        except Exception:  # noqa: BLE001
            _logger.warning("Chorus Pro: applying %s status changes together failed, applying them one by one",
                            len(page), exc_info=True)
        self.invalidate_model()
        return {
            move.id for move, summary in page
            if move._chorus_pro_isolated(move._chorus_pro_apply_summary, summary, client)
        }

    @api.model
    def _chorus_pro_apply_effects(self, recorded):
        """Apply the effects recorded by ``_chorus_pro_apply_page`` (``{invoice id: _SyncEffects}``):
        one write per distinct set of values, the chatter entries in one batch, one ``activity_schedule``
        per distinct activity, the activities to close together."""
        by_vals = defaultdict(list)
        for move_id, effects in recorded.items():
            if effects.vals:
                by_vals[tuple(sorted(effects.vals.items()))].append(move_id)
        for items, move_ids in by_vals.items():
            self.browse(move_ids)._chorus_pro_write(dict(items))
        entry = 0
        while bodies := {
            move_id: effects.logs[entry] for move_id, effects in recorded.items() if len(effects.logs) > entry
        }:
            self.browse(list(bodies))._message_log_batch(bodies=bodies)  # an invoice's entries keep their order
            entry += 1
        by_activity = defaultdict(list)
        for move_id, effects in recorded.items():
            for activity in effects.activities:
                by_activity[activity].append(move_id)
        for (summary, note, user_id), move_ids in by_activity.items():
            self.browse(move_ids).activity_schedule(
                "mail.mail_activity_data_todo", summary=summary, note=note, user_id=user_id
            )
        by_label = defaultdict(list)
        for move_id, effects in recorded.items():
            for label in effects.closed:
                by_label[label].append(move_id)
        for label, move_ids in by_label.items():
            self.browse(move_ids)._chorus_pro_close_activities(label)

    def _chorus_pro_effects(self):
        """The ``_SyncEffects`` recording this invoice's changes while ``_chorus_pro_apply_page`` works
        out a page, else None (the changes are then made at once)."""
        recorded = self.env.context.get("chorus_pro_effects")
        return None if recorded is None or len(self) != 1 else recorded.get(self.id)

    def _chorus_pro_write(self, vals):
        """Write Chorus Pro fields (in a page of the sync: record them, they are written with the page).

        These fields touch neither the journal items nor the balance, and none is tracked:
        ``account.move.write`` is told not to resynchronise the invoice lines, check the balance or
        prepare the tracking of the invoice's tracked fields (the bulk of its cost).
        """
        effects = self._chorus_pro_effects()
        if effects is not None:
            effects.vals.update(vals)
            return True
        return self.with_context(skip_invoice_sync=True, check_move_validity=False, mail_notrack=True).write(vals)

    def _chorus_pro_log(self, body):
        """A chatter note (in a page of the sync: recorded, logged with the page)."""
        effects = self._chorus_pro_effects()
        if effects is not None:
            effects.logs.append(body)
            return
        self._message_log(body=body)

    def _chorus_pro_apply_summary(self, summary, client=None):
        """Apply one search result (``InvoiceSummary``) to this invoice.

        The status history is read only when the search does not say why the supplier must act
        (no ``commentaireEtatCourant``): one call for that invoice, never for the others.
        Within a page of the sync the changes are recorded, then written with the page: the record
        still shows its old values here (read what was written from the values, not the record).
        """
        self.ensure_one()
        vals = {"chorus_pro_last_sync": fields.Datetime.now()}
        if not self.chorus_pro_invoice_id:
            vals["chorus_pro_invoice_id"] = str(summary.chorus_id)
        if self.chorus_pro_flow_state != FLOW_INTEGRATED:
            vals["chorus_pro_flow_state"] = FLOW_INTEGRATED  # an invoice exists: its flow was integrated
        self._chorus_pro_write(vals)
        changed = "chorus_pro_invoice_id" in vals
        new_date = _utc_naive(summary.status_date)
        if self.chorus_pro_status_date and new_date and new_date < self.chorus_pro_status_date:
            return changed  # an older picture than the one we have
        comment = summary.comment
        if (client is not None and not comment and summary.status != self.chorus_pro_status
                and invoice_status(summary.status).action_needed):
            history = client.invoice_history(summary.chorus_id)
            for entry in reversed(history.entries):
                if entry.status == summary.status and entry.comment:
                    comment = entry.comment
                    break
        return self._chorus_pro_apply_status(summary.status, summary.status_date, comment) or changed

    def _chorus_pro_apply_status(self, code, status_date=None, comment=None):
        """Record an invoice status: state, chatter entry, activity when the supplier must act."""
        self.ensure_one()
        if not code or code == self.chorus_pro_status:
            if self.chorus_pro_state == "sent" and code:
                self._chorus_pro_write({"chorus_pro_state": STATE_BY_CORE.get(invoice_status(code).state, "delivered")})
                return True
            return False
        info = invoice_status(code)
        state = STATE_BY_CORE.get(info.state) or (
            self.chorus_pro_state if self.chorus_pro_state not in ("sent", "sending") else "delivered"
        )
        vals = {
            "chorus_pro_status": code,
            "chorus_pro_status_date": _utc_naive(status_date) or fields.Datetime.now(),
            "chorus_pro_state": state,
        }
        if info.action_needed and comment:
            vals["chorus_pro_error"] = _("Reason given by the recipient: %(reason)s", reason=comment)
        elif not info.action_needed:
            vals["chorus_pro_error"] = False
        if not info.action_needed:
            vals["chorus_pro_activity_status"] = False
        self._chorus_pro_write(vals)
        label = self._chorus_pro_status_text(info)
        when = format_datetime(self.env, vals["chorus_pro_status_date"])
        body = Markup("%s") % _("Chorus Pro status: %(label)s (%(code)s) on %(date)s.", label=label, code=code,
                                date=when)
        if comment:
            body += Markup("<br/>") + _("Comment: %(comment)s", comment=comment)
        self._chorus_pro_log(body)
        if info.action_needed:
            self._chorus_pro_schedule_activity(code, label, comment)
        else:
            self._chorus_pro_close_activities(label)
        return True

    def _chorus_pro_close_activities(self, label):
        """The supplier no longer has to act: mark the to-dos this addon created as done."""
        effects = self._chorus_pro_effects()
        if effects is not None:
            effects.closed.append(label)
            return
        todo = self.env.ref("mail.mail_activity_data_todo")
        activities = self.sudo().activity_ids.filtered(
            lambda a: a.automated and a.activity_type_id == todo and "Chorus Pro" in (a.summary or "")
        )
        if activities:
            activities.action_feedback(feedback=_("Chorus Pro status is now: %(label)s", label=label))

    def _chorus_pro_schedule_activity(self, code, label, comment=None):
        """A to-do for the invoice's responsible, once per status that needs the supplier."""
        self.ensure_one()
        if self.chorus_pro_activity_status == code:
            return
        if code == "REJETEE":
            note = _("Issue a credit note for this invoice and a new invoice with a new number.")
        elif code == "A_RECYCLER":
            note = _("Correct the routing data (budget, service code, engagement number) with the 'Recycle on "
                     "Chorus Pro' button.")
        elif code == "SUSPENDUE":
            note = _("Add the missing supporting documents on the Chorus Pro portal.")
        elif code in FLOW_REJECTED or code == "IN_INTEGRE_PARTIEL":
            note = _("Read the reason on the invoice, fix the data, then use 'Send to Chorus Pro'.")
        else:
            note = _("Chorus Pro waits for an action on this invoice.")
        if comment:
            note = f"{note}\n{comment}"
        user = self.invoice_user_id or self.create_uid
        summary = _("Chorus Pro: %(label)s", label=label)
        user_id = user.id if user and user.active and not user.share else self.env.uid
        effects = self._chorus_pro_effects()
        if effects is not None:
            effects.activities.append((summary, note, user_id))
        else:
            self.activity_schedule("mail.mail_activity_data_todo", summary=summary, note=note, user_id=user_id)
        self._chorus_pro_write({"chorus_pro_activity_status": code})

    def _chorus_pro_follow_flow(self, client):
        """Follow a flow with ``consulterCRDetaille`` until it is integrated or rejected."""
        self.ensure_one()
        report = client.flow_report(self.chorus_pro_flow_number)
        info = report.info
        ours = [dp for dp in report.dp_errors if not dp.invoice_number or dp.invoice_number == self.name]
        vals = {"chorus_pro_last_sync": fields.Datetime.now()}
        changed = report.state != self.chorus_pro_flow_state
        vals["chorus_pro_flow_state"] = report.state
        rejected = report.state in FLOW_REJECTED or (report.state == "IN_INTEGRE_PARTIEL" and ours)
        if rejected:
            errors = [dp.message for dp in ours if dp.message] + [
                " ".join(filter(None, [te.code, te.label])) for te in report.technical_errors
            ]
            reasons = "\n".join(f"- {error}" for error in errors or [report.label or report.state])
            vals.update({"chorus_pro_state": "rejected", "chorus_pro_error": reasons})
            self._chorus_pro_write(vals)
            self._chorus_pro_log(Markup("<br/>").join([
                _("Chorus Pro rejected the file of flow %(flow)s (%(state)s):", flow=self.chorus_pro_flow_number,
                  state=self._chorus_pro_status_text(info)),
                *reasons.splitlines(),
                _("Fix the data, then use 'Resend to Chorus Pro'."),
            ]))
            self._chorus_pro_schedule_activity(report.state, self._chorus_pro_status_text(info))
            return True
        self._chorus_pro_write(vals)
        if changed:
            self._chorus_pro_log(_("Chorus Pro flow %(flow)s: %(state)s.", flow=self.chorus_pro_flow_number,
                                   state=self._chorus_pro_status_text(info)))
        if report.state in (FLOW_INTEGRATED, "IN_INTEGRE_PARTIEL"):
            for summary in client.search_invoices(flow_number=self.chorus_pro_flow_number):
                if summary.number == self.name:
                    self._chorus_pro_apply_summary(summary, client)
                    break
        return changed

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
            result = client.recycle_invoice(
                int(self.chorus_pro_invoice_id),
                recipient_siret=compact_siret(partner.siret),
                service_code=service_code or "",
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
