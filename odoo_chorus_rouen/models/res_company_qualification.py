"""Qualification on the company: the test data set, what Test connection checks, the go-live checklist.

* **The data set.** The qualification platform holds only the company's test data set: a test
  supplier structure (attached to the technical account) and test public recipients, created on the
  qualification portal; the Métropole's real SIRETs are not there (CHORUS_PRO_API.md §10). The
  company keeps its test supplier's SIRET and one line per real recipient (``chorus.pro.test.recipient``).
  "Read the data set" fills what the API gives: the structures attached to the technical account
  (``recupererStructuresActivesPourFournisseur``) and each test recipient's name, rules and services.
* **Where it applies.** Only on the qualification platforms (Qualification, and a sandbox playing it);
  production and the plain sandbox never map (``account_move_qualification.py`` does the mapping).
* **Test connection** also checks the supplier structure found **and attached to this account**, and
  each recipient known on the platform (on qualification: the data set's test recipients) with its
  rules and services; the platform's raw answers are logged as evidence (never a secret).
* **Go-live checklist** on the settings: qualification tried (one invoice integrated and its status
  read back), production credentials entered, platform switched; what is missing, in words.
"""

import hashlib
import json
import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_datetime

from ..core.budgets import compact_siret, is_valid_siret  # noqa: TID252
from ..core.errors import ChorusError  # noqa: TID252
from ..core.platform_checks import attached_structures, check_recipient, check_supplier  # noqa: TID252
from ..core.recipient_map import shown_siret  # noqa: TID252
from ..core.technical_account import PASSWORD_PERIOD_DAYS  # noqa: TID252
from .chorus_pro_messages import error_message
from .res_company import QUALIFICATION_ENVIRONMENTS
from .res_partner import SIRET_INPUT_SIZE

_logger = logging.getLogger(__name__)

#: Recipients checked one by one by Test connection (the directory refresh reads them all afterwards).
TEST_CONNECTION_RECIPIENTS = 12


