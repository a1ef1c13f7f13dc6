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

The invoice PDF the Factur-X is built on comes from wkhtmltopdf when Odoo finds it; without it (a
bare test machine), :func:`blank_pdf` stands in for wkhtmltopdf's output so that the rest of the
chain (Factur-X, PDF/A-3 conversion and check, deposit) still runs for real.
"""

import io
import logging
import sys
from pathlib import Path
from unittest.mock import patch

from odoo.tests import new_test_user

import odoo.addons.odoo_chorus_rouen as addon_under_test
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


_logger = logging.getLogger(__name__)


class ToolkitMismatch(RuntimeError):
    """Odoo's Python imports another copy of the ``odoo_chorus_rouen`` package than the addon under test."""


def import_sandbox_server():
    """``odoo_chorus_rouen.sandbox.SandboxServer``, the sandbox as the stand-alone program it is.

    The sandbox is a separate server: it is imported as the plain ``odoo_chorus_rouen`` package
    (as ``chorus-rouen sandbox`` runs it), not through ``odoo.addons``. When the package is not
    installed in Odoo's Python, the folder holding the addon is put on ``sys.path`` for that.

    :raises ToolkitMismatch: the plain package Odoo's Python imports is another copy (a stale
        ``pip install``, another checkout's ``pip install -e``) than the addon under test: the
        tests would run that copy's sandbox, not this checkout's.
    """
    addon = Path(addon_under_test.__file__).resolve().parent
    try:
        import odoo_chorus_rouen as toolkit
    except ModuleNotFoundError:
        sys.path.append(str(addon.parent))
        import odoo_chorus_rouen as toolkit
    if toolkit.__file__:
        imported = Path(toolkit.__file__).resolve().parent
    else:  # a namespace package: a folder of that name without __init__.py
        imported = Path(next(iter(toolkit.__path__), "?")).resolve()
    if imported != addon:
        raise ToolkitMismatch(
            f"Odoo's Python imports the odoo_chorus_rouen package from {imported}, not from the addon under "
            f"test, {addon}, so these tests would run another copy's sandbox: start Odoo with "
            f"PYTHONPATH={addon.parent} (or pip install -e {addon.parent} in Odoo's Python)."
        )
    from odoo_chorus_rouen.sandbox import SandboxServer

    return SandboxServer


def blank_pdf(bodies) -> bytes:
    """What the tests render instead of wkhtmltopdf when it is not installed: one blank A4 page per
    HTML body (no text, hence no font to embed), a valid PDF for Factur-X and the PDF/A-3 conversion."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _body in bodies or [""]:
        writer.add_blank_page(width=595, height=842)
    stream = io.BytesIO()
    writer.write(stream)
    return stream.getvalue()


def _blank_pdf_instead_of_wkhtmltopdf(_report, bodies, *_args, **_kwargs):
    return blank_pdf(bodies)


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
        cls._invoice_pdf_for_tests()

    @classmethod
    def _invoice_pdf_for_tests(cls):
        """The send job forces a real PDF rendering of the invoice (Odoo's test mode would give HTML).

        With wkhtmltopdf: Odoo makes it wait ``report.print_delay`` (1 s by default) after loading each page,
        for scripts still running; nothing the tests check depends on it, and the suite renders about 80
        PDFs, so the delay is 0 for the class. Without a working wkhtmltopdf: :func:`blank_pdf` stands in
        for it, for the class only.
        """
        Report = type(cls.env["ir.actions.report"])
        state = cls.env["ir.actions.report"].get_wkhtmltopdf_state()
        if state == "ok":
            cls.env["ir.config_parameter"].sudo().set_param("report.print_delay", "0")
            return
        _logger.info("wkhtmltopdf is %s: the invoice PDFs of %s are blank pages (Factur-X, PDF/A-3 and "
                     "deposits are real)", "not installed" if state == "install" else f"unusable ({state})",
                     cls.__name__)
        cls.startClassPatcher(patch.object(Report, "get_wkhtmltopdf_state", lambda _self: "ok"))
        cls.startClassPatcher(patch.object(Report, "_run_wkhtmltopdf", _blank_pdf_instead_of_wkhtmltopdf))

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
