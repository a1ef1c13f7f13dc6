"""Completing a suspended invoice on Chorus Pro (``SUSPENDUE`` → ``completerFacture``), exactly once.

The wizard "Complete on Chorus Pro" creates one ``chorus.pro.completion`` (comment + files) and
triggers the job ``ir_cron_chorus_pro_complete``; no network call happens in the user's
transaction. The job, one completion at a time under a session advisory lock (like the send job):

1. uploads the files not uploaded yet (``ajouterFichierDansSysteme``) and keeps their
   ``pieceJointeId`` (uploading again after a failure only leaves an orphan file on the platform);
2. marks the completion ``completing`` and commits: from then on a completion may exist;
3. calls ``completerFacture``. Success: ``done``, a chatter entry with the files, and the status
   sync is triggered (it brings Chorus Pro's next status and closes the to-do).
   Unknown outcome (timeout, cut connection, worker killed): it stays ``completing``; the next
   run reads the invoice's history first (``core.completion.settle_completion``) and calls again
   only if the invoice is still ``SUSPENDUE`` without a ``COMPLETEE`` entry since its suspension.
   Refused (wrong status, unknown invoice, file refused): ``error`` with the reason in words.
"""

import json
import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.translate import LazyTranslate

from ..core import completion, delivery, technical_account  # noqa: TID252
from ..core.errors import ChorusError  # noqa: TID252
from . import chorus_pro_job_lock as job_lock
from .chorus_pro_messages import _Params

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

# Session advisory lock namespace ("CPR1"), held across the commits of one completion.
ADVISORY_NAMESPACE = 0x43505231
BATCH_SIZE = 20
MAX_ATTEMPTS = 8
PENDING_STATES = ("to_send", "completing")

# Codes of core.client_completion's refusals -> what they mean for the user.
MESSAGES = {
    "completion_wrong_status": _lt(
        "Chorus Pro refused the completion: the invoice is no longer suspended (%(chorus_label)s). Its current "
        "status comes back with the next status update."
    ),
    "completion_unknown_invoice": _lt(
        "Chorus Pro does not know this invoice (Chorus Pro ID %(chorus_id)s, %(chorus_label)s)."
    ),
    "completion_not_allowed": _lt(
        "Chorus Pro refused the completion: the technical account may not complete this invoice "
        "(%(chorus_label)s). Attach the technical account to the supplier structure on the Chorus Pro portal."
    ),
    "completion_refused": _lt("Chorus Pro refused the completion (code %(chorus_code)s): %(chorus_label)s"),
    "attachment_refused": _lt("Chorus Pro refused the file %(file_name)s (code %(chorus_code)s): %(chorus_label)s"),
}


