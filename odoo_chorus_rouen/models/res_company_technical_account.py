"""The Chorus Pro technical account's password on the company: expiry date, reminders, refusal.

* The expiry date is read from Chorus Pro (``consulterStructure`` →
  ``informationGenerales.dateExpirationMotPasseCompteTech``) at each "Test connection" and by the
  weekly directory job; the manual date is used only when Chorus Pro gives none.
* A daily job gives the Settings administrators of the company a to-do 30, 7 and 1 day(s) before,
  once per threshold and per expiry date.
* When Chorus Pro refuses the technical account, the send job stops for the company
  (``_chorus_pro_stop_sending``): one company-level message on the settings and in the log, no
  invoice counts an attempt. "Refused" is concluded only from the dedicated check of the account
  (``res_company_account_check``), never from the failure of a business call; that check is made
  again by itself while sending is stopped, and sending resumes when it passes. Changing the login or
  the password (or a successful "Test connection") lifts the stop at once.
"""

import hashlib
import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import format_datetime

from ..core import technical_account  # noqa: TID252
from ..core.errors import ChorusError  # noqa: TID252
from .chorus_pro_messages import error_message

_logger = logging.getLogger(__name__)

# Settings whose change may cure a refused technical account.
ACCOUNT_FIELDS = ("chorus_pro_login", "chorus_pro_password", "chorus_pro_environment", "chorus_pro_base_url")
# The weekly directory job reads the date again when it is older than this.
EXPIRY_REFRESH = timedelta(days=6)


