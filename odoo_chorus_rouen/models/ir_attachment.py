"""Supporting documents: an invoice's attachment marked "send to Chorus Pro".

A marked file travels embedded in the invoice's Factur-X at the deposit (see
``account_move_documents.py``). Chorus Pro's limits (``core.attachments``) are checked when a file
is marked, renamed or replaced, every problem at once and in words; they are checked again
before the deposit.
"""

import re

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import formatLang
from odoo.tools.translate import LazyTranslate

from ..core.attachments import MIB  # noqa: TID252

_lt = LazyTranslate(__name__)

SIZE_RE = re.compile(r"(\d+(?:\.\d+)?) (bytes|KB|MB)")  # what core.attachments.format_size writes

# core.attachments problem code -> translated message (same placeholders as the core's English text).
ATTACHMENT_MESSAGES = {
    "name_missing": _lt("A file without a name cannot be sent to Chorus Pro: give it a name with an extension."),
    "extension_missing": _lt(
        "%(filename)s: the name has no extension; Chorus Pro needs one to know the file type "
        "(for example .pdf). Rename the file."
    ),
    "extension_not_allowed": _lt(
        "%(filename)s: Chorus Pro does not accept .%(extension)s files. Accepted: %(allowed)s."
    ),
    "name_too_long": _lt(
        "%(filename)s: the name has %(length)s characters; Chorus Pro accepts at most %(max)s, "
        "extension included. Rename the file."
    ),
    "file_too_large": _lt("%(filename)s: the file weighs %(size)s; Chorus Pro accepts at most %(max)s per file."),
    "total_too_large": _lt(
        "Together the %(count)s files weigh %(size)s; Chorus Pro accepts at most %(max)s of "
        "attached files per invoice. Send fewer or smaller files."
    ),
}


def size_text(env, size):
    """A size in bytes in words, in the user's language (MiB-based like Chorus Pro's limits)."""
    if size < 1024:
        return env._("%(size)s bytes", size=size)
    unit = env._("KB") if size < MIB else env._("MB")
    value = size / 1024 if size < MIB else size / MIB
    return f"{formatLang(env, value, digits=1)} {unit}"


def _localized_params(env, params):
    """The problem's parameters, with its sizes (``core.attachments.format_size`` English text) in words."""
    result = dict(params)
    for key, value in params.items():
        match = SIZE_RE.fullmatch(str(value))
        if match:
            number, unit = float(match.group(1)), match.group(2)
            result[key] = size_text(env, round(number * {"bytes": 1, "KB": 1024, "MB": MIB}[unit]))
    return result


def attachment_problem_text(env, problem):
    """The translated sentence of a ``core.attachments.AttachmentProblem``."""
    template = ATTACHMENT_MESSAGES.get(problem.code)
    if template is None:
        return str(problem)
    message = env._(template)
    return message % _localized_params(env, problem.params)


