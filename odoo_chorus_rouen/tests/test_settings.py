from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.odoo_chorus_rouen.core.auth import Environment
from odoo.addons.odoo_chorus_rouen.core.errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    InputError,
    OutcomeUnknownError,
    TransportError,
)
from odoo.addons.odoo_chorus_rouen.models.chorus_pro_messages import MESSAGES, code_message, error_message

from .common import ChorusProCommon

CORE_CODES = (
    "configuration_error",
    "missing_credentials",
    "authentication_error",
    "transport_error",
    "outcome_unknown",
    "api_error",
    "invalid_response",
    "input_error",
    "invalid_siret",
    "invoice_data_error",
)


@tagged("post_install", "-at_install")
class TestSettings(ChorusProCommon):
    def test_defaults(self):
        self.assertEqual(self.company.chorus_pro_environment, "qualification")
        self.assertEqual(self.company.chorus_pro_layout, "direct")
        self.assertFalse(self.company._chorus_pro_is_configured())

    def test_settings_page_writes_the_company(self):
        settings = (
            self.env["res.config.settings"]
            .sudo()
            .create(
                {
                    "chorus_pro_environment": "production",
                    "chorus_pro_client_id": "app-id",
                    "chorus_pro_client_secret": "app-secret",
                    "chorus_pro_login": "TECH_1_test@cpro.fr",
                    "chorus_pro_password": "tech-password",
                    "chorus_pro_layout": "reform",
                }
            )
        )
        settings.execute()
        company = self.company.sudo()
        self.assertEqual(company.chorus_pro_environment, "production")
        self.assertEqual(company.chorus_pro_client_secret, "app-secret")
        self.assertEqual(company.chorus_pro_password, "tech-password")
        self.assertEqual(company.chorus_pro_layout, "reform")
        self.assertTrue(company._chorus_pro_is_configured())

    def test_client_needs_every_setting(self):
        with self.assertRaises(UserError) as catcher:
            self.company._chorus_pro_get_client()
        message = catcher.exception.args[0]
        for label in ("Client ID", "Client Secret", "Technical Account", "Technical Account Password"):
            self.assertIn(label, message)
        self.assertIn(self.company.name, message)

        self.company.sudo().write(
            {
                "chorus_pro_environment": "sandbox",
                "chorus_pro_client_id": "id",
                "chorus_pro_client_secret": "secret",
                "chorus_pro_login": "login",
                "chorus_pro_password": "password",
            }
        )
        with self.assertRaises(UserError) as catcher:
            self.company._chorus_pro_get_client()
        self.assertIn("Sandbox URL", catcher.exception.args[0])
        self.assertNotIn("Client ID", catcher.exception.args[0])

        self.company.sudo().chorus_pro_base_url = "   "
        with self.assertRaises(UserError) as catcher:
            self.company._chorus_pro_get_client()
        self.assertIn("Sandbox URL", catcher.exception.args[0], "blank values count as missing")

        self.company.sudo().chorus_pro_base_url = "not a url"
        with self.assertRaises(UserError) as catcher:
            self.company._chorus_pro_get_client()
        self.assertIn("not a url", catcher.exception.args[0])

    def test_client_per_platform(self):
        company = self.company.sudo()
        company.write(
            {
                "chorus_pro_client_id": "id",
                "chorus_pro_client_secret": "secret",
                "chorus_pro_login": "login",
                "chorus_pro_password": "password",
            }
        )
        client = self.company._chorus_pro_get_client()
        self.assertEqual(client.endpoints.environment, Environment.QUALIFICATION)
        self.assertFalse(client.endpoints.is_production)
        self.assertEqual(client.credentials.client_id, "id")
        company.chorus_pro_environment = "production"
        self.assertTrue(self.company._chorus_pro_get_client().endpoints.is_production)
        company.write({"chorus_pro_environment": "sandbox", "chorus_pro_base_url": "http://127.0.0.1:9/"})
        client = self.company._chorus_pro_get_client()
        self.assertEqual(client.endpoints.api_url, "http://127.0.0.1:9")
        self.assertEqual(client.endpoints.token_url, "http://127.0.0.1:9/api/oauth/token")

    def test_non_admin_can_use_the_client(self):
        """Accountants cannot read the secrets, but the factory reads them for them (sudo)."""
        self.company.sudo().write(
            {
                "chorus_pro_client_id": "id",
                "chorus_pro_client_secret": "secret",
                "chorus_pro_login": "login",
                "chorus_pro_password": "password",
            }
        )
        for user in (self.user_accountant, self.user_invoicing):
            client = self.company.with_user(user)._chorus_pro_get_client()
            self.assertEqual(client.credentials.client_secret, "secret")

    def test_messages_cover_core_codes(self):
        for code in CORE_CODES:
            with self.subTest(code=code):
                self.assertIn(code, MESSAGES)
                self.assertTrue(code_message(self.env, code))  # missing parameters render as "?"
        errors = [
            ConfigurationError("missing_credentials", params={"fields": "client_id"}),
            AuthenticationError(params={"reason": "invalid_client"}),
            TransportError(params={"reason": "timeout"}),
            OutcomeUnknownError(params={"operation": "deposerFluxFacture"}),
            ApiError(http_status=500, chorus_code=20001, chorus_label="GDP_MSG_11.022"),
            InputError(params={"reason": "not XML"}),
        ]
        for err in errors:
            with self.subTest(code=err.code):
                message = error_message(self.env, err, company=self.company.name)
                self.assertNotIn("%(", message)
        self.assertIn("invalid_client", error_message(self.env, errors[1]))
        self.assertIn("GDP_MSG_11.022", error_message(self.env, errors[4]))
        unknown = ConfigurationError("some_future_code", "Something new")
        self.assertIn("Something new", error_message(self.env, unknown))


