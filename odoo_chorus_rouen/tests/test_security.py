import logging

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import ChorusProCommon

SECRET_FIELDS = ("chorus_pro_client_secret", "chorus_pro_password")
ADMIN_ONLY_FIELDS = ("chorus_pro_client_id", "chorus_pro_client_secret", "chorus_pro_login", "chorus_pro_password")


@tagged("post_install", "-at_install")
class TestSecurity(ChorusProCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.sudo().write(
            {
                "chorus_pro_client_id": "app-id",
                "chorus_pro_client_secret": "Sup3r-s3cret-value",
                "chorus_pro_login": "TECH_1_test@cpro.fr",
                "chorus_pro_password": "Pa55-w0rd-value",
            }
        )
        cls.user_admin = cls.env.ref("base.user_admin")
        cls.user_admin.write({"company_ids": [(4, cls.company.id)]})

    def test_secrets_not_readable_by_non_admins(self):
        for user in (self.user_accountant, self.user_invoicing, self.user_employee):
            company = self.company.with_user(user)
            for fname in ADMIN_ONLY_FIELDS:
                with self.subTest(user=user.login, field=fname), self.assertRaises(AccessError):
                    company.read([fname])
            # Fields an accountant may see stay readable.
            self.assertEqual(company.read(["chorus_pro_environment"])[0]["chorus_pro_environment"], "qualification")

    def test_secrets_readable_by_admin(self):
        company = self.company.with_user(self.user_admin).with_company(self.company)
        values = company.read(list(ADMIN_ONLY_FIELDS))[0]
        self.assertEqual(values["chorus_pro_client_secret"], "Sup3r-s3cret-value")

    def test_settings_secret_fields(self):
        """Only settings administrators open the settings; the fields carry the group anyway."""
        Settings = self.env["res.config.settings"]
        for fname in ADMIN_ONLY_FIELDS:
            self.assertEqual(Settings._fields[fname].groups, "base.group_system")
            self.assertEqual(self.env["res.company"]._fields[fname].groups, "base.group_system")
        with self.assertRaises(AccessError):
            Settings.with_user(self.user_accountant).create({})
        arch = Settings.with_user(self.user_admin).get_views([(False, "form")])["views"]["form"]["arch"]
        for fname in SECRET_FIELDS:
            self.assertRegex(arch, rf'<field name="{fname}"[^>]*password="True"')
        self.assertIn('name="action_chorus_pro_test_connection"', arch)

    def test_secrets_never_logged_nor_in_messages(self):
        self.company.sudo().write({"chorus_pro_environment": "sandbox", "chorus_pro_base_url": "http://127.0.0.1:9"})
        with self.assertLogs("odoo.addons.odoo_chorus_rouen", level=logging.DEBUG) as logs:
            logging.getLogger("odoo.addons.odoo_chorus_rouen").debug("start")
            ok, lines = self.company._chorus_pro_test_connection()
        self.assertFalse(ok)
        text = "\n".join(logs.output + lines + [repr(self.company._chorus_pro_get_client())])
        for secret in ("Sup3r-s3cret-value", "Pa55-w0rd-value"):
            self.assertNotIn(secret, text)
        messages = (
            self.env["mail.message"]
            .sudo()
            .search(["|", ("body", "ilike", "Sup3r-s3cret"), ("body", "ilike", "Pa55-w0rd")])
        )
        self.assertFalse(messages)
        tracked = (
            self.env["mail.tracking.value"]
            .sudo()
            .search(["|", ("old_value_char", "ilike", "Sup3r-s3cret"), ("new_value_char", "ilike", "Sup3r-s3cret")])
        )
        self.assertFalse(tracked)

    def test_service_access_rights(self):
        Service = self.env["chorus.pro.service"]
        service = Service.create({"partner_id": self.budget_principal.id, "code": "DIR-FINANCES"})
        # Every internal user can read the services (the invoice checks need them)...
        self.assertEqual(service.with_user(self.user_employee).code, "DIR-FINANCES")
        # ...but only accounting users maintain them.
        with self.assertRaises(AccessError):
            Service.with_user(self.user_employee).create({"partner_id": self.budget_principal.id, "code": "X1"})
        created = Service.with_user(self.user_invoicing).create({"partner_id": self.budget_principal.id, "code": "X2"})
        with self.assertRaises(AccessError):
            created.with_user(self.user_invoicing).unlink()
        created.with_user(self.user_accountant).unlink()

    def test_service_multi_company_rule(self):
        other_company = self.setup_other_company()["company"]
        private = (
            self.env["res.partner"]
            .sudo()
            .create(
                {
                    "name": "Buyer of the other company",
                    "company_id": other_company.id,
                    "siret": "21769990900016",
                    "chorus_pro_recipient": True,
                }
            )
        )
        service = self.env["chorus.pro.service"].sudo().create({"partner_id": private.id, "code": "SERV-TECHNIQUE"})
        self.assertEqual(service.company_id, other_company)
        Service = self.env["chorus.pro.service"].with_user(self.user_accountant)
        self.assertFalse(Service.search([("id", "=", service.id)]))
        shared = self.env["chorus.pro.service"].create({"partner_id": self.budget_principal.id, "code": "DIR-VOIRIE"})
        self.assertEqual(Service.search([("id", "in", (service.id, shared.id))]), shared)


@tagged("post_install", "-at_install")
class TestSettingsReport(ChorusProCommon):
    """``chorus-rouen odoo check`` asks the server which settings are missing, never for their values."""

    def test_report_names_what_is_missing_and_no_value(self):
        self.company.sudo().write(
            {
                "chorus_pro_environment": "sandbox",
                "chorus_pro_base_url": False,
                "chorus_pro_client_id": "app-id",
                "chorus_pro_client_secret": "Sup3r-s3cret-value",
                "chorus_pro_login": False,
                "chorus_pro_password": "Pa55-w0rd-value",
            }
        )
        admin = self.env.ref("base.user_admin")
        admin.write({"company_ids": [(4, self.company.id)]})
        report = self.company.with_user(admin).chorus_pro_settings_report()
        self.assertEqual(len(report), 1)
        row = report[0]
        self.assertEqual(row["id"], self.company.id)
        self.assertTrue(row["started"])
        self.assertEqual(row["missing"], ["chorus_pro_base_url", "chorus_pro_login"])
        self.assertEqual(len(row["missing_labels"]), 2)
        flat = repr(report)
        self.assertNotIn("Sup3r-s3cret-value", flat)
        self.assertNotIn("Pa55-w0rd-value", flat)
        self.assertNotIn("app-id", flat)

    def test_report_is_for_settings_administrators_only(self):
        for user in (self.user_accountant, self.user_invoicing):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.company.with_user(user).chorus_pro_settings_report()
