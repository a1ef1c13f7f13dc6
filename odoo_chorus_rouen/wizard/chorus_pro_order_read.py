"""Read the buyer's purchase order into a draft invoice (the sale bridge adds quotations and sales orders).

The person picks the order among the record's attachments or uploads it; ``core.purchase_order`` reads
it (PDF text layer, Order-X or UBL Order; a scan is refused in words). The wizard then lists every
value found with where it was read, how sure it is and why, the candidates ranked below and what was
not found, beside what the record holds now. A value is ticked for the record only when it was
chosen without doubt and the record has nothing else there: a different value already typed, an
ambiguous or an unsure value waits for the person's click. "Apply" writes the ticked values (the
recipient is the Chorus Pro recipient contact with the SIRET read), attaches the order to the record
and, on an invoice, can mark it as a supporting document sent with it to Chorus Pro.
"""

import base64
import binascii

from markupsafe import Markup, escape

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from ..core.budgets import compact_siret, format_siret  # noqa: TID252
from ..core.errors import InputError  # noqa: TID252
from ..core.purchase_order import Recipient, read_order  # noqa: TID252
from .chorus_pro_order_read_messages import MISSING, REASONS, REFUSALS

FIELD_SELECTION = [
    ("siret", "Recipient (SIRET)"),
    ("engagement", "Engagement Number"),
    ("service_code", "Service Code"),
    ("contract", "Contract"),
    ("order_number", "Order Number"),
    ("order_date", "Order Date"),
    ("totals", "Totals"),
]
CONFIDENCE_SELECTION = [("high", "High"), ("medium", "Medium"), ("low", "Low")]
STATUS_SELECTION = [
    ("chosen", "Found"),
    ("candidate", "Ranked below"),
    ("ambiguous", "To choose"),
    ("excluded", "Not usable"),
]
#: Candidates shown per value at most (the rest is in the chatter-free JSON of chorus-rouen read-order).
MAX_CANDIDATES = 6
EVIDENCE_CHARS = 160
ORDER_EXTENSIONS = (".pdf", ".xml")


