import logging

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..core.budgets import compact_siret, format_siret, is_valid_siret  # noqa: TID252
from ..core.errors import AuthenticationError, ChorusError  # noqa: TID252
from .chorus_pro_messages import code_message, error_message, message_env
from .res_partner import SIRET_INPUT_SIZE

_logger = logging.getLogger(__name__)

# Platforms reached at the URL typed on the settings (a local sandbox), not at PISTE's own URLs.
URL_ENVIRONMENTS = ("sandbox", "sandbox_qualification")
# Platforms that hold only the user's test data set (res_company_qualification.py).
QUALIFICATION_ENVIRONMENTS = ("qualification", "sandbox_qualification")

# Credentials every platform needs, in the order they are listed to the user.
CREDENTIAL_FIELDS = (
    "chorus_pro_client_id",
    "chorus_pro_client_secret",
    "chorus_pro_login",
    "chorus_pro_password",
)


class ResCompany(models.Model):
    _inherit = "res.company"  # pylint: disable=consider-merging-classes-inherited  # one concern per file

    siret = fields.Char(size=SIRET_INPUT_SIZE)  # pasted with spaces, stored compact (res_partner.py)

    chorus_pro_environment = fields.Selection(
        selection=[
            ("qualification", "Qualification (test platform)"),
            ("production", "Production"),
            ("sandbox", "Sandbox (custom URL)"),
            ("sandbox_qualification", "Qualification sandbox (custom URL)"),
        ],
        string="Chorus Pro Platform",
        default="qualification",
        required=True,
        help="Qualification: the official test platform (PISTE sandbox); it holds only your test data set.\n"
        "Production: real invoices.\n"
        "Sandbox: a local simulator reached at the URL below (tests, demonstrations).\n"
        "Qualification sandbox: a local simulator started with 'chorus-rouen sandbox --platform "
        "qualification'; invoices go to your test data set as on qualification.\n"
        "A neutralized copy of the database is always switched back to qualification.",
    )
    chorus_pro_base_url = fields.Char(
        string="Chorus Pro Sandbox URL",
        help="Base URL of the simulator, e.g. http://127.0.0.1:8090 (used with the Sandbox platforms only).",
    )
    chorus_pro_client_id = fields.Char(
        string="Chorus Pro Client ID",
        groups="base.group_system",
        copy=False,
        help="Client ID of the PISTE application (OAuth2) subscribed to the Chorus Pro APIs.",
    )
    chorus_pro_client_secret = fields.Char(
        string="Chorus Pro Client Secret",
        groups="base.group_system",
        copy=False,
        help="Client secret of the PISTE application. Only administrators can read it.",
    )
    chorus_pro_login = fields.Char(
        string="Chorus Pro Technical Account",
        groups="base.group_system",
        copy=False,
        help="Login of the Chorus Pro technical account, e.g. TECH_1_xxx@cpro.fr.",
    )
    chorus_pro_password = fields.Char(
        string="Chorus Pro Technical Account Password",
        groups="base.group_system",
        copy=False,
        help="Password of the Chorus Pro technical account. Only administrators can read it.",
    )
    chorus_pro_layout = fields.Selection(
        selection=[
            ("direct", "Direct deposit"),
            ("reform", "2026 reform"),
        ],
        string="Chorus Pro Invoice Layout",
        default="direct",
        required=True,
        help="Direct deposit: the layout Chorus Pro accepts for API deposits (SIRET in BT-30/BT-47, "
        "framework A1/A2 in BT-23).\n2026 reform layout: SIREN in BT-30/BT-47, SIRET in BT-29/BT-46, "
        "reform business process codes and electronic addresses.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        return super().create([self.env["res.partner"]._chorus_pro_clean_vals(dict(vals)) for vals in vals_list])

    def write(self, vals):
        return super().write(self.env["res.partner"]._chorus_pro_clean_vals(dict(vals)))

    # ------------------------------------------------------------------
    # Client factory
    # ------------------------------------------------------------------

    def _chorus_pro_missing_settings(self):
        """Labels (translated) of the settings that must still be filled before calling Chorus Pro."""
        self.ensure_one()
        company = self.sudo()
        names = list(CREDENTIAL_FIELDS)
        if company.chorus_pro_environment in URL_ENVIRONMENTS:
            names.insert(0, "chorus_pro_base_url")
        env = message_env(self.env)
        return [company._fields[name]._description_string(env) for name in names if not (company[name] or "").strip()]

    def chorus_pro_settings_report(self):
        """Public (RPC): which Chorus Pro settings each company still lacks, never their values.

        ``chorus-rouen odoo check`` asks this instead of reading the client secret and the password
        over the network only to see whether they are filled.

        :return: one dict per company: ``id``, ``name``, ``environment``, ``started`` (some
            credential is filled), ``missing`` (field names) and ``missing_labels`` (translated).
        :raises AccessError: the user is not a settings administrator (the fields' own group).
        """
        if not self.env.user.has_group("base.group_system"):
            raise AccessError(_("Only administrators (Settings) can check the Chorus Pro settings."))
        report = []
        for company in self.sudo():
            names = list(CREDENTIAL_FIELDS)
            if company.chorus_pro_environment in URL_ENVIRONMENTS:
                names.insert(0, "chorus_pro_base_url")
            missing = [name for name in names if not (company[name] or "").strip()]
            report.append({
                "id": company.id,
                "name": company.name,
                "environment": company.chorus_pro_environment,
                "started": any((company[name] or "").strip() for name in CREDENTIAL_FIELDS),
                "missing": missing,
                "missing_labels": company._chorus_pro_missing_settings(),
            })
        return report

    def _chorus_pro_is_configured(self):
        """Whether every setting needed to call Chorus Pro is filled (nothing is contacted)."""
        self.ensure_one()
        return not self._chorus_pro_missing_settings()

    def _chorus_pro_get_client(self):
        """The Chorus Pro client of this company, built from its settings (read with sudo).

        This is the only place the ORM builds a client: tests patch it.

        :return: ``odoo_chorus_rouen.core.client.ChorusClient``
        :raises UserError: some settings are missing or unusable (the message lists them).
        """
        self.ensure_one()
        # Imported here: the client pulls in requests, which only the network paths need.
        from ..core.auth import Credentials, Endpoints, Environment  # noqa: TID252
        from ..core.client import ChorusClient  # noqa: TID252

        missing = self._chorus_pro_missing_settings()
        if missing:  # the labels and the sentence in one language, also over RPC without a context
            raise UserError(code_message(message_env(self.env), "missing_credentials", company=self.name,
                                         fields=", ".join(missing)))
        company = self.sudo()
        try:
            if company.chorus_pro_environment in URL_ENVIRONMENTS:
                endpoints = Endpoints.from_base_url(company.chorus_pro_base_url.strip())
                if endpoints.is_production and company.chorus_pro_environment == "sandbox_qualification":
                    raise UserError(_(
                        "The sandbox URL of %(company)s points at the production Chorus Pro platform: a sandbox "
                        "playing qualification never sends there. Give the URL of your local sandbox.",
                        company=self.name,
                    ))
            else:
                endpoints = Endpoints.for_environment(Environment(company.chorus_pro_environment))
            credentials = Credentials(
                client_id=company.chorus_pro_client_id.strip(),
                client_secret=company.chorus_pro_client_secret,
                login=company.chorus_pro_login.strip(),
                password=company.chorus_pro_password,
            )
            if endpoints.is_production and self._chorus_pro_is_neutralized_database():
                raise UserError(
                    _(
                        "This database is a neutralized copy: it never sends anything to the production Chorus Pro "
                        "platform. Choose the Qualification or Sandbox platform for %(company)s.",
                        company=self.name,
                    )
                )
            return ChorusClient(credentials, endpoints)
        except ChorusError as err:
            raise UserError(error_message(self.env, err, company=self.name)) from err
        except ValueError as err:  # an unknown environment key
            raise UserError(code_message(self.env, "configuration_error", company=self.name, fields=str(err))) from err

    def _chorus_pro_is_neutralized_database(self):
        return bool(self.env["ir.config_parameter"].sudo().get_param("database.is_neutralized"))

    # ------------------------------------------------------------------
    # Test connection
    # ------------------------------------------------------------------

    def _chorus_pro_test_connection(self):
        """Try the settings step by step and say, in words, what works and what does not.

        Steps: settings filled; access token from PISTE and Chorus Pro API (health check);
        technical account and directory (the company's own SIRET looked up in the directory).

        :return: ``(ok, lines)``: whether everything works, and one translated sentence per step.
        """
        self.ensure_one()
        try:
            client = self._chorus_pro_get_client()
        except UserError as err:
            return False, [err.args[0]]
        lines = [_("Settings: complete (platform: %(platform)s).", platform=self._chorus_pro_platform_label())]
        try:
            try:
                available = client.health_check()
            except ChorusError as err:
                _logger.info("Chorus Pro connection test of company %s failed: %s", self.id, err)
                if err.params.get("operation") == "token":
                    lines.append(_("Access token: PISTE did not give one."))
                elif isinstance(err, AuthenticationError):
                    lines.append(_("Access token: obtained, the client ID and secret are accepted."))
                    lines.append(_("Chorus Pro API: the technical account (login or password) is refused."))
                else:
                    lines.append(_("Access token: obtained, the client ID and secret are accepted."))
                    lines.append(_("Chorus Pro API: the call failed."))
                lines.append(error_message(self.env, err, company=self.name))
                return False, lines
            lines.append(_("Access token: obtained, the client ID and secret are accepted."))
            if not available:
                lines.append(_("Chorus Pro API: reached, but it says it is not available right now."))
                return False, lines
            lines.append(_("Chorus Pro API: reached and available."))
            try:
                return self._chorus_pro_test_own_structure(client, lines), lines
            except ChorusError as err:
                _logger.info("Chorus Pro directory test of company %s failed: %s", self.id, err)
                if isinstance(err, AuthenticationError):
                    lines.append(_("Technical account: refused by Chorus Pro (check its login and password)."))
                else:
                    lines.append(_("Directory: the search for the company's SIRET failed."))
                lines.append(error_message(self.env, err, company=self.name))
                return False, lines
        finally:
            client.close()

    def _chorus_pro_supplier_siret(self):
        """The SIRET the company deposits as (the seller of its invoices on Chorus Pro): its own SIRET;
        on qualification the test supplier of its data set (res_company_qualification.py)."""
        self.ensure_one()
        return compact_siret(self.siret or "")

    def _chorus_pro_test_own_structure(self, client, lines):
        siret = self._chorus_pro_supplier_siret()
        if not siret:
            lines.append(_("Directory: the company has no SIRET; enter it in the company's settings to send invoices."))
            return False
        if not is_valid_siret(siret):
            lines.append(_("Directory: the company's SIRET %(siret)s is not valid.", siret=siret))
            return False
        structures = client.search_structures(siret, all_private=True)  # attached or not: said apart below
        if not structures:
            lines.append(
                _(
                    "Directory: Chorus Pro does not know the SIRET %(siret)s. Register the company on the "
                    "Chorus Pro portal of this platform and attach the technical account to it.",
                    siret=format_siret(siret),
                )
            )
            return False
        structure = structures[0]
        lines.append(
            _(
                "Technical account and directory: your SIRET %(siret)s is the Chorus Pro structure "
                "%(structure)s (%(name)s).",
                siret=format_siret(siret),
                structure=structure.structure_id,
                name=structure.name or "",
            )
        )
        if structure.active is False:
            lines.append(_("Warning: this structure is inactive on Chorus Pro."))
            return False
        return True

    def _chorus_pro_platform_label(self):
        self.ensure_one()
        selection = dict(self._fields["chorus_pro_environment"]._description_selection(self.env))
        label = selection.get(self.chorus_pro_environment, self.chorus_pro_environment)
        if self.chorus_pro_environment in URL_ENVIRONMENTS:
            label = f"{label} {self.sudo().chorus_pro_base_url}"
        return label

    def action_chorus_pro_test_connection(self):
        """Button: test the Chorus Pro settings and show the result in a notification."""
        self.ensure_one()
        ok, lines = self._chorus_pro_test_connection()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Chorus Pro connection works") if ok else _("Chorus Pro connection does not work"),
                "message": " ".join(lines),
                "type": "success" if ok else "danger",
                "sticky": not ok,
            },
        }