@tagged("post_install", "-at_install")
class TestConnection(ChorusProCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_chorus_sandbox()

    def _test_connection(self, company=None):
        company = company or self.company
        action = company.action_chorus_pro_test_connection()
        self.assertEqual(action["tag"], "display_notification")
        return action["params"]

    def test_connection_ok(self):
        settings = self.env["res.config.settings"].sudo().create({})
        params = settings.action_chorus_pro_test_connection()["params"]
        self.assertEqual(params["type"], "success", params["message"])
        self.assertFalse(params["sticky"])
        self.assertIn("Access token: obtained", params["message"])
        self.assertIn("reached and available", params["message"])
        self.assertIn("884 123 456 00011", params["message"])
        self.assertIn("36000001", params["message"])  # the sandbox's structure id of the demo supplier

    def test_connection_wrong_secret(self):
        self.company.sudo().chorus_pro_client_secret = "wrong-secret"
        with mute_logger("odoo.addons.odoo_chorus_rouen"):
            params = self._test_connection()
        self.assertEqual(params["type"], "danger")
        self.assertTrue(params["sticky"])
        self.assertIn("Access token: PISTE did not give one", params["message"])
        self.assertIn("refused the credentials", params["message"])
        self.assertIn("client secret", params["message"])
        self.assertNotIn("wrong-secret", params["message"])

    def test_connection_wrong_password(self):
        self.company.sudo().chorus_pro_password = "wrong-password"
        with mute_logger("odoo.addons.odoo_chorus_rouen"):
            params = self._test_connection()
        self.assertEqual(params["type"], "danger")
        self.assertIn("Access token: obtained", params["message"])
        self.assertIn("technical account", params["message"])
        self.assertNotIn("wrong-password", params["message"])

    def test_connection_unreachable(self):
        self.company.sudo().chorus_pro_base_url = "http://127.0.0.1:9"  # discard port: nothing listens
        with mute_logger("odoo.addons.odoo_chorus_rouen"):
            params = self._test_connection()
        self.assertEqual(params["type"], "danger")
        self.assertIn("could not be reached", params["message"])

    def test_connection_missing_settings(self):
        self.company.sudo().chorus_pro_login = False
        params = self._test_connection()
        self.assertEqual(params["type"], "danger")
        self.assertIn("Technical Account", params["message"])

    def test_connection_company_unknown_to_chorus(self):
        self.company.sudo().siret = "73282932000074"
        params = self._test_connection()
        self.assertEqual(params["type"], "danger")
        self.assertIn("Access token: obtained", params["message"])
        self.assertIn("does not know the SIRET 732 829 320 00074", params["message"])

    def test_connection_company_without_siret(self):
        self.company.sudo().siret = False
        params = self._test_connection()
        self.assertEqual(params["type"], "danger")
        self.assertIn("no SIRET", params["message"])