class ChorusProOrderRead(models.TransientModel):
    _name = "chorus.pro.order.read"
    _description = "Read a Purchase Order"

    move_id = fields.Many2one("account.move", string="Invoice", readonly=True, ondelete="cascade")
    state = fields.Selection([("choose", "Choose the order"), ("review", "Review")], default="choose", required=True)
    attachment_ids = fields.Many2many("ir.attachment", compute="_compute_attachment_ids")
    attachment_id = fields.Many2one(
        "ir.attachment", string="Attached Order", domain="[('id', 'in', attachment_ids)]",
        help="A PDF or XML file already attached to the record.",
    )
    upload = fields.Binary(string="Or Upload It", attachment=False, help="The order as the buyer sent it (PDF, "
                           "Order-X or UBL Order XML); it is attached to the record when the values are applied.")
    upload_name = fields.Char(string="Uploaded File Name")
    source_name = fields.Char(string="Order File", readonly=True)
    source_summary = fields.Char(string="Read From", readonly=True)
    line_ids = fields.One2many("chorus.pro.order.read.line", "wizard_id", string="Values Found")
    missing_text = fields.Text(string="Not Found", readonly=True)
    attach_order = fields.Boolean(string="Attach the Order", default=True,
                                  help="Attach the uploaded order to the record.")
    mark_supporting = fields.Boolean(
        string="Send It to Chorus Pro With the Invoice",
        help="Mark the order as a supporting document of the invoice (type: purchase order): it travels embedded "
        "in the Factur-X deposited on Chorus Pro.",
    )
    can_mark_supporting = fields.Boolean(compute="_compute_can_mark_supporting")

    # ------------------------------------------------------------------
    # The record the values go to (the sale bridge adds sales orders)
    # ------------------------------------------------------------------

    def _chorus_pro_target(self):
        self.ensure_one()
        return self.move_id

    def _chorus_pro_check_target(self):
        """Refuse a record that cannot take the values (a posted invoice...)."""
        move = self.move_id
        if not move:
            raise UserError(_("Open this from a draft invoice."))
        if move.move_type not in ("out_invoice", "out_refund"):
            raise UserError(_("Only a customer invoice or credit note can take the values of a purchase order."))
        if move.state != "draft":
            raise UserError(_(
                "%(invoice)s is not a draft any more: only a draft invoice takes the values of a purchase order.",
                invoice=move.display_name,
            ))

    def _chorus_pro_target_fields(self):
        """Value read -> field of the record it goes to."""
        return {
            "siret": "partner_id",
            "engagement": "purchase_order_reference",
            "service_code": "buyer_reference",
            "contract": "contract_reference",
        }

    def _chorus_pro_current_partner(self):
        return self.move_id.partner_id

    def _chorus_pro_write(self, values):
        """Write the ticked values (``{field of the record: value}``) on the record."""
        self.move_id.write(values)

    # ------------------------------------------------------------------
    # Computes and defaults
    # ------------------------------------------------------------------

    @api.model
    def _chorus_pro_order_attachments(self, target):
        """The PDF and XML files attached to the record, newest first."""
        if not target:
            return self.env["ir.attachment"]
        attachments = self.env["ir.attachment"].search(
            [("res_model", "=", target._name), ("res_id", "=", target.id), ("type", "=", "binary")], order="id desc",
        )
        return attachments.filtered(lambda a: (a.name or "").lower().endswith(ORDER_EXTENSIONS))

    @api.depends("move_id")
    def _compute_attachment_ids(self):
        for wizard in self:
            wizard.attachment_ids = self._chorus_pro_order_attachments(wizard._chorus_pro_target()._origin)

    @api.depends("move_id")
    def _compute_can_mark_supporting(self):
        for wizard in self:
            wizard.can_mark_supporting = bool(wizard.move_id)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if "attachment_id" in fields_list and not values.get("attachment_id"):
            target = self.new(values)._chorus_pro_target()._origin
            values["attachment_id"] = self._chorus_pro_order_attachments(target)[:1].id
        return values

    def _chorus_pro_reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": _("Read the Purchase Order"),
        }

    # ------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------

    def _chorus_pro_order_file(self):
        """``(bytes, file name)`` of the order: the upload, else the chosen attachment."""
        self.ensure_one()
        if self.upload:
            try:
                return base64.b64decode(self.upload), self.upload_name or _("uploaded order")
            except (binascii.Error, ValueError) as err:
                raise UserError(_("The uploaded file cannot be read: upload it again.")) from err
        if self.attachment_id:
            return self.attachment_id.raw or b"", self.attachment_id.name
        raise UserError(_("Choose the order among the attached files, or upload it."))

    def _chorus_pro_recipients(self):
        """The company's Chorus Pro recipients by SIRET (with their active services when the directory was read)."""
        target = self._chorus_pro_target()
        partners = self.env["res.partner"].search([
            ("chorus_pro_recipient", "=", True), ("siret", "!=", False),
            ("company_id", "in", [False, target.company_id.id]),
        ])
        routing = self.env["chorus.pro.routing"]
        recipients = {}
        for partner in partners:
            siret = compact_siret(partner.siret)
            if siret in recipients:
                continue
            codes = routing.active_service_codes(partner)
            recipients[siret] = Recipient(siret, partner.name or partner.display_name,
                                          frozenset(codes) if codes is not None else None)
        return recipients

    def _chorus_pro_match_partner(self, siret):
        """The recipient contact with this SIRET, preferring one of the record's customer."""
        target = self._chorus_pro_target()
        partners = self.env["res.partner"].search([
            ("chorus_pro_recipient", "=", True), ("company_id", "in", [False, target.company_id.id]),
        ]).filtered(lambda partner: compact_siret(partner.siret or "") == siret)
        customer = self._chorus_pro_current_partner().commercial_partner_id
        own = partners.filtered(lambda partner: partner.commercial_partner_id == customer)
        return (own or partners)[:1]

    def _chorus_pro_refusal(self, err, name):
        text = self._chorus_pro_render(REFUSALS.get(err.code), err.params, err.message)
        return _("%(file)s: %(reason)s", file=name, reason=text)

    def action_read(self):
        self.ensure_one()
        self._chorus_pro_check_target()
        data, name = self._chorus_pro_order_file()
        company = self._chorus_pro_target().company_id
        try:
            reading = read_order(data, recipients=self._chorus_pro_recipients(), own_sirets=[company.siret or ""],
                                 name=name)
        except InputError as err:
            raise UserError(self._chorus_pro_refusal(err, name)) from err
        summary = reading.source
        if reading.pages:
            summary = _("%(kind)s, %(count)s page(s)", kind=summary, count=reading.pages)
        self.write({
            "state": "review",
            "source_name": name,
            "source_summary": summary,
            "line_ids": [Command.clear()] + [Command.create(values) for values in self._chorus_pro_lines(reading)],
            "missing_text": self._chorus_pro_missing_text(reading),
        })
        return self._chorus_pro_reopen()

    # ------------------------------------------------------------------
    # What was read, in the person's language
    # ------------------------------------------------------------------

    def _chorus_pro_render(self, template, params, fallback):
        """A translated message of the reader with its parameters (the core's English text if it has none)."""
        if template is None:
            return fallback
        message = self.env._(template)
        try:
            return message % {key: value for key, value in dict(params).items() if value is not None}
        except (KeyError, TypeError, ValueError):
            return fallback

    def _chorus_pro_reason_text(self, item):
        return self._chorus_pro_render(REASONS.get(item.code), item.params, item.text)

    def _chorus_pro_evidence_text(self, evidence):
        text = " ".join(evidence.text.split())
        if len(text) > EVIDENCE_CHARS:
            text = text[:EVIDENCE_CHARS - 1] + "\u2026"
        if evidence.source == "pdf":
            if evidence.line_end:
                where = _("page %(page)s, lines %(line)s-%(end)s", page=evidence.page, line=evidence.line,
                          end=evidence.line_end)
            else:
                where = _("page %(page)s, line %(line)s", page=evidence.page, line=evidence.line)
        else:
            where = _("%(file)s line %(line)s", file=evidence.source, line=evidence.line or "?")
        result = f"{where}: \u201c{text}\u201d"
        pages = sorted({place.page for place in evidence.also if place.page and place.page != evidence.page})
        if pages:
            result += " " + _("(also page %(pages)s)", pages=", ".join(str(page) for page in pages))
        return result

    def _chorus_pro_totals_display(self, value):
        labels = {"untaxed": _("%(amount)s excl. tax"), "tax": _("%(amount)s VAT"),
                  "with_tax": _("%(amount)s incl. tax")}
        currency = f" {value['currency']}" if value.get("currency") else ""
        return ", ".join(labels[part] % {"amount": f"{value[part]}{currency}"} for part in labels if part in value)

    def _chorus_pro_lines(self, reading):
        """The values of the lines: per value read, the chosen one, then the others ranked."""
        targets = self._chorus_pro_target_fields()
        lines = []
        sequence = 0
        for key, _label in FIELD_SELECTION:
            result = reading.results[key]
            for rank, item in enumerate(result.ranked[:MAX_CANDIDATES]):
                sequence += 1
                if item.excluded:
                    status = "excluded"
                elif result.decision == "ambiguous":
                    status = "ambiguous"
                else:
                    status = "chosen" if item is result.chosen else "candidate"
                values = {
                    "sequence": sequence,
                    "field": key,
                    "value": self._chorus_pro_totals_display(item.value) if key == "totals" else item.display,
                    "raw_value": item.value if isinstance(item.value, str) else False,
                    "confidence": result.confidence if item is result.chosen else False,
                    "status": status,
                    "evidence": self._chorus_pro_evidence_text(item.evidence),
                    "reasons": "; ".join(self._chorus_pro_reason_text(r) for r in item.reasons),
                    "applicable": key in targets and not item.excluded,
                    "rank": rank + 1,
                }
                lines.append(self._chorus_pro_compare(values, targets))
        return lines

    def _chorus_pro_compare(self, values, targets):
        """Put what the record holds beside the value read, and tick it only when nothing is in doubt."""
        key = values["field"]
        target = self._chorus_pro_target()
        note = False
        differs = False
        current_text = False
        if key == "siret":
            partner = self._chorus_pro_match_partner(values["raw_value"]) if values["applicable"] else False
            values["partner_id"] = partner.id if partner else False
            current = self._chorus_pro_current_partner()
            if current:
                current_text = current.display_name + (f" ({format_siret(current.siret)})"
                                                      if current.siret and len(compact_siret(current.siret)) == 14
                                                      else "")
            # The buyer itself (the budgets' parent) is completed by its budget, not replaced by another one.
            differs = bool(current and partner and current != partner and current != partner.commercial_partner_id)
            if values["applicable"] and not partner:
                values["applicable"] = False
                note = _("No Chorus Pro recipient has this SIRET: create its contact first.")
            same = bool(partner and current == partner)
        elif key in targets:
            current_raw = (target[targets[key]] or "").strip()
            current_text = current_raw or False
            differs = bool(current_raw and values["raw_value"] and current_raw != values["raw_value"])
            same = bool(current_raw and current_raw == values["raw_value"])
        else:
            same = False
        sure = values["status"] == "chosen" and values["confidence"] in ("high", "medium")
        use = bool(values["applicable"] and sure and not differs)
        if not note:
            if not values["applicable"] and values["status"] == "excluded":
                note = _("Shown for information: it cannot be used.")
            elif key not in targets:
                note = _("For information.")
            elif same:
                note = _("Already on the record.")
            elif differs and values["status"] == "chosen":
                note = _("Differs from what the record holds: tick it to replace it.")
            elif values["status"] == "ambiguous":
                note = _("Several values compete: tick the right one.")
            elif values["status"] == "chosen" and not sure:
                note = _("Unsure: check it on the order, then tick it.")
        values.update({"current_value": current_text, "differs": differs, "use": use, "note": note})
        values.pop("rank", None)
        return values

    def _chorus_pro_missing_text(self, reading):
        """One line per value not found, ambiguous or unusable, with the reason, in the person's language."""
        labels = dict(self.env["chorus.pro.order.read.line"]._fields["field"]._description_selection(self.env))
        lines = []
        for result in reading.missing:
            if result.field == "budget" and result.why_code != "unknown_recipient":
                continue  # said by the SIRET's own line
            why = self._chorus_pro_render(MISSING.get(result.why_code), result.why_params, result.why)
            field = "siret" if result.field == "budget" else result.field
            lines.append(f"{labels.get(field, field)}: {why}")
        return "\n".join(lines) or False

    # ------------------------------------------------------------------
    # Applying
    # ------------------------------------------------------------------

    def action_back(self):
        self.ensure_one()
        self.write({"state": "choose", "line_ids": [Command.clear()], "missing_text": False})
        return self._chorus_pro_reopen()

    def _chorus_pro_ticked(self):
        """``{value read: line}`` of the ticked lines; two ticked for one value is refused."""
        labels = dict(self.line_ids._fields["field"]._description_selection(self.env))
        ticked = {}
        for line in self.line_ids.filtered(lambda item: item.use and item.applicable):
            if line.field in ticked:
                raise UserError(_("Tick one value only for %(value)s.", value=labels[line.field]))
            if line.field == "siret" and not line.partner_id:
                raise UserError(_("Choose the Chorus Pro recipient of the SIRET %(siret)s.", siret=line.value))
            ticked[line.field] = line
        return ticked

    def _chorus_pro_attach(self):
        """The order as an attachment of the record (the one chosen, or the upload, attached now)."""
        target = self._chorus_pro_target()
        if self.upload:
            if not self.attach_order and not self.mark_supporting:
                return self.env["ir.attachment"]
            data, name = self._chorus_pro_order_file()
            return self.env["ir.attachment"].create({
                "name": name, "raw": data, "res_model": target._name, "res_id": target.id,
                "description": _("Purchase order"),
            })
        return self.attachment_id

    def action_apply(self):
        self.ensure_one()
        self._chorus_pro_check_target()
        ticked = self._chorus_pro_ticked()
        targets = self._chorus_pro_target_fields()
        values = {}
        for key, line in ticked.items():
            values[targets[key]] = line.partner_id.id if key == "siret" else line.raw_value
        if values:
            self._chorus_pro_write(values)
        attachment = self._chorus_pro_attach()
        if self.mark_supporting and self.can_mark_supporting and attachment:
            attachment.write({"chorus_pro_send": True, "chorus_pro_document_type": "BON_COMMANDE"})
        self._chorus_pro_log(ticked, attachment)
        return {"type": "ir.actions.act_window_close"}

    def _chorus_pro_log(self, ticked, attachment):
        target = self._chorus_pro_target()
        labels = dict(self.line_ids._fields["field"]._description_selection(self.env))
        if not ticked and not attachment:
            return
        items = [
            Markup("<li>%s: %s</li>") % (labels[key], line.partner_id.display_name if key == "siret" else line.value)
            for key, line in ticked.items()
        ]
        body = Markup("%s<ul>%s</ul>") % (
            _("Values read from the purchase order %(file)s:", file=self.source_name or attachment.name),
            Markup().join(items) or escape(_("none applied")),
        )
        target.message_post(body=body, attachment_ids=attachment.ids if self.upload else [])


class ChorusProOrderReadLine(models.TransientModel):
    _name = "chorus.pro.order.read.line"
    _description = "Value Read From a Purchase Order"
    _order = "sequence, id"

    wizard_id = fields.Many2one("chorus.pro.order.read", required=True, ondelete="cascade")
    sequence = fields.Integer()
    field = fields.Selection(FIELD_SELECTION, string="Value", readonly=True)
    value = fields.Char(string="Found", readonly=True)
    raw_value = fields.Char(readonly=True)
    partner_id = fields.Many2one("res.partner", string="Recipient", domain="[('chorus_pro_recipient', '=', True)]",
                                 help="The Chorus Pro recipient contact with this SIRET.")
    confidence = fields.Selection(CONFIDENCE_SELECTION, readonly=True)
    status = fields.Selection(STATUS_SELECTION, readonly=True)
    evidence = fields.Char(string="Where", readonly=True)
    reasons = fields.Char(string="Why", readonly=True)
    current_value = fields.Char(string="On the Record", readonly=True)
    differs = fields.Boolean(readonly=True)
    applicable = fields.Boolean(readonly=True)
    use = fields.Boolean(string="Use", help="Tick to write this value on the record.")
    note = fields.Char(readonly=True)