class ResCompany(models.Model):
    _inherit = "res.company"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_test_supplier_siret = fields.Char(
        string="Test Supplier SIRET",
        size=SIRET_INPUT_SIZE,
        help="On qualification, invoices are deposited from this test supplier of your data set instead of your "
        "company's SIRET (the qualification platform holds only your data set). 'Read the data set' fills it "
        "from the structures attached to the technical account.",
    )
    chorus_pro_test_supplier_name = fields.Char(string="Test Supplier Name", readonly=True, copy=False)
    chorus_pro_test_recipient_ids = fields.One2many(
        "chorus.pro.test.recipient", "company_id", string="Test Recipients (qualification)"
    )
    chorus_pro_data_set_message = fields.Text(string="Qualification Data Set Read", readonly=True, copy=False)
    chorus_pro_qualification_done = fields.Datetime(
        string="Qualification Tried On", readonly=True, copy=False,
        help="When an invoice deposited on qualification was integrated and its status read back.",
    )
    chorus_pro_qualification_move_id = fields.Many2one(
        "account.move", string="Invoice Tried on Qualification", readonly=True, copy=False, ondelete="set null"
    )
    chorus_pro_qualification_account = fields.Char(copy=False, readonly=True)  # hash of client id + login used
    chorus_pro_golive_checklist = fields.Text(
        string="Go-Live Checklist", compute="_compute_chorus_pro_golive_checklist"
    )

    def write(self, vals):
        if isinstance(vals.get("chorus_pro_test_supplier_siret"), str):
            vals = {**vals, "chorus_pro_test_supplier_siret": compact_siret(vals["chorus_pro_test_supplier_siret"])
                    or False}
        result = super().write(vals)
        if "chorus_pro_test_supplier_siret" in vals and not self.env.context.get("chorus_pro_reading_data_set"):
            self._chorus_pro_data_set_changed()
        return result

    # ------------------------------------------------------------------
    # Where the data set applies
    # ------------------------------------------------------------------

    def _chorus_pro_on_qualification(self):
        """Whether this company's platform holds only its test data set (never production)."""
        self.ensure_one()
        return self.chorus_pro_environment in QUALIFICATION_ENVIRONMENTS

    def _chorus_pro_supplier_siret(self):
        # EXTENDS odoo_chorus_rouen: on qualification the supplier is the data set's test supplier.
        if self._chorus_pro_on_qualification() and self.chorus_pro_test_supplier_siret:
            return compact_siret(self.chorus_pro_test_supplier_siret)
        return super()._chorus_pro_supplier_siret()

    def _chorus_pro_test_recipient_for(self, partner):
        """The data set's line for this real recipient (matched by SIRET), or an empty recordset."""
        self.ensure_one()
        siret = compact_siret(partner.siret or "")
        if not siret:
            return self.env["chorus.pro.test.recipient"]
        return self.sudo().chorus_pro_test_recipient_ids.filtered(
            lambda line: compact_siret(line.recipient_id.siret or "") == siret
        )[:1]

    def _chorus_pro_is_test_recipient(self, partner):
        """Whether the partner itself is a test recipient of the data set (invoiced directly, nothing to map)."""
        self.ensure_one()
        siret = compact_siret(partner.siret or "")
        tests = {compact_siret(line.test_siret) for line in self.sudo().chorus_pro_test_recipient_ids}
        return bool(siret) and siret in tests

    def _chorus_pro_data_set_changed(self):
        """The data set changed: invoices held for want of it are queued again (the job checks them again)."""
        moves = self.env["account.move"].sudo().search([
            ("company_id", "in", self.ids), ("chorus_pro_qualification_held", "=", True),
            ("chorus_pro_state", "=", "error"), ("state", "=", "posted"),
        ])
        if moves:
            moves.write({"chorus_pro_qualification_held": False})
            moves._chorus_pro_queue(_("The qualification data set changed: queued for Chorus Pro again."))

    # ------------------------------------------------------------------
    # Read the data set from the platform
    # ------------------------------------------------------------------

    def action_chorus_pro_read_data_set(self):
        """Button: read the test supplier and the test recipients' names, rules and services from the platform."""
        self.ensure_one()
        if not self.env.user.has_group("base.group_system"):
            raise UserError(_("Only administrators (Settings) can read the qualification data set."))
        client = self._chorus_pro_get_client()
        lines = []
        try:
            try:
                attached = attached_structures(client)
            except ChorusError as err:
                raise UserError(error_message(self.env, err, company=self.name)) from err
            company = self.sudo()
            if attached is None:
                lines.append(_("The platform does not list the structures attached to the technical account: type "
                               "the test supplier's SIRET."))
            elif not attached:
                lines.append(_("The technical account is attached to no structure: attach the test supplier of your "
                               "data set to it on the qualification portal."))
            else:
                listed = ", ".join(f"{shown_siret(s.identifier)} ({s.name})" for s in attached)
                lines.append(_("Structures attached to the technical account: %(list)s.", list=listed))
                mine = compact_siret(company.chorus_pro_test_supplier_siret or "")
                chosen = next((s for s in attached if compact_siret(s.identifier) == mine), None)
                if chosen is None and len(attached) == 1:
                    chosen = attached[0]
                if chosen is not None:
                    company.with_context(chorus_pro_reading_data_set=True).write({  # re-queued once below
                        "chorus_pro_test_supplier_siret": compact_siret(chosen.identifier),
                        "chorus_pro_test_supplier_name": chosen.name,
                    })
                    supplier = "%s (%s)" % (shown_siret(chosen.identifier), chosen.name)  # noqa: UP031 - no f-string near _()
                    lines.append(_("Test supplier: %(supplier)s.", supplier=supplier))
                elif mine:
                    lines.append(_("The test supplier %(siret)s is not attached to the technical account.",
                                   siret=shown_siret(mine)))
                else:
                    lines.append(_("Several structures are attached: type the test supplier's SIRET."))
            for line in company.chorus_pro_test_recipient_ids:
                lines.append(line._chorus_pro_read(client))
        finally:
            client.close()
        message = "\n".join([_("%(date)s:", date=format_datetime(self.env, fields.Datetime.now())), *lines])
        self.sudo().write({"chorus_pro_data_set_message": message})
        self._chorus_pro_data_set_changed()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": _("Qualification data set"), "message": " ".join(lines), "type": "info",
                       "sticky": True, "next": {"type": "ir.actions.client", "tag": "soft_reload"}},
        }

    def action_chorus_pro_open_test_recipients(self):
        """Button: the company's test recipients (one line per real recipient)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Qualification test recipients"),
            "res_model": "chorus.pro.test.recipient",
            "view_mode": "list",
            "domain": [("company_id", "=", self.id)],
            "context": {"default_company_id": self.id},
        }

    # ------------------------------------------------------------------
    # Test connection
    # ------------------------------------------------------------------

    def _chorus_pro_test_connection(self):
        # EXTENDS odoo_chorus_rouen: the platform's raw answers are kept in the log as evidence.
        self.ensure_one()
        return super(ResCompany, self.with_context(chorus_pro_evidence=True))._chorus_pro_test_connection()

    def _chorus_pro_request_recipients_refresh(self):
        # EXTENDS odoo_chorus_rouen: the qualification directory holds only the data set, never the real
        # recipients: reading them there would only mark them unknown. The data set is read instead.
        on_qualification = self.filtered(lambda c: c._chorus_pro_on_qualification())
        for company in on_qualification:
            company.sudo().write({"chorus_pro_recipients_refresh_summary": _(
                "Qualification: the real recipients are not read from the qualification directory (it holds only "
                "your test data set); 'Read the data set' reads the test recipients.")})
        return super(ResCompany, self - on_qualification)._chorus_pro_request_recipients_refresh()

    def _chorus_pro_get_client(self):
        # EXTENDS odoo_chorus_rouen: during a connection test every answer goes to the log (secrets masked).
        client = super()._chorus_pro_get_client()
        if self.env.context.get("chorus_pro_evidence"):
            company_id = self.id

            def keep(operation, status, body):
                _logger.info("Chorus Pro connection test of company %s: %s answered HTTP %s: %s",
                             company_id, operation, status, json.dumps(body, ensure_ascii=False)[:4000])

            client.on_answer = keep
        return client

    def _chorus_pro_test_own_structure(self, client, lines):
        # EXTENDS odoo_chorus_rouen: the supplier attached to the account; the recipients; the data set.
        self.ensure_one()
        qualification = self._chorus_pro_on_qualification()
        if qualification and not self.chorus_pro_test_supplier_siret:
            try:
                attached = attached_structures(client)
            except ChorusError as err:
                lines.append(error_message(self.env, err, company=self.name))
                return False
            listed = ", ".join(f"{shown_siret(s.identifier)} ({s.name})" for s in attached or ()) or _("none")
            lines.append(_(
                "Qualification data set: no test supplier. The qualification platform holds only your test data "
                "set: set the test supplier's SIRET (or click 'Read the data set'); structures attached to the "
                "technical account: %(list)s.", list=listed,
            ))
            return False
        ok = super()._chorus_pro_test_own_structure(client, lines)
        try:
            ok = self._chorus_pro_test_attachment(client, lines) and ok
            ok = self._chorus_pro_test_recipients(client, lines) and ok
        except ChorusError as err:
            _logger.info("Chorus Pro connection test of company %s: %s", self.id, err)
            lines.append(error_message(self.env, err, company=self.name))
            return False
        return ok

    def _chorus_pro_test_attachment(self, client, lines):
        siret = self._chorus_pro_supplier_siret()
        if not siret or not is_valid_siret(siret):
            return False
        check = check_supplier(client, siret)
        login = self.sudo().chorus_pro_login
        if check.attached is None:
            lines.append(_("Supplier attachment: the platform does not say which structures the technical account "
                           "%(login)s is attached to; it could not be checked.", login=login))
            return True
        if check.attached:
            lines.append(_("Supplier attachment: %(siret)s is attached to the technical account %(login)s.",
                           siret=shown_siret(siret), login=login))
            return True
        listed = ", ".join(f"{shown_siret(s.identifier)} ({s.name})" for s in check.attached_to) or _("none")
        lines.append(_(
            "Supplier attachment: %(siret)s is NOT attached to the technical account %(login)s, so Chorus Pro "
            "refuses its invoices. Attach the structure to this account on the Chorus Pro portal (or use the account "
            "attached to it). Attached now: %(list)s.", siret=shown_siret(siret), login=login, list=listed,
        ))
        return False

    def _chorus_pro_test_recipients(self, client, lines):
        """One sentence per recipient: known, its rules and services (on qualification: the test recipients).

        :return: False when the qualification data set would hold invoices; a real recipient's problem is
            said but does not make the connection fail (the recipient's contact shows it too).
        """
        ok = True
        qualification = self._chorus_pro_on_qualification()
        if qualification:
            entries = [(line.test_siret, line.recipient_id.display_name, line)
                       for line in self.sudo().chorus_pro_test_recipient_ids]
            if not entries:
                lines.append(_("Qualification data set: no test recipient. Map each real recipient to a test "
                               "recipient of your data set (Qualification test recipients): until then their "
                               "invoices are held before any deposit."))
                return False
        else:
            partners = self.env["res.partner"].sudo().search([
                ("chorus_pro_recipient", "=", True), ("company_id", "in", [False, self.id]), ("siret", "!=", False),
            ], limit=TEST_CONNECTION_RECIPIENTS)
            entries = [(partner.siret, None, None) for partner in partners]
        strict = qualification  # only the data set's problems make the connection test fail
        for siret, real_name, line in entries:
            check = check_recipient(client, siret)
            who = (_("Test recipient %(siret)s for %(real)s", siret=shown_siret(siret), real=real_name) if line
                   else _("Recipient %(siret)s", siret=shown_siret(siret)))
            if not check.found:
                lines.append(_("%(who)s: not on this platform; check the SIRET.", who=who))
                ok = ok and not strict
                continue
            if not check.active:
                lines.append(_("%(who)s (%(name)s): inactive on Chorus Pro, its invoices are refused.", who=who,
                               name=check.name))
                ok = ok and not strict
                continue
            rules = [
                _("engagement number required") if check.requirements.engagement else _("no engagement number "
                                                                                         "required"),
                _("service code required") if check.requirements.service_code else _("no service code required"),
            ]
            lines.append(_("%(who)s (%(name)s): known; %(rules)s; %(count)s active service(s) %(services)s.",
                           who=who, name=check.name, rules=", ".join(rules), count=len(check.services),
                           services=", ".join(check.services[:6])))
            if line and line.test_service_code and not check.has_service(line.test_service_code):
                lines.append(_("The test service code %(code)s is not an active service of it: correct the line.",
                               code=line.test_service_code))
                ok = ok and not strict
            elif line and check.requirements.service_code and not line.test_service_code:
                lines.append(_("It requires a service code: give the test service code on the line."))
                ok = ok and not strict
        return ok

    # ------------------------------------------------------------------
    # Go-live checklist
    # ------------------------------------------------------------------

    def _chorus_pro_account_hash(self):
        company = self.sudo()
        text = f"{(company.chorus_pro_client_id or '').strip()}\x00{(company.chorus_pro_login or '').strip()}"
        return hashlib.sha256(text.encode()).hexdigest()

    def _chorus_pro_qualification_tried(self, move):
        """An invoice deposited on qualification was integrated and its status read back: note it once."""
        company = self.sudo()
        if company.chorus_pro_qualification_done or not company._chorus_pro_on_qualification():
            return
        company.write({
            "chorus_pro_qualification_done": fields.Datetime.now(),
            "chorus_pro_qualification_move_id": move.id,
            "chorus_pro_qualification_account": company._chorus_pro_account_hash(),
        })

    @api.depends("chorus_pro_qualification_done", "chorus_pro_qualification_account", "chorus_pro_environment",
                 "chorus_pro_base_url", "chorus_pro_client_id", "chorus_pro_login")
    @api.depends_context("lang")
    def _compute_chorus_pro_golive_checklist(self):
        for company in self:
            company.chorus_pro_golive_checklist = "\n".join(company.sudo()._chorus_pro_golive_lines())

    def _chorus_pro_golive_lines(self):
        self.ensure_one()
        lines = []
        if self.chorus_pro_qualification_done:
            lines.append(_("✓ Qualification tried: %(invoice)s was integrated and its status read back on %(date)s.",
                           invoice=self.chorus_pro_qualification_move_id.display_name or "?",
                           date=format_datetime(self.env, self.chorus_pro_qualification_done)))
        else:
            lines.append(_("✗ Qualification not tried yet: on the Qualification platform, with the qualification "
                           "data set filled in, send one invoice; it counts once it is integrated and its status read "
                           "back."))
        complete = not self._chorus_pro_missing_settings()
        same = self.chorus_pro_qualification_account == self._chorus_pro_account_hash()
        if complete and self.chorus_pro_qualification_done and not same:
            lines.append(_("✓ Production credentials entered (client ID and technical account differ from the ones "
                           "used on qualification)."))
        elif self.chorus_pro_qualification_done and same:
            lines.append(_("✗ Production credentials: still the ones used on qualification. Enter the client ID and "
                           "secret of your production PISTE application and your production technical account."))
        else:
            lines.append(_("✗ Production credentials: enter them once qualification is tried (production PISTE "
                           "application and technical account)."))
        if self._chorus_pro_is_neutralized_database():
            lines.append(_("✗ This database is a neutralized copy: it never sends anything to the production "
                           "platform, whatever is chosen here."))
        elif self.chorus_pro_environment == "production":
            lines.append(_("✓ Platform switched to Production: invoices posted from now on are real invoices."))
        else:
            lines.append(_("✗ Platform: still %(platform)s. Choose Production once the two points above are done.",
                           platform=self._chorus_pro_platform_label()))
        lines.append(_("The technical account's password lasts %(days)s days (Chorus Pro's guidance): note when you "
                       "change it.", days=PASSWORD_PERIOD_DAYS))
        return lines


class ChorusProTestRecipient(models.Model):
    _inherit = "chorus.pro.test.recipient"

    def _chorus_pro_read(self, client):
        """Read this test recipient from the platform and store what it says; one sentence for the message."""
        self.ensure_one()
        try:
            check = check_recipient(client, self.test_siret)
        except ChorusError as err:
            text = error_message(self.env, err, company=self.company_id.name)
            self.write({"read_message": text[:250]})
            return _("%(siret)s: %(error)s", siret=shown_siret(self.test_siret), error=text)
        now = fields.Datetime.now()
        if not check.found:
            text = _("not on this platform: check the SIRET in your data set")
            self.write({"read_date": now, "read_message": text})
            return _("%(siret)s: %(text)s", siret=shown_siret(self.test_siret), text=text)
        vals = {
            "test_name": check.name,
            "engagement_required": check.requirements.engagement,
            "service_code_required": check.requirements.service_code,
            "service_or_engagement_required": check.requirements.service_or_engagement,
            "read_date": now,
            "read_message": _("known; services: %(services)s", services=", ".join(check.services) or "-")[:250],
        }
        if not self.test_service_code and check.requirements.service_code:
            usable = [code for code in check.services if code != "FACTURES_PUBLIQUES"]
            if len(usable) == 1:
                vals["test_service_code"] = usable[0]
        self.with_context(chorus_pro_reading_data_set=True).write(vals)  # the caller re-queues once
        return _("%(siret)s (%(name)s) for %(real)s: read.", siret=shown_siret(self.test_siret), name=check.name,
                 real=self.recipient_id.display_name)


class ResConfigSettings(models.TransientModel):
    """The qualification data set and the go-live checklist on the settings."""

    _inherit = "res.config.settings"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_test_supplier_siret = fields.Char(
        related="company_id.chorus_pro_test_supplier_siret", readonly=False, groups="base.group_system"
    )
    chorus_pro_test_supplier_name = fields.Char(related="company_id.chorus_pro_test_supplier_name")
    chorus_pro_data_set_message = fields.Text(related="company_id.chorus_pro_data_set_message")
    chorus_pro_golive_checklist = fields.Text(related="company_id.chorus_pro_golive_checklist")

    def action_chorus_pro_read_data_set(self):
        """Button (the web client saves the settings first)."""
        self.ensure_one()
        return self.company_id.action_chorus_pro_read_data_set()

    def action_chorus_pro_open_test_recipients(self):
        self.ensure_one()
        return self.company_id.action_chorus_pro_open_test_recipients()