# BT-123 of a supporting document (BG-24): the French rule BR-FR-17 (fatal) allows only these codes
# (XP Z12-012 list, in the BR-FR Flux 2 Schematron of the factur-x library). "LISIBLE" (the readable
# copy of the invoice) and "FEUILLE_DE_STYLE" (a style sheet) are not supporting documents: not offered.
DOCUMENT_TYPES = [
    ("PJA", "Supporting document"),
    ("BON_LIVRAISON", "Delivery note"),
    ("BON_COMMANDE", "Purchase order"),
    ("DOCUMENT_ANNEXE", "Annex"),
    ("BORDEREAU_SUIVI", "Tracking statement"),
    ("BORDEREAU_SUIVI_VALIDATION", "Validated tracking statement"),
    ("ETAT_ACOMPTE", "Down payment statement"),
    ("RECAPITULATIF_COTRAITANCE", "Co-contracting summary"),
    ("FACTURE_PAIEMENT_DIRECT", "Direct payment invoice"),
    ("RIB", "Bank details (RIB)"),
]
DEFAULT_DOCUMENT_TYPE = "PJA"
# Fields of a sent supporting document that would make the list of what was sent lie.
PROTECTED_FIELDS = {"name", "raw", "datas", "db_datas", "store_fname", "res_model", "res_id", "type", "url"}


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    chorus_pro_send = fields.Boolean(
        string="Chorus Pro Supporting Document",
        copy=False,
        help="Supporting document of the invoice: embedded in the Factur-X deposited on Chorus Pro (BG-24).",
    )
    chorus_pro_document_type = fields.Selection(
        DOCUMENT_TYPES,
        string="Chorus Pro Document Type",
        default=DEFAULT_DOCUMENT_TYPE,
        help="What the document is, as Chorus Pro names it (BT-123 of the invoice's BG-24).",
    )
    chorus_pro_size = fields.Char(string="Size", compute="_compute_chorus_pro_size")
    chorus_pro_sent_on = fields.Datetime(
        string="Sent On",
        compute="_compute_chorus_pro_sent_on",
        help="When the invoice this supporting document travelled with was deposited on Chorus Pro.",
    )

    @api.depends("file_size")
    def _compute_chorus_pro_size(self):
        for attachment in self:
            attachment.chorus_pro_size = size_text(self.env, attachment.file_size or 0)

    def _compute_chorus_pro_sent_on(self):
        for attachment in self:
            move = attachment._chorus_pro_moves() if attachment.chorus_pro_send else None
            attachment.chorus_pro_sent_on = (
                move.chorus_pro_deposit_date if move and not move._chorus_pro_documents_editable() else False
            )

    def _chorus_pro_moves(self):
        """The invoices these attachments belong to."""
        ids = {attachment.res_id for attachment in self if attachment.res_model == "account.move" and attachment.res_id}
        return self.env["account.move"].browse(sorted(ids)).exists()

    @api.constrains("chorus_pro_send", "name", "file_size", "type", "res_model", "res_id")
    def _check_chorus_pro_send(self):
        marked = self.filtered("chorus_pro_send")
        if not marked:
            return
        for attachment in marked:
            if attachment.res_model != "account.move" or not attachment.res_id:
                raise ValidationError(_(
                    "%(file)s: only the files attached to an invoice can be sent to Chorus Pro.",
                    file=attachment.name,
                ))
        blocks = []
        for move in marked._chorus_pro_moves():
            if not move._chorus_pro_is_recipient_invoice():
                blocks.append(_(
                    "%(invoice)s is not addressed to a Chorus Pro recipient: its files cannot be sent to Chorus Pro.",
                    invoice=move.display_name,
                ))
                continue
            problems = move._chorus_pro_document_problems()
            if problems:
                blocks.append("\n".join([
                    _("These files cannot be sent to Chorus Pro with %(invoice)s:", invoice=move.display_name),
                    *(f"- {problem}" for problem in problems),
                ]))
        if blocks:
            raise ValidationError("\n\n".join(blocks))

    def _chorus_pro_check_not_deposited(self):
        """Marking (or unmarking) changes nothing once the invoice is on its way: say so."""
        for move in self._chorus_pro_moves():
            if not move._chorus_pro_documents_editable():
                raise ValidationError(_(
                    "%(invoice)s is already deposited on Chorus Pro (or being deposited): its supporting documents "
                    "travelled with it. Files can only be added before the deposit.",
                    invoice=move.display_name,
                ))

    @api.model_create_multi
    def create(self, vals_list):
        attachments = super().create(vals_list)
        attachments.filtered("chorus_pro_send")._chorus_pro_check_not_deposited()
        return attachments

    def _chorus_pro_sent(self):
        """The marked attachments whose invoice is deposited (or being deposited): what Chorus Pro received."""
        marked = self.filtered(lambda a: a.chorus_pro_send and a.res_model == "account.move" and a.res_id)
        deposited = marked._chorus_pro_moves().filtered(lambda move: not move._chorus_pro_documents_editable())
        return marked.filtered(lambda a: a.res_id in deposited.ids)

    def write(self, vals):
        if "chorus_pro_send" in vals:
            changed = self.filtered(lambda a: a.chorus_pro_send != bool(vals["chorus_pro_send"]))
            changed._chorus_pro_check_not_deposited()
        if PROTECTED_FIELDS.intersection(vals):
            self._chorus_pro_sent()._chorus_pro_refuse_change()
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_chorus_pro_sent(self):
        self._chorus_pro_sent()._chorus_pro_refuse_change()

    def _chorus_pro_refuse_change(self):
        if self:
            raise ValidationError(_(
                "%(files)s travelled to Chorus Pro with the invoice: kept as sent, it cannot be renamed, replaced "
                "or deleted.", files=", ".join(self.mapped("name")),
            ))