class ChorusProCompletion(models.Model):
    _name = "chorus.pro.completion"
    _description = "Completion of a suspended invoice on Chorus Pro"
    _order = "id desc"

    move_id = fields.Many2one("account.move", string="Invoice", required=True, readonly=True, index=True,
                              ondelete="cascade")
    company_id = fields.Many2one(related="move_id.company_id", store=True)
    comment = fields.Text(string="Comment", readonly=True)
    attachment_ids = fields.Many2many("ir.attachment", "chorus_pro_completion_attachment_rel", "completion_id",
                                      "attachment_id", string="Files", readonly=True)
    state = fields.Selection(
        [
            ("to_send", "Queued"),
            ("completing", "Completing"),
            ("done", "Completed"),
            ("cancelled", "Not needed"),
            ("error", "Refused"),
        ],
        string="State", default="to_send", required=True, readonly=True, index=True,
    )
    uploaded = fields.Text(readonly=True, help="pieceJointeId of each uploaded file (JSON: attachment id -> id).")
    started = fields.Datetime(string="Sent On", readonly=True)
    done_date = fields.Datetime(string="Completed On", readonly=True)
    attempts = fields.Integer(readonly=True)
    next_try = fields.Datetime(string="Next Try", readonly=True, index=True)
    error = fields.Text(string="Message", readonly=True)

    # ------------------------------------------------------------------
    # Job
    # ------------------------------------------------------------------

    @api.model
    def _chorus_pro_domain(self):
        now = fields.Datetime.now()
        domain = [("state", "in", PENDING_STATES), "|", ("next_try", "=", False), ("next_try", "<=", now)]
        stopped = self.env["res.company"]._chorus_pro_stopped_companies()  # refused technical account
        if stopped:
            domain.append(("company_id", "not in", stopped.ids))
        return domain

    @api.model
    def _cron_chorus_pro_complete(self, batch_size=BATCH_SIZE):
        """Send the queued completions to Chorus Pro (cron ``ir_cron_chorus_pro_complete``)."""
        records = self.search(self._chorus_pro_domain(), order="id", limit=batch_size + 1)
        more = len(records) > batch_size
        clients = {}
        done = 0
        try:
            for record in records[:batch_size]:
                lang = record.move_id._chorus_pro_lang()
                if record.with_context(lang=lang)._chorus_pro_process(clients) != "skipped":
                    done += 1
        finally:
            if self._chorus_pro_can_commit():
                self.env.cr.rollback()
            self.env.cr.execute("SELECT pg_advisory_unlock_all()")
            for client in clients.values():
                if not isinstance(client, Exception):
                    client.close()
        remaining = self.search_count(self._chorus_pro_domain()) if more else 0
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        if remaining:
            self.env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_complete")._trigger()
        return done

    @api.model
    def _chorus_pro_can_commit(self):
        return self.env["account.move"]._chorus_pro_can_commit()

    def _chorus_pro_commit(self):
        if self._chorus_pro_can_commit():
            self.env.cr.commit()  # pylint: disable=invalid-commit  # guarded: each step of the job is durable

    def _chorus_pro_process(self, clients):
        """One completion. Returns "skipped", "done", "settled", "waiting", "retry" or "error"."""
        self.ensure_one()
        if not job_lock.try_lock(self, ADVISORY_NAMESPACE):
            return "skipped"
        try:
            self.invalidate_recordset()
            now = fields.Datetime.now()
            if self.state not in PENDING_STATES or (self.next_try and self.next_try > now):
                return "skipped"
            company = self.company_id
            if company._chorus_pro_sending_stopped():
                return "skipped"
            if company.id not in clients:
                try:
                    clients[company.id] = company._chorus_pro_get_client()
                except UserError as err:
                    clients[company.id] = err
            client = clients[company.id]
            if isinstance(client, UserError):  # settings missing or unusable: a person must act
                return self._chorus_pro_failed(client.args[0], "refused")
            try:
                return self._chorus_pro_complete(client)
            except ChorusError as err:
                if technical_account.is_account_suspected(err):
                    if company._chorus_pro_account_suspected(err):
                        # Nothing was taken (PISTE refused it): the company-level stop says why; the completion
                        # waits, counting no attempt, until a check of the account passes.
                        self._chorus_pro_commit()
                        return "skipped"
                    # The account's check passed (or could not be made): a failure that may pass.
                    return self._chorus_pro_failed(self._chorus_pro_error_text(err), "retry")
                kind = completion.classify_completion_failure(err)
                return self._chorus_pro_failed(self._chorus_pro_error_text(err), kind,
                                               getattr(err, "retry_after", None))
            except Exception as err:  # noqa: BLE001 - one completion never stops the others
                _logger.exception("Chorus Pro: unexpected error while completing invoice %s", self.move_id.id)
                if self._chorus_pro_can_commit():
                    self.env.cr.rollback()
                self.invalidate_recordset()
                return self._chorus_pro_failed(
                    _("Unexpected error while completing the invoice on Chorus Pro: %(error)s",
                      error=str(err) or repr(err)), "retry")
        finally:
            job_lock.unlock(self, ADVISORY_NAMESPACE)

    def _chorus_pro_error_text(self, err):
        template = MESSAGES.get(err.code)
        if template is None:
            return self.move_id._chorus_pro_error_text(err)
        message = self.env._(template)
        return message % _Params({**err.params, "chorus_id": self.move_id.chorus_pro_invoice_id})

    def _chorus_pro_complete(self, client):
        from ..core.client_completion import complete_invoice  # noqa: TID252

        move = self.move_id
        chorus_id = int(move.chorus_pro_invoice_id)
        previous_state = self.state
        if self.state == "completing":
            # The answer of an earlier completerFacture was lost: ask the history before anything else.
            settlement = completion.settle_completion(client.invoice_history(chorus_id))
            if settlement.done:
                return self._chorus_pro_settled(settlement)
            move._message_log(body=_(
                "Chorus Pro's history shows no completion of the invoice since its suspension: it is completed "
                "again."))
        files = self._chorus_pro_upload(client)
        # The point of no return: once committed, a later run settles the outcome from the history.
        self.write({"state": "completing", "started": fields.Datetime.now(), "attempts": self.attempts + 1})
        self._chorus_pro_commit()
        try:
            result = complete_invoice(client, chorus_id, files, self.comment)
        except ChorusError as err:
            if technical_account.is_account_suspected(err):  # PISTE refused it before Chorus Pro took it
                self.write({"state": previous_state, "attempts": self.attempts - 1})
            raise
        self.write({"state": "done", "done_date": fields.Datetime.now(), "next_try": False, "error": False})
        names = ", ".join(self.attachment_ids.mapped("name")) or "-"
        body = Markup("%s") % _("Completed on Chorus Pro (%(date)s) with %(count)s file(s): %(files)s.",
                                date=result.processed_at.strftime("%Y-%m-%d %H:%M") if result.processed_at else "-",
                                count=len(self.attachment_ids), files=names)
        if self.comment:
            body += Markup("<br/>") + _("Comment: %(comment)s", comment=self.comment)
        move._message_log(body=body, attachment_ids=self.attachment_ids.ids)
        self._chorus_pro_commit()
        self.env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_sync")._trigger()  # the next status comes back
        return "done"

    def _chorus_pro_upload(self, client):
        """``ajouterFichierDansSysteme`` for each file not uploaded yet; the ids are kept (and committed)."""
        from ..core.attachments import mime_type  # noqa: TID252
        from ..core.client_completion import UploadedFile, upload_attachment  # noqa: TID252

        uploaded = json.loads(self.uploaded or "{}")
        files = []
        for attachment in self.attachment_ids:
            key = str(attachment.id)
            name = attachment.name
            mime = mime_type(name)
            if key not in uploaded:
                item = upload_attachment(client, name, attachment.raw or b"", mime)
                uploaded[key] = item.attachment_id
                self.uploaded = json.dumps(uploaded)
                self._chorus_pro_commit()
            extension = name.rpartition(".")[2].upper()
            files.append(UploadedFile(attachment_id=int(uploaded[key]), name=name, mime_type=mime,
                                      extension=extension))
        return files

    def _chorus_pro_settled(self, settlement):
        move = self.move_id
        if settlement.kind == "completed":
            self.write({"state": "done", "done_date": fields.Datetime.now(), "next_try": False, "error": False})
            move._message_log(body=_(
                "Chorus Pro's history shows the invoice completed: the earlier completion went through, it is not "
                "sent again."))
            self.env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_sync")._trigger()
            outcome = "settled"
        else:
            message = _("The invoice is no longer suspended on Chorus Pro (status %(status)s): it was not completed.",
                        status=settlement.status)
            self.write({"state": "cancelled", "next_try": False, "error": message})
            move._message_log(body=message)
            outcome = "cancelled"
        self._chorus_pro_commit()
        return outcome

    def _chorus_pro_failed(self, message, kind, retry_after=None):
        """Record a failure (never raises) and commit. ``kind``: uncertain, retry or refused."""
        self.ensure_one()
        vals = {"error": message}
        delay = delivery.next_attempt_delay(max(self.attempts, 1), retry_after)
        if kind == "uncertain" or (kind == "retry" and self.state == "completing"):
            vals.update(state="completing", next_try=fields.Datetime.now() + timedelta(seconds=delay))
            outcome = "waiting"
            self.move_id._message_log(body=_(
                "Chorus Pro: %(error)s The invoice's history is read before anything is sent again.", error=message))
        elif kind == "retry" and self.attempts < MAX_ATTEMPTS:
            # Nothing was taken (an upload or the call failed before Chorus Pro had it): count the attempt.
            vals.update(state="to_send", attempts=self.attempts + 1,
                        next_try=fields.Datetime.now() + timedelta(seconds=delay))
            outcome = "retry"
        else:
            vals.update(state="error", next_try=False)
            outcome = "error"
            self.move_id._message_log(body=Markup("%s<br/>%s") % (
                _("Not completed on Chorus Pro:"), Markup("<br/>").join(message.splitlines())))
        self.write(vals)
        self._chorus_pro_commit()
        return outcome