class ResCompany(models.Model):
    _inherit = "res.company"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_password_expiry = fields.Date(
        string="Password Expiry (Chorus Pro)",
        copy=False,
        readonly=True,
        help="Expiry date of the technical account's password, as Chorus Pro gives it (consulterStructure). "
        "Read at each 'Test connection' and by the weekly directory job.",
    )
    chorus_pro_password_expiry_read = fields.Datetime(string="Password Expiry Read On", copy=False, readonly=True)
    chorus_pro_password_expiry_manual = fields.Date(
        string="Password Expiry (typed)",
        copy=False,
        help="Expiry date of the technical account's password, typed by hand. Used only when Chorus Pro gives none. "
        "Chorus Pro asks for a new password every 424 days: the day you change it plus 424 days.",
    )
    chorus_pro_password_expiry_date = fields.Date(
        string="Technical Account Password Expires On",
        compute="_compute_chorus_pro_password_expiry_date",
        help="The date Chorus Pro gives, else the date typed by hand.",
    )
    chorus_pro_password_reminders = fields.Char(
        copy=False, readonly=True, help="Reminders already given, as 'expiry date:days,days'."
    )
    chorus_pro_account_refused = fields.Datetime(
        string="Technical Account Refused On",
        copy=False,
        readonly=True,
        help="When the check of the technical account was first refused: sending is stopped for this company "
        "until a check passes or its login or password is updated.",
    )
    chorus_pro_account_message = fields.Text(string="Technical Account Message", copy=False, readonly=True)
    chorus_pro_account_fingerprint = fields.Char(copy=False, readonly=True, groups="base.group_system")

    @api.depends("chorus_pro_password_expiry", "chorus_pro_password_expiry_manual")
    def _compute_chorus_pro_password_expiry_date(self):
        for company in self:
            company.chorus_pro_password_expiry_date = (
                company.chorus_pro_password_expiry or company.chorus_pro_password_expiry_manual
            )

    def write(self, vals):
        changed = self.env["res.company"]
        if any(name in vals for name in ACCOUNT_FIELDS):
            changed = self.filtered(
                lambda c: c.chorus_pro_account_refused
                and any((c.sudo()[name] or False) != (vals[name] or False) for name in ACCOUNT_FIELDS if name in vals)
            )
        if "chorus_pro_password" in vals:
            # A new password has a new expiry date: read it again (Test connection, weekly job).
            vals = {**vals, "chorus_pro_password_expiry": False, "chorus_pro_password_reminders": False}
        result = super().write(vals)
        if changed:
            changed._chorus_pro_resume_sending(_("the technical account's settings were updated"))
        return result

    # ------------------------------------------------------------------
    # Expiry date
    # ------------------------------------------------------------------

    def _chorus_pro_read_password_expiry(self, client):
        """Read the expiry date from Chorus Pro and store it. :return: the date, or None when Chorus Pro gives none.

        :raises ChorusError: Chorus Pro could not be read.
        """
        self.ensure_one()
        from ..core.client_completion import technical_account_expiry  # noqa: TID252

        siret = self._chorus_pro_supplier_siret()  # on qualification: the test supplier (its structure)
        if not siret:
            return None
        expiry = technical_account_expiry(client, siret)
        vals = {"chorus_pro_password_expiry_read": fields.Datetime.now()}
        new = expiry.date() if expiry else False
        if new != self.chorus_pro_password_expiry:
            vals.update(chorus_pro_password_expiry=new)
        self.sudo().write(vals)
        return new or None

    def _chorus_pro_test_own_structure(self, client, lines):
        ok = super()._chorus_pro_test_own_structure(client, lines)
        try:
            expiry = self._chorus_pro_read_password_expiry(client)
        except ChorusError as err:
            _logger.info("Chorus Pro: the password expiry of company %s could not be read: %s", self.id, err)
            lines.append(_("Technical account password: its expiry date could not be read (%(error)s).",
                           error=error_message(self.env, err, company=self.name)))
            return ok
        if expiry:
            left = technical_account.days_left(expiry, fields.Date.context_today(self))
            lines.append(_("Technical account password: expires on %(date)s (in %(days)s days).",
                           date=fields.Date.to_string(expiry), days=left))
        else:
            lines.append(_("Technical account password: Chorus Pro gives no expiry date; type it in the settings "
                           "to get reminders (Chorus Pro asks for a new password every %(days)s days).",
                           days=technical_account.PASSWORD_PERIOD_DAYS))
        if ok and self.chorus_pro_account_refused:
            self._chorus_pro_resume_sending(_("the connection test passed"))
        return ok

    @api.model
    def _chorus_pro_refresh_password_expiries(self):
        """Weekly (with the directory job): read the expiry date of every configured company again."""
        cutoff = fields.Datetime.now() - EXPIRY_REFRESH
        companies = self.sudo().search([("chorus_pro_client_id", "!=", False)])
        for company in companies:
            if company.chorus_pro_password_expiry_read and company.chorus_pro_password_expiry_read > cutoff:
                continue
            if not company._chorus_pro_is_configured():
                continue
            try:
                client = company._chorus_pro_get_client()
            except Exception as err:  # noqa: BLE001 - UserError: settings unusable; nothing to read
                _logger.info("Chorus Pro: no client for company %s: %s", company.id, err)
                continue
            try:
                with self.env.cr.savepoint():
                    company._chorus_pro_read_password_expiry(client)
            except ChorusError as err:
                _logger.warning("Chorus Pro: the password expiry of company %s could not be read: %s", company.id, err)
            finally:
                client.close()

    # ------------------------------------------------------------------
    # Reminders (daily)
    # ------------------------------------------------------------------

    def _chorus_pro_administrators(self):
        """Active internal users with the Settings rights who work in this company."""
        self.ensure_one()
        group = self.env.ref("base.group_system")
        return group.sudo().users.filtered(lambda u: u.active and not u.share and self in u.company_ids)

    @api.model
    def _cron_chorus_pro_password_reminders(self):
        """Daily: a to-do for the Settings administrators 30, 7 and 1 day(s) before the password expires."""
        today = fields.Date.context_today(self)
        todo = self.env.ref("mail.mail_activity_data_todo")
        for company in self.sudo().search([]):
            expiry = company.chorus_pro_password_expiry_date
            if not expiry:
                continue
            key, _sep, done = (company.chorus_pro_password_reminders or "").partition(":")
            done = [int(d) for d in done.split(",") if d.isdigit()] if key == fields.Date.to_string(expiry) else []
            due = technical_account.due_reminder(expiry, today, done)
            if due is None:
                continue
            left = technical_account.days_left(expiry, today)
            lang = company.partner_id.lang or "en_US"
            env = company.with_context(lang=lang).env
            summary = env._("Chorus Pro: the technical account's password expires on %(date)s",
                            date=fields.Date.to_string(expiry))
            note = env._(
                "The password of the Chorus Pro technical account %(login)s of %(company)s expires in %(days)s "
                "day(s), on %(date)s. Change it on the Chorus Pro portal, then type the new password in Invoicing > "
                "Configuration > Settings > Chorus Pro and click 'Test connection'. Once it has expired, no invoice "
                "can be sent to Chorus Pro.",
                login=company.chorus_pro_login or "?", company=company.name, days=max(left, 0),
                date=fields.Date.to_string(expiry),
            )
            for user in company._chorus_pro_administrators():
                self.env["mail.activity"].sudo().create({
                    "activity_type_id": todo.id,
                    "res_model_id": self.env["ir.model"]._get_id("res.partner"),
                    "res_id": company.partner_id.id,
                    "summary": summary,
                    "note": note,
                    "user_id": user.id,
                    "date_deadline": min(expiry, today + timedelta(days=max(left - 1, 0))),
                    "automated": True,
                })
            done = sorted({*done, due}, reverse=True)
            company.chorus_pro_password_reminders = f"{fields.Date.to_string(expiry)}:{','.join(map(str, done))}"
            _logger.info("Chorus Pro: %s-day password reminder given to the administrators of company %s",
                         due, company.id)

    # ------------------------------------------------------------------
    # Refused technical account: stop and resume sending
    # ------------------------------------------------------------------

    def _chorus_pro_account_key(self):
        self.ensure_one()
        company = self.sudo()
        text = "\x00".join(str(company[name] or "") for name in ACCOUNT_FIELDS)
        return hashlib.sha256(text.encode()).hexdigest()

    def _chorus_pro_sending_stopped(self):
        """Whether the send job must leave this company's invoices alone (refused technical account).

        A stop whose settings changed since (by any path) is lifted here.
        """
        self.ensure_one()
        if not self.chorus_pro_account_refused:
            return False
        if self.sudo().chorus_pro_account_fingerprint != self._chorus_pro_account_key():
            self._chorus_pro_resume_sending(_("the technical account's settings were updated"))
            return False
        return True

    @api.model
    def _chorus_pro_stopped_companies(self):
        companies = self.sudo().search([("chorus_pro_account_refused", "!=", False)])
        return companies.filtered(lambda c: c._chorus_pro_sending_stopped())

    def _chorus_pro_stop_sending(self, check, next_check, checks=1):
        """The dedicated check of the technical account (``check``, a ``core.technical_account.AccountCheck``)
        was refused: one company-level message saying what it observed; sending stops until a check passes
        (``res_company_account_check``) or the settings change."""
        self.ensure_one()
        company = self.sudo()
        lang = company.partner_id.lang or "en_US"
        env = company.with_context(lang=lang).env
        message = env._(
            "Chorus Pro refuses the technical account %(login)s: on %(when)s, a check made with a new access "
            "token (%(operation)s) was answered %(answer)s. Nothing is sent to Chorus Pro for %(company)s "
            "meanwhile. The account is checked again by itself, less and less often, and sending resumes as soon "
            "as a check passes. If its password was changed, has expired or is locked, renew it on the Chorus Pro "
            "portal and type it in Invoicing > Configuration > Settings > Chorus Pro: sending then resumes at once.",
            login=company.chorus_pro_login or "?",
            when=format_datetime(env, fields.Datetime.now(), tz=company.partner_id.tz or env.user.tz or False),
            operation=check.operation, answer=check.answer, company=company.name,
        )
        if not company.chorus_pro_account_refused:
            _logger.warning("Chorus Pro: sending stopped for company %s (%s): the check of the technical account "
                            "(%s) was answered %s", company.id, company.name, check.operation, check.answer)
        company.write({
            "chorus_pro_account_refused": company.chorus_pro_account_refused or fields.Datetime.now(),
            "chorus_pro_account_message": message,
            "chorus_pro_account_fingerprint": company._chorus_pro_account_key(),
            "chorus_pro_account_checks": checks,
            "chorus_pro_account_next_check": next_check,
        })

    def _chorus_pro_resume_sending(self, why):
        companies = self.sudo().filtered("chorus_pro_account_refused")
        if not companies:
            return
        companies.write({
            "chorus_pro_account_refused": False,
            "chorus_pro_account_message": False,
            "chorus_pro_account_fingerprint": False,
            "chorus_pro_account_checks": 0,
            "chorus_pro_account_next_check": False,
        })
        for company in companies:
            _logger.info("Chorus Pro: sending resumed for company %s: %s", company.id, why)
        self.env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_send")._trigger()


class ResPartner(models.Model):
    """The weekly directory job also reads the technical account's password expiry of each company."""

    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _cron_chorus_pro_update_directory(self, *args, **kwargs):
        done = super()._cron_chorus_pro_update_directory(*args, **kwargs)
        self.env["res.company"]._chorus_pro_refresh_password_expiries()
        return done


class ResConfigSettings(models.TransientModel):
    """The password expiry and the company-level message of a refused technical account, on the settings."""

    _inherit = "res.config.settings"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_password_expiry = fields.Date(related="company_id.chorus_pro_password_expiry")
    chorus_pro_password_expiry_read = fields.Datetime(related="company_id.chorus_pro_password_expiry_read")
    chorus_pro_password_expiry_manual = fields.Date(
        related="company_id.chorus_pro_password_expiry_manual", readonly=False
    )
    chorus_pro_account_message = fields.Text(related="company_id.chorus_pro_account_message")
