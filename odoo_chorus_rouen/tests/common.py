"""Shared set-up of the addon's Odoo tests (both engineers' test modules build on it).

``ChorusProCommon`` gives:

* ``cls.company``: a French company (chart ``fr``) that is the demo supplier of CONTRACTS.md:
  SIRET 88412345600011, VAT FR52884123456, IBAN FR7630006000011234567890189 (``cls.company_bank``);
  its Chorus Pro settings are empty until :meth:`start_chorus_sandbox` fills them;
* ``cls.metropole`` and ``cls.budgets[key]`` (keys of ``core.budgets.BUDGETS``) from the addon's
  data, ``cls.budget_principal`` for short;
* users, all in ``cls.company`` only:
  ``cls.user_accountant`` (Invoicing administrator, ``account.group_account_manager``: may send and
  resend to Chorus Pro), ``cls.user_invoicing`` (plain ``account.group_account_invoice``), and
  ``cls.user_employee`` (internal user without accounting rights). None is a settings administrator.
  ``cls.env`` itself runs as Odoo's test user "accountman", who also has the Settings rights.
* :meth:`start_chorus_sandbox`: the project's sandbox on 127.0.0.1 (free port) for the class,
  the company's settings pointed at it with its credentials.
"""

import sys
from pathlib import Path

from odoo.modules.module import get_module_path
from odoo.tests import new_test_user

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.addons.odoo_chorus_rouen.core.auth import Credentials
from odoo.addons.odoo_chorus_rouen.core.budgets import BUDGETS

DEMO_SUPPLIER = {
    "name": "Normandie Services Numériques SAS",
    "siret": "88412345600011",
    "vat": "FR52884123456",
    "street": "12 rue Jeanne d'Arc",
    "zip": "76000",
    "city": "Rouen",
}
DEMO_SUPPLIER_IBAN = "FR7630006000011234567890189"
DEMO_SUPPLIER_BIC = "AGRIFRPP"

# Groups of the test users (comma-separated XML ids, as new_test_user wants them).
GROUPS_ACCOUNTANT = "base.group_user,base.group_partner_manager,account.group_account_manager"
GROUPS_INVOICING = "base.group_user,base.group_partner_manager,account.group_account_invoice"
GROUPS_EMPLOYEE = "base.group_user"


def import_sandbox_server():
    """``odoo_chorus_rouen.sandbox.SandboxServer``, the sandbox as the stand-alone program it is.

    The sandbox is a separate server: it is imported as the plain ``odoo_chorus_rouen`` package
    (as ``chorus-rouen sandbox`` runs it), not through ``odoo.addons``. When the package is not
    installed in Odoo's Python, the folder holding the addon is put on ``sys.path`` for that.
    """
    try:
        from odoo_chorus_rouen.sandbox import SandboxServer
    except ModuleNotFoundError:
        sys.path.append(str(Path(get_module_path("odoo_chorus_rouen")).parent))
        from odoo_chorus_rouen.sandbox import SandboxServer
    return SandboxServer


class ChorusProCommon(AccountTestInvoicingCommon):
    @classmethod
    @AccountTestInvoicingCommon.setup_country("fr")
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.company_data["company"]
        cls.company.sudo().write({**DEMO_SUPPLIER, "country_id": cls.env.ref("base.fr").id})
        bank = cls.env["res.bank"].create({"name": "Crédit Agricole Normandie", "bic": DEMO_SUPPLIER_BIC})
        cls.company_bank = cls.env["res.partner.bank"].create(
            {
                "acc_number": DEMO_SUPPLIER_IBAN,
                "partner_id": cls.company.partner_id.id,
                "bank_id": bank.id,
                "allow_out_payment": True,
            }
        )

        cls.metropole = cls.env.ref("odoo_chorus_rouen.partner_metropole_rouen")
        cls.budgets = {budget.key: cls.env.ref(f"odoo_chorus_rouen.partner_budget_{budget.key}") for budget in BUDGETS}
        cls.budget_principal = cls.budgets["principal"]

        user_values = {"company_id": cls.company.id, "company_ids": [(6, 0, cls.company.ids)]}
        cls.user_accountant = new_test_user(cls.env, "chorus_accountant", GROUPS_ACCOUNTANT, **user_values)
        cls.user_invoicing = new_test_user(cls.env, "chorus_invoicing", GROUPS_INVOICING, **user_values)
        cls.user_employee = new_test_user(cls.env, "chorus_employee", GROUPS_EMPLOYEE, **user_values)

        cls.chorus_sandbox = None

    @classmethod
    def start_chorus_sandbox(cls, company=None, **options):
        """Start the project's Chorus Pro sandbox for the whole class and point ``company`` at it.

        :param options: passed to ``SandboxServer`` (``port=0``: a free port; state in memory).
        :return: the running ``SandboxServer`` (also ``cls.chorus_sandbox``); stopped after the class.
        """
        SandboxServer = import_sandbox_server()
        options.setdefault("port", 0)
        server = SandboxServer(**options)
        server.__enter__()
        cls.addClassCleanup(server.__exit__, None, None, None)
        cls.chorus_sandbox = server
        cls.set_chorus_sandbox_settings(company or cls.company, server)
        return server

    @classmethod
    def set_chorus_sandbox_settings(cls, company, server=None, **overrides):
        """Company settings for the sandbox: environment "sandbox", its URL and its credentials."""
        server = server or cls.chorus_sandbox
        credentials = Credentials.coerce(server.credentials)
        company.sudo().write(
            {
                "chorus_pro_environment": "sandbox",
                "chorus_pro_base_url": server.url,
                "chorus_pro_client_id": credentials.client_id,
                "chorus_pro_client_secret": credentials.client_secret,
                "chorus_pro_login": credentials.login,
                "chorus_pro_password": credentials.password,
                **overrides,
            }
        )
