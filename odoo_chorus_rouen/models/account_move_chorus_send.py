"""The send job: deposit each queued invoice on Chorus Pro exactly once (DESIGN.md, life of an invoice, step 3).

``_cron_chorus_pro_send``: one invoice at a time, under a row lock (``FOR UPDATE SKIP LOCKED``)
and a session advisory lock that outlives the commits: build and check the Factur-X, mark the
invoice ``sending`` and commit, deposit, write the flow number and commit. An invoice found in
``sending`` without a flow number (the outcome of a deposit is unknown: timeout, cut connection,
worker killed) is first looked up on Chorus Pro by its number; it is deposited again only if it
is still not there once the settle delay has passed. **An invoice is never deposited twice.**

The invoice PDFs of the next invoices (``send_render_batch``, 10) are rendered together first, in one
report call (``account_move_chorus_render.py``); an invoice whose rendering fails is isolated there.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import config, format_datetime

from ..core import delivery  # noqa: TID252
from ..core.errors import ChorusError  # noqa: TID252
from . import chorus_pro_job_lock as job_lock
from .account_move import (
    FLOW_INTEGRATED,
    FLOW_REJECTED,
    QUEUED_STATES,
    _utc_naive,
)
from .account_move_chorus_render import RENDERED_ATTRIBUTE, PdfRenderError, release_free_heap

_logger = logging.getLogger(__name__)

MIN_RETRY_SECONDS = 30
FLOW_FINAL = ("IN_INTEGRE_PARTIEL", *FLOW_REJECTED)  # with FLOW_INTEGRATED: no longer in processing
# Longest sleep of an Odoo cron worker between two passes (odoo.service.server.SLEEP_INTERVAL + up to 9 s): the
# server's watchdog counts it in the pass.
CRON_WORKER_SLEEP = 70
MIN_TIME_BUDGET = 10.0
# Attribute of the cron runner's job cursor holding the monotonic start of the send job's pass.
PASS_CLOCK_ATTRIBUTE = "_chorus_pro_send_pass_started"

# Session advisory lock namespace ("CPR0"): held by the worker that builds and deposits an invoice,
# across its commits; PostgreSQL releases it if the worker dies.
ADVISORY_NAMESPACE = 0x43505230


def validate_invoice_file(data, requirements, layout):
    """``core.validation.validate`` of ``data`` (all layers): the list of findings. Never raises.

    Under Odoo's address-space limit (``limit_memory_hard``) the core runs the Schematrons in a
    persistent child process by itself (SaxonC cannot start under that limit).
    """
    from ..core import validation  # noqa: TID252

    return validation.validate(data, requirements=requirements, layout=layout).findings


class AccountMove(models.Model):
    # One concern per model file (STYLE.md): fields and posting stay in account_move.py.
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_deposit_uncertain = fields.Boolean(
        string="Chorus Pro Deposit Uncertain", copy=False, readonly=True,
        help="An earlier deposit of this invoice got no answer (timeout, cut connection, stopped worker). Should "
             "Chorus Pro refuse a later deposit as a duplicate, that confirms it received the first one.",
    )
    chorus_pro_duplicate_conflict = fields.Boolean(
        string="Chorus Pro Number Already Used", copy=False, readonly=True,
        help="Chorus Pro refused the invoice as a duplicate, and the invoice it holds under this number was not "
             "deposited from Odoo (or differs from this one): issue a credit note, or a new invoice with a new "
             "number.",
    )

    def _chorus_pro_can_queue(self):
        # EXTENDS odoo_chorus_rouen: sending again a number Chorus Pro already uses only adds refused flows.
        return super()._chorus_pro_can_queue() and not self.chorus_pro_duplicate_conflict

    def _chorus_pro_why_not_queue(self):
        # EXTENDS odoo_chorus_rouen
        if self.chorus_pro_duplicate_conflict:
            return _("its number is already used on Chorus Pro by another invoice. Issue a credit note for it, or "
                     "a new invoice with a new number.")
        return super()._chorus_pro_why_not_queue()

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
        render_batch = self._chorus_pro_render_batch_size()
        rendered = {}  # PDFs rendered together, taken by each invoice's build (account_move_chorus_render.py)
        setattr(self.env.cr, RENDERED_ATTRIBUTE, rendered)
        try:
            position = 0
            while position < len(moves) and not out_of_time:
                group = moves[position:position + self._chorus_pro_render_group_size(
                    render_batch, started, time_budget, done + skipped)]
                position += len(group)
                if render_batch > 1:
                    self._chorus_pro_prerender_pdfs(group, namespace=ADVISORY_NAMESPACE)
                for move in group:
                    if time_budget and time.monotonic() - started >= time_budget and (done or skipped):
                        out_of_time = more = True
                        break
                    # Messages stored on the invoice are in the company's language (the cron has none).
                    outcome = move.with_context(lang=move._chorus_pro_lang())._chorus_pro_send_one(clients)
                    rendered.pop(move.id, None)
                    if outcome == "skipped":
                        skipped += 1
                    else:
                        done += 1
                rendered.clear()  # not taken (held, skipped, out of time): rendered again when their turn comes
                if render_batch > 1:
                    release_free_heap()  # the RSS stays flat over a pass of many groups
        finally:
            rendered.clear()
            if getattr(self.env.cr, RENDERED_ATTRIBUTE, None) is rendered:
                delattr(self.env.cr, RENDERED_ATTRIBUTE)
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

    @api.model
    def _chorus_pro_render_group_size(self, render_batch, started, time_budget, processed):
        """Invoices whose PDFs are rendered together next: ``render_batch``, fewer when the time budget left
        would not let the pass send them all (at the pace of the invoices processed so far), at least 1."""
        if not time_budget or not processed:
            return render_batch
        elapsed = time.monotonic() - started
        left = time_budget - elapsed
        return max(1, min(render_batch, int(left / (elapsed / processed)) + 1)) if elapsed > 0 else render_batch

    def _chorus_pro_send_one(self, clients):
        """Process one queued invoice. Returns "skipped", "sent", "settled", "waiting", "retry" or "error"."""
        self.ensure_one()
        if not job_lock.try_lock(self, ADVISORY_NAMESPACE):
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
                if held := self._chorus_pro_check_directory_before_deposit(client):
                    return held  # account_move_directory.py: the recipient's fresh directory entry says no
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
            job_lock.unlock(self, ADVISORY_NAMESPACE)

    def _chorus_pro_client(self, clients):
        company = self.company_id
        if company.id not in clients:
            clients[company.id] = company._chorus_pro_get_client()
        return clients[company.id]

    # --- build -----------------------------------------------------------------

    def _chorus_pro_build_file(self):
        """Build the Factur-X PDF (Odoo's exporter + the Chorus corrections) and validate it; or the CII / UBL
        XML when the invoice goes as a structured flow.

        :return: ``(pdf_bytes, filename, syntax)``
        :raises UserError: data problems (every one listed).
        """
        self.ensure_one()
        fmt = self._chorus_pro_flow_format()  # chorus_pro_flow_format.py: the recipient's, else the company's
        if fmt != "facturx":
            return self._chorus_pro_build_xml_file(fmt)  # account_move_chorus_xml.py: a CII or UBL XML flow
        import facturx

        from ..core import payload, validation  # noqa: TID252

        self._chorus_pro_raise_if_issues()
        builder = self.env["account.edi.xml.cii"]
        xml, odoo_constraints = builder._export_invoice(self)
        if odoo_constraints:
            _logger.debug("Odoo's Factur-X constraints on invoice %s (not blocking): %s", self.id, odoo_constraints)
        pdf = self._chorus_pro_render_pdf()  # account_move_chorus_render.py
        lang = (self.partner_id.lang or "fr_FR").replace("_", "-")
        try:
            facturx_pdf = facturx.generate_from_binary(
                pdf, xml, flavor="factur-x", level="en16931", check_xsd=False, lang=lang,
                attachments=self._chorus_pro_facturx_attachments(),  # supporting documents (account_move_documents)
                pdf_metadata={
                    "author": self.company_id.name,
                    "keywords": "Factur-X, Invoice",
                    "title": f"{self.company_id.name}: {self.name}",
                    "subject": f"Factur-X {self.name}",
                },
            )
        except Exception as err:  # noqa: BLE001 - factur-x raises bare exceptions
            raise UserError(_("The Factur-X file could not be built: %(error)s", error=str(err))) from err
        facturx_pdf = self._chorus_pro_pdfa(facturx_pdf)  # PDF/A-3 in structure (account_move_documents)
        broken = self._chorus_pro_broken_rules(facturx_pdf)
        if broken:
            raise UserError("\n".join([
                _("The Factur-X file of %(invoice)s breaks %(count)s rule(s); nothing was sent:",
                  invoice=self.name, count=len(broken)),
                *broken,
            ]))
        filename = payload.deposit_filename(self.name, validation.Format.FACTURX_PDF)
        syntax = payload.SYNTAX_BY_FORMAT[validation.Format.FACTURX_PDF]
        return facturx_pdf, filename, syntax

    def _chorus_pro_broken_rules(self, data):
        """The rules the file to deposit breaks (XSD, EN 16931 and French rules, Chorus routing, for the
        deposited buyer: account_move_qualification), one line each; empty when it may go."""
        self.ensure_one()
        requirements = self._chorus_pro_file_requirements()
        layout = self.company_id.chorus_pro_layout or "direct"
        return [
            f"- {finding.rule}: {finding.message}" + (f" ({finding.bt})" if finding.bt else "")
            for finding in validate_invoice_file(data, requirements, layout) if finding.severity == "error"
        ]

    def _chorus_pro_store_file(self, data, filename, syntax=None):
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
            syntax = self.chorus_pro_flow_syntax or payload.SYNTAX_BY_FORMAT[validation.Format.FACTURX_PDF]
        else:
            try:
                data, filename, syntax = self._chorus_pro_build_file()
            except PdfRenderError as err:  # account_move_chorus_render.py: queued again, rendered alone
                return self._chorus_pro_render_failed(err.args[0])
            except UserError as err:
                return self._chorus_pro_fail(err.args[0])
            self._chorus_pro_store_file(data, filename, syntax)

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
            if self._chorus_pro_account_refused(err, attempt_counted=True):  # company-level stop
                return "skipped"
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
            vals["chorus_pro_deposit_uncertain"] = True
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
        """The Chorus Pro invoice that is this one (same number, buyer, supplier and type, same amount
        including tax and date), or None."""
        self.ensure_one()
        summary, is_ours = self._chorus_pro_find_original(client)
        return summary if is_ours else None

    def _chorus_pro_find_original(self, client):
        """What Chorus Pro holds under this invoice's number for this supplier: ``(summary, is_ours)``
        (``delivery.find_original``): ``is_ours`` only when buyer, type, amount and date match too."""
        self.ensure_one()
        return delivery.find_original(
            client.search_invoices(invoice_number=self.name),
            self.name,
            # the parties Chorus Pro holds: the test ones after a qualification deposit (account_move_qualification)
            buyer_siret=self._chorus_pro_deposited_sirets()[0],
            supplier_siret=self._chorus_pro_deposited_sirets()[1],
            invoice_type="AVOIR" if self.move_type == "out_refund" else "FACTURE",
            amount_ttc=self.amount_total,
            invoice_date=self.invoice_date,
        )

    def _chorus_pro_flow_pending(self, client):
        """Whether the flow of the earlier deposit is known and Chorus Pro still shows it in processing
        (then no new deposit, whatever the settle delay). Unknown after a cut connection: the answer that
        carried the flow number was lost."""
        self.ensure_one()
        if not self.chorus_pro_flow_number or self.chorus_pro_flow_state in (FLOW_INTEGRATED, *FLOW_FINAL):
            return False
        try:
            report = client.flow_report(self.chorus_pro_flow_number)
        except ChorusError:
            return True  # cannot be asked now: wait
        return report.state not in (FLOW_INTEGRATED, *FLOW_FINAL)

    def _chorus_pro_settle(self, client):
        """The invoice is ``sending`` without a flow number: did the last deposit reach Chorus Pro?

        :return: "settled" (found: adopted), "waiting" (not found yet, settle delay not over, or
            Chorus Pro could not be asked) or "deposit_again".
        """
        self.ensure_one()
        if not self.chorus_pro_deposit_uncertain:
            self._chorus_pro_write({"chorus_pro_deposit_uncertain": True})  # e.g. a worker stopped mid-deposit
        try:
            summary = self._chorus_pro_find_deposited(client)
        except ChorusError as err:
            if self._chorus_pro_account_refused(err):  # company-level stop
                return "skipped"
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
        flow_pending = elapsed >= settle.total_seconds() and self._chorus_pro_flow_pending(client)
        if delivery.settle_decision(False, elapsed, settle.total_seconds(), flow_pending=flow_pending) == "wait":
            # Looked up again at growing intervals: a first deposit integrated late is adopted soon after.
            poll = delivery.settle_poll_delay(elapsed, settle.total_seconds())
            self.write({"chorus_pro_next_try": fields.Datetime.now() + timedelta(seconds=max(poll, MIN_RETRY_SECONDS))})
            self._chorus_pro_commit()
            return "waiting"
        self._message_log(body=_(
            "Chorus Pro does not have this invoice %(delay)s minutes after the uncertain deposit: it is deposited "
            "again. Should Chorus Pro still be processing the first deposit, it will refuse one of the two as a "
            "duplicate: that is expected, it confirms that Chorus Pro has the invoice.",
            delay=int(settle.total_seconds() // 60),
        ))
        return "deposit_again"
