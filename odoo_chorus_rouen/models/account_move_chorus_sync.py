"""The status sync: Chorus Pro flow states and invoice statuses back onto the invoices (step 4).

``_cron_chorus_pro_sync``: per company, one paged search of the invoices whose status changed
since the last sync (matched by Chorus id, else flow number + number), the flow report only for
flows that are not resolved yet (at most ``flow_reports_per_run``); changes go to the chatter,
statuses that need the supplier put an activity on the invoice, final statuses stop the polling.
Other concerns add their bounded work to the run (``_chorus_pro_sync_domain``,
``_chorus_pro_sync_after``): the late-payment one reads the full histories of paid invoices whose
kept statuses do not settle the delay, at most ``history_reads_per_run``.

One sync of a company at a time: a session advisory lock (taken without waiting, held across the
run's commits, released by PostgreSQL if the worker dies). A second run of the same company (the
cron on another server, ``chorus-rouen odoo sync``, a button) skips it: the first one is doing the
work. A run writes an invoice only when Chorus Pro tells something new about it
(``chorus_pro_last_sync`` is then the time the last change was read), so that the search's overlap
with the previous run (``sync_margin_minutes``) rewrites nothing and never collides with the send job.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta, timezone

import psycopg2
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_datetime

from ..core import delivery  # noqa: TID252
from ..core.errors import ChorusError  # noqa: TID252
from ..core.status import invoice_status  # noqa: TID252
from . import chorus_pro_job_lock as job_lock
from .account_move import (
    FLOW_INTEGRATED,
    FLOW_REJECTED,
    PARAM_PREFIX,
    STATE_BY_CORE,
    TRACKED_STATES,
    _utc_naive,
)

_logger = logging.getLogger(__name__)

# Session advisory lock namespace ("CPS0"): one status sync of a company at a time, across its commits.
SYNC_NAMESPACE = 0x43505330


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
    # One concern per model file (STYLE.md): fields and posting stay in account_move.py.
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    # -------------------------------------------------------------------------
    # Status sync
    # -------------------------------------------------------------------------

    @api.model
    def _chorus_pro_last_sync_key(self, company):
        return f"{PARAM_PREFIX}last_sync.{company.id}"

    @api.model
    def _cron_chorus_pro_sync(self):
        """Bring Chorus Pro flow states and invoice statuses back onto the invoices (``ir_cron_chorus_pro_sync``)."""
        groups = self._read_group(self._chorus_pro_sync_domain(), ["company_id"])
        companies = self.env["res.company"].browse([company.id for company, in groups])
        done = 0
        for company in companies:
            if not self._chorus_pro_sync_lock(company):
                _logger.info("Chorus Pro: status sync of company %s skipped: another run is syncing it now",
                             company.id)
                continue
            try:
                lang = self.env.context.get("lang") or company.partner_id.lang or "en_US"
                done += self.with_company(company).with_context(lang=lang)._chorus_pro_sync_company(company)
            except Exception:  # noqa: BLE001 - one company never stops the others
                _logger.exception("Chorus Pro: status sync of company %s failed", company.id)
                if self._chorus_pro_can_commit():
                    self.env.cr.rollback()
            finally:
                job_lock.unlock(company, SYNC_NAMESPACE)
        self.env["ir.cron"]._notify_progress(done=done, remaining=0)
        return done

    @api.model
    def _chorus_pro_sync_domain(self):
        """The invoices a status sync run works on: a company is synced when one of its invoices matches.
        The tracked ones, i.e. followed on Chorus Pro (other concerns add theirs: ``_chorus_pro_sync_after``)."""
        return [("chorus_pro_state", "in", TRACKED_STATES), ("state", "=", "posted")]

    @api.model
    def _chorus_pro_sync_lock(self, company):
        """Take the status sync of ``company`` for this run; False when another run has it.

        The run's transaction is then committed (when committing is allowed), so that it starts from what
        the run that held the lock before committed.
        """
        self.env.cr.execute("SELECT pg_try_advisory_lock(%s, %s)", (SYNC_NAMESPACE, company.id))
        if not self.env.cr.fetchone()[0]:
            return False
        self._chorus_pro_commit()
        return True

    @api.model
    def _chorus_pro_sync_company(self, company):
        """One sync run for one company. Returns the number of invoices updated."""
        if not self.search_count([("company_id", "=", company.id), *self._chorus_pro_sync_domain()], limit=1):
            return 0
        try:
            client = company._chorus_pro_get_client()
        except UserError as err:
            _logger.warning("Chorus Pro: status sync of company %s skipped: %s", company.id, err.args[0])
            return 0
        updated = self._chorus_pro_sync_statuses(company, client)
        updated |= self._chorus_pro_sync_after(company, client)
        self._chorus_pro_commit()
        return len(updated)

    @api.model
    def _chorus_pro_sync_after(self, company, client):
        """What other concerns do once the statuses of ``company`` are read (hook, within the run's lock).
        Returns the ids of the invoices updated. Each call it makes is bounded per run."""
        return set()

    @api.model
    def _chorus_pro_sync_statuses(self, company, client):
        """The paged search of the statuses and the flow reports of one company's tracked invoices.
        Returns the ids of the invoices updated."""
        tracked = self.search([
            ("company_id", "=", company.id),
            ("chorus_pro_state", "in", TRACKED_STATES),
            ("state", "=", "posted"),
        ])
        if not tracked:
            return set()
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
        return updated

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
        vals = {}
        if not self.chorus_pro_invoice_id:
            vals["chorus_pro_invoice_id"] = str(summary.chorus_id)
        if self.chorus_pro_flow_state != FLOW_INTEGRATED:
            vals["chorus_pro_flow_state"] = FLOW_INTEGRATED  # an invoice exists: its flow was integrated
        if vals:
            self._chorus_pro_write({**vals, "chorus_pro_last_sync": fields.Datetime.now()})
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
        """Record an invoice status: state, chatter entry, activity when the supplier must act.
        Returns whether anything changed (nothing is written otherwise)."""
        self.ensure_one()
        if not code or code == self.chorus_pro_status:
            if self.chorus_pro_state == "sent" and code:
                self._chorus_pro_write({"chorus_pro_state": STATE_BY_CORE.get(invoice_status(code).state, "delivered"),
                                        "chorus_pro_last_sync": fields.Datetime.now()})
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
            "chorus_pro_last_sync": fields.Datetime.now(),
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

    def _chorus_pro_schedule_activity(self, code, label, comment=None, note=None):
        """A to-do for the invoice's responsible, once per status that needs the supplier."""
        self.ensure_one()
        if self.chorus_pro_activity_status == code:
            return
        note = note or self._chorus_pro_activity_note(code)
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

    def _chorus_pro_activity_note(self, code):
        """What the to-do for a status ``code`` asks the supplier to do."""
        if code == "REJETEE":
            return _("Issue a credit note for this invoice and a new invoice with a new number.")
        if code == "A_RECYCLER":
            return _("Correct the routing data (budget, service code, engagement number) with the 'Recycle on "
                     "Chorus Pro' button.")
        if code == "SUSPENDUE":
            return _("Add the missing supporting documents on the Chorus Pro portal.")
        if code in FLOW_REJECTED or code == "IN_INTEGRE_PARTIEL":
            return _("Read the reason on the invoice, fix the data, then use 'Send to Chorus Pro'.")
        return _("Chorus Pro waits for an action on this invoice.")

    def _chorus_pro_follow_flow(self, client):
        """Follow a flow with ``consulterCRDetaille`` until it is integrated or rejected."""
        self.ensure_one()
        report = client.flow_report(self.chorus_pro_flow_number)
        info = report.info
        ours = [dp for dp in report.dp_errors if not dp.invoice_number or dp.invoice_number == self.name]
        changed = report.state != self.chorus_pro_flow_state
        vals = {"chorus_pro_flow_state": report.state, "chorus_pro_last_sync": fields.Datetime.now()}
        rejected = report.state in FLOW_REJECTED or (report.state == "IN_INTEGRE_PARTIEL" and ours)
        if (rejected and ours and not report.technical_errors
                and all(delivery.is_duplicate_refusal(dp.message) for dp in ours)):
            return self._chorus_pro_duplicate_refused(client, report.state, [dp.message for dp in ours])
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
        if changed:  # a flow still in the same step: nothing is written
            self._chorus_pro_write(vals)
            self._chorus_pro_log(_("Chorus Pro flow %(flow)s: %(state)s.", flow=self.chorus_pro_flow_number,
                                   state=self._chorus_pro_status_text(info)))
        if report.state in (FLOW_INTEGRATED, "IN_INTEGRE_PARTIEL"):
            for summary in client.search_invoices(flow_number=self.chorus_pro_flow_number):
                if summary.number == self.name:
                    self._chorus_pro_apply_summary(summary, client)
                    break
        return changed

    def _chorus_pro_duplicate_refused(self, client, flow_state, reasons):
        """Chorus Pro refused this invoice's flow as a duplicate of a number it already holds.

        After a deposit whose outcome was unknown, that confirms the first deposit went through: the
        original invoice is adopted by supplier + number (buyer, type, amount and date checked), without
        its flow number, and followed from then on; no to-do. Otherwise (never deposited uncertainly from
        Odoo, or the invoice Chorus Pro holds differs) the number is used by another invoice: a person must
        issue a credit note or a new invoice with a new number (``delivery.duplicate_decision``).
        """
        self.ensure_one()
        flow = self.chorus_pro_flow_number
        original, is_ours = self._chorus_pro_find_original(client)
        decision = delivery.duplicate_decision(self.chorus_pro_deposit_uncertain, original, is_ours)
        expected = _("Chorus Pro already had this invoice from an earlier deposit; the new deposit (flow %(flow)s) "
                     "was refused as a duplicate, as expected.", flow=flow)
        now = fields.Datetime.now()
        if decision == "adopt":
            self._chorus_pro_write({
                "chorus_pro_invoice_id": str(original.chorus_id),
                "chorus_pro_flow_number": original.flow_number or flow,
                "chorus_pro_flow_state": FLOW_INTEGRATED,
                "chorus_pro_deposit_date": _utc_naive(original.deposit_date) or self.chorus_pro_deposit_date,
                "chorus_pro_state": "sent",
                "chorus_pro_error": False,
                "chorus_pro_last_sync": now,
            })
            self._chorus_pro_log(Markup("%s<br/>%s") % (expected, _(
                "It is followed under Chorus Pro ID %(id)s (flow %(flow)s). Nothing needs to be done.",
                id=original.chorus_id, flow=original.flow_number or "?",
            )))
            self._chorus_pro_apply_status(original.status, original.status_date, original.comment)
            return True
        if decision == "confirmed":
            changed = self.chorus_pro_flow_state != flow_state
            if changed or self.chorus_pro_error:
                self._chorus_pro_write({"chorus_pro_flow_state": flow_state, "chorus_pro_error": False,
                                        "chorus_pro_last_sync": now})
            if changed:
                self._chorus_pro_log(Markup("%s<br/>%s") % (expected, _(
                    "The original invoice is not listed by Chorus Pro yet: the next status sync looks for it. "
                    "Nothing needs to be done."
                )))
            return changed
        if original is not None and self.chorus_pro_deposit_uncertain:
            why = _("Chorus Pro refused flow %(flow)s as a duplicate, but the invoice it holds under number "
                    "%(number)s (Chorus Pro ID %(id)s) has another amount, date or recipient: it is not this one "
                    "and was not adopted.", flow=flow, number=self.name, id=original.chorus_id)
        else:
            why = _("Chorus Pro refused flow %(flow)s as a duplicate: the number %(number)s is already used on "
                    "Chorus Pro by an invoice that was not deposited from Odoo (another tool or the Chorus Pro "
                    "portal).", flow=flow, number=self.name)
        fix = _("Issue a credit note for this invoice, or a new invoice with a new number.")
        self._chorus_pro_write({
            "chorus_pro_flow_state": flow_state,
            "chorus_pro_state": "rejected",
            "chorus_pro_duplicate_conflict": True,
            "chorus_pro_error": "\n".join([why, fix, *(f"- {reason}" for reason in reasons if reason)]),
            "chorus_pro_last_sync": now,
        })
        self._chorus_pro_log(Markup("<br/>").join([why, *(f"- {reason}" for reason in reasons if reason), fix]))
        self._chorus_pro_schedule_activity(
            "DUPLICATE", _("invoice number already used"), note=f"{why}\n{fix}",
        )
        return True
