"""Complete an invoice the buyer suspended on Chorus Pro (status ``SUSPENDUE``): a comment and files.

The files are checked against Chorus Pro's limits as soon as they are chosen (every problem at
once, in words); "Complete" queues the completion, which the job sends exactly once
(``models/chorus_pro_completion.py``).
"""

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools.translate import LazyTranslate

from ..core.attachments import check_attachments  # noqa: TID252
from ..core.client_completion import COMMENT_MAX_LENGTH  # noqa: TID252

_lt = LazyTranslate(__name__)

# core.attachments problem code -> translated sentence (same placeholders as the core's message).
PROBLEMS = {
    "name_missing": _lt("A file has no name: Chorus Pro needs a name with an extension."),
    "extension_missing": _lt(
        "%(filename)s has no extension: rename it (for example with .pdf) so that Chorus Pro knows its type."
    ),
    "extension_not_allowed": _lt("%(filename)s: Chorus Pro refuses .%(extension)s files. Accepted types: %(allowed)s."),
    "name_too_long": _lt(
        "%(filename)s: its name has %(length)s characters, Chorus Pro takes at most %(max)s (extension included)."
    ),
    "file_too_large": _lt("%(filename)s weighs %(size)s, more than the %(max)s Chorus Pro takes per file."),
    "total_too_large": _lt(
        "The %(count)s files weigh %(size)s together, more than the %(max)s Chorus Pro takes per invoice."
    ),
}


class ChorusProComplete(models.TransientModel):
    _name = "chorus.pro.complete"
    _description = "Complete a suspended invoice on Chorus Pro"

    move_id = fields.Many2one("account.move", string="Invoice", required=True, readonly=True, ondelete="cascade")
    status_comment = fields.Text(string="Reason given", related="move_id.chorus_pro_error")
    comment = fields.Text(string="Comment", help="Sent to the buyer with the documents (at most 2,000 characters).")
    attachment_ids = fields.Many2many(
        "ir.attachment", "chorus_pro_complete_upload_rel", "wizard_id", "attachment_id", string="New Files",
        help="Supporting documents to upload (delivery note, certificate of service done, timesheet...).",
    )
    document_ids = fields.Many2many(
        "ir.attachment", "chorus_pro_complete_document_rel", "wizard_id", "attachment_id",
        string="Files of the Invoice",
        domain="[('res_model', '=', 'account.move'), ('res_id', '=', move_id)]",
        help="Files already attached to the invoice (chatter) to send as well.",
    )
    problems = fields.Text(compute="_compute_problems")

    @api.depends("attachment_ids", "document_ids", "comment")
    def _compute_problems(self):
        for wizard in self:
            wizard.problems = "\n".join(wizard._problems()) or False

    def _files(self):
        return (self.attachment_ids | self.document_ids).sudo()

    def _problems(self):
        problems = []
        for problem in check_attachments((a.name or "", a.file_size or 0) for a in self._files()):
            template = PROBLEMS.get(problem.code)
            if template is None:
                problems.append(str(problem))
                continue
            message = self.env._(template)
            problems.append(message % problem.params)
        if len((self.comment or "").strip()) > COMMENT_MAX_LENGTH:
            problems.append(self.env._("The comment has %(length)s characters; Chorus Pro takes at most %(max)s.",
                                       length=len(self.comment.strip()), max=COMMENT_MAX_LENGTH))
        return problems

    def action_complete(self):
        self.ensure_one()
        problems = self._problems()
        if problems:
            raise UserError("\n".join([self.env._("These files cannot be sent to Chorus Pro:"),
                                       *(f"- {p}" for p in problems)]))
        self.move_id._chorus_pro_queue_completion(self.comment, self._files())
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Completion queued"),
                "message": self.env._("The documents are sent to Chorus Pro in the background, exactly once; the "
                                      "invoice shows the buyer's next status after the next status update."),
                "type": "success",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
