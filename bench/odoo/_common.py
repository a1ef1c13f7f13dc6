"""Shared helpers of the Odoo-level benches (bench/odoo/*.py): start Odoo's registry, run the sandbox
in its own process, configure the company like ``odoo_chorus_rouen/tests/common.py`` does, make invoices.

The benches are plain Python scripts run with Odoo's interpreter; they take the Odoo source tree,
its configuration file and the database as arguments, build the registry themselves and commit
between phases (what ``odoo-bin shell`` cannot do comfortably). Nothing here is imported by the addon.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ADDON_REPO = Path(__file__).resolve().parents[2]  # the repo holding odoo_chorus_rouen/

#: The demo supplier of CONTRACTS.md, as tests/common.py sets it on the company.
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
SANDBOX_CREDENTIALS = {
    "chorus_pro_client_id": "sandbox-client-id",
    "chorus_pro_client_secret": "sandbox-client-secret",
    "chorus_pro_login": "TECH_1_sandbox@cpro.fr",
    "chorus_pro_password": "sandbox-password",
}
ENGAGEMENT = "EJ-2026-000123"
PARAM = "odoo_chorus_rouen."
LOADED = "?"  # addon_version() when start_odoo() loaded the registry


# --------------------------------------------------------------------------------------------------
# arguments, Odoo
# --------------------------------------------------------------------------------------------------
def parser(doc: str, sandbox_port: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    # No machine's paths here: options, else ODOO_SOURCE and ODOO_RC (Odoo's own variable for its configuration).
    source, conf = os.environ.get("ODOO_SOURCE"), os.environ.get("ODOO_RC")
    p.add_argument("--odoo", default=source, required=not source,
                   help="Odoo 18 source tree, the folder holding odoo-bin (default: ODOO_SOURCE)")
    p.add_argument("--conf", default=conf, required=not conf, help="Odoo configuration file (default: ODOO_RC)")
    p.add_argument("--db", required=True, help="database with odoo_chorus_rouen installed")
    p.add_argument("--sandbox-port", type=int, default=sandbox_port, help="port of the sandbox on 127.0.0.1")
    p.add_argument("--sandbox-python", default=sys.executable,
                   help="interpreter that runs this checkout's sandbox, with the toolkit's dependencies "
                        "(default: this one, Odoo's)")
    p.add_argument("--log-level", default="warn", help="Odoo log level (default: warn)")
    return p


def addons_path(args) -> str:
    """The addons path the benches give Odoo: this checkout's root first, so that the addon measured is the one
    beside this script whatever copy the configuration points at, then the configuration's ``addons_path``
    (``ODOO/odoo/addons`` and ``ODOO/addons``, Odoo's default, when it has none)."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(args.conf)
    configured = [entry.strip() for entry in conf.get("options", "addons_path", fallback="").split(",")]
    configured = [entry for entry in configured if entry and entry != "None"]
    if not configured:
        source = Path(args.odoo).resolve()
        configured = [str(path) for path in (source / "odoo" / "addons", source / "addons") if path.is_dir()]
    others = [entry for entry in configured if Path(entry).expanduser().resolve() != ADDON_REPO]
    return ",".join([str(ADDON_REPO), *others])


def odoo_options(args) -> list[str]:
    """odoo-bin's options for the configuration file and the addons path (:func:`addons_path`)."""
    return ["-c", args.conf, f"--addons-path={addons_path(args)}"]


def start_odoo(args, *, memory_limit: bool = False):
    """Import Odoo from ``args.odoo``, read the configuration, return ``(odoo, registry)``.

    :param memory_limit: apply Odoo's ``limit_memory_hard`` (RLIMIT_AS) to this process, as every
        Odoo server, cron worker and shell does.
    :raises RuntimeError: Odoo loaded the addon from another folder than this checkout.
    """
    global LOADED  # noqa: PLW0603
    LOADED = addon_version()  # the code this process loads
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.dont_write_bytecode = True
    sys.path.insert(0, str(Path(args.odoo).resolve()))
    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config([*odoo_options(args), "-d", args.db, f"--log-level={args.log_level}", "--no-http"])
    odoo.netsvc.init_logger()
    if memory_limit:
        odoo.service.server.set_limit_memory_hard()
    registry = Registry(args.db)
    import odoo.addons.odoo_chorus_rouen as addon  # noqa: PLC0415

    loaded = Path(addon.__file__).resolve().parent
    if loaded != ADDON_REPO / "odoo_chorus_rouen":
        raise RuntimeError(f"Odoo loaded odoo_chorus_rouen from {loaded}, not from this checkout ({ADDON_REPO}).")
    return odoo, registry


def addon_version() -> str:
    """The addon's code being measured: HEAD of the repo, and whether the addon's models/ differ from it
    (read-only git commands: nothing is written into the repo)."""
    def git(*argv):
        try:
            return subprocess.run(["git", "--no-optional-locks", "-C", str(ADDON_REPO), *argv], capture_output=True,
                                  text=True, timeout=10, check=False).stdout.strip()
        except OSError:
            return ""

    path = "odoo_chorus_rouen/models"
    head = git("rev-parse", "--short", "HEAD") or "?"
    changed = git("status", "--porcelain", "--", path)
    state = "as committed" if not changed else f"MODIFIED ({len(changed.splitlines())} file(s))"
    return f"HEAD {head}; {path} {state}"


def superuser_env(odoo, cr, context=None):
    return odoo.api.Environment(cr, odoo.SUPERUSER_ID, dict(context or {}))


# --------------------------------------------------------------------------------------------------
# the sandbox, in its own process
# --------------------------------------------------------------------------------------------------
def checkout_env() -> dict:
    """The environment of a child Python that must import this checkout's ``odoo_chorus_rouen`` as a plain
    package: the checkout first on ``PYTHONPATH``, before any other copy installed in that interpreter."""
    path = os.pathsep.join(filter(None, [str(ADDON_REPO), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, PYTHONDONTWRITEBYTECODE="1")


class Sandbox:
    """This checkout's sandbox started as ``PYTHON -m odoo_chorus_rouen.sandbox`` in its own process, and
    its control API (``/sandbox/...``) over HTTP."""

    def __init__(self, port: int, python: str = sys.executable, state: str | None = None, log: str | None = None,
                 supplier: str = "88412345600011:Normandie Services Numériques SAS"):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        argv = [python, "-m", "odoo_chorus_rouen.sandbox", "--port", str(port), "--delay", "0",
                "--supplier", supplier]
        if state:
            argv += ["--state", state]
        env = checkout_env()
        probe = subprocess.run([python, "-c", "import odoo_chorus_rouen; print(odoo_chorus_rouen.__file__)"],
                               capture_output=True, text=True, env=env, cwd="/", timeout=60, check=False)
        if probe.returncode != 0:
            reason = (probe.stderr.strip().splitlines() or ["no error message"])[-1]
            raise RuntimeError(f"{python} cannot import odoo_chorus_rouen from {ADDON_REPO} ({reason}): "
                               f"give --sandbox-python an interpreter with the toolkit's dependencies.")
        found = Path(probe.stdout.strip()).resolve().parent
        if found != ADDON_REPO / "odoo_chorus_rouen":
            raise RuntimeError(f"{python} imports odoo_chorus_rouen from {found}, not from this checkout "
                               f"({ADDON_REPO}): the sandbox would not be this checkout's.")
        self.log = open(log or os.devnull, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=self.log, env=env, cwd="/")
        deadline = time.time() + 20
        while True:
            try:
                self.state()
                break
            except (OSError, urllib.error.URLError):
                if self.process.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"the sandbox did not start on port {port} (exit {self.process.poll()})")
                time.sleep(0.2)

    def ctl(self, method: str, path: str, body=None, timeout: float = 120):
        data = json.dumps(body).encode() if body is not None else None
        # The control API refuses a change without this header (no cross-site request can send it).
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - loopback
            return json.loads(answer.read() or b"null")

    def state(self):
        return self.ctl("GET", "/sandbox/state", timeout=2)

    def calls(self) -> dict:
        return self.ctl("GET", "/sandbox/calls")

    def reset_calls(self):
        return self.ctl("DELETE", "/sandbox/calls")

    def deposits_of(self, number: str) -> int:
        return self.ctl("GET", "/sandbox/deposits?invoice=" + urllib.request.quote(number, safe=""))["count"]

    def invoices(self, number=None, flow=None) -> list[dict]:
        query = "&".join(f"{k}={urllib.request.quote(v, safe='')}" for k, v in (("number", number), ("flow", flow)) if v)
        return self.ctl("GET", "/sandbox/invoices" + ("?" + query if query else ""))["invoices"]

    def set_status(self, chorus_id, status, comment=None):
        return self.ctl("POST", f"/sandbox/invoices/{chorus_id}/status", {"status": status, "comment": comment})

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class OdooHttp:
    """An Odoo HTTP server on the database (no cron thread), so that wkhtmltopdf gets the report's CSS and
    fonts as in production: ``report.url`` is pointed at it. Without it, wkhtmltopdf fetches them from
    ``web.base.url`` (http://localhost:8069 in the lab) and renders an unstyled PDF when nobody answers there."""

    def __init__(self, args, port: int, log: str | None = None):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, str(Path(args.odoo) / "odoo-bin"), *odoo_options(args), "-d", args.db,
                f"--db-filter=^{args.db}$", f"--http-port={port}", "--http-interface=127.0.0.1",
                "--max-cron-threads=0", "--workers=0", "--log-level=warn"]
        self.log = open(log or os.devnull, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=self.log,
                                        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/web/login", timeout=5):  # noqa: S310 - loopback
                    break
            except (OSError, urllib.error.URLError):
                if self.process.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"the Odoo HTTP server did not start on port {port}")
                time.sleep(0.5)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def set_report_url(env, url: str | None):
    """``report.url`` (the base URL wkhtmltopdf loads the report assets from); None/"" removes it."""
    env["ir.config_parameter"].set_param("report.url", url or False)
    return url or env["ir.config_parameter"].get_param("web.base.url")


def url_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/web/login", timeout=3):  # noqa: S310 - loopback
            return True
    except (OSError, urllib.error.URLError):
        return False


# --------------------------------------------------------------------------------------------------
# the company and the invoices (tests/common.py + tests/test_posting.py, outside the test framework)
# --------------------------------------------------------------------------------------------------
def configure_company(env, sandbox_url: str, params: dict | None = None):
    """The main company as the demo supplier (SIRET, VAT, address, IBAN bank account), its Chorus Pro
    settings pointed at the sandbox; ``params``: ``odoo_chorus_rouen.*`` parameters to set. Idempotent.

    :return: dict with company, bank, budgets, budget_principal, customer, product, tax, journal.
    """
    company = env.ref("base.main_company")
    company.write({**DEMO_SUPPLIER, "country_id": env.ref("base.fr").id})
    Bank = env["res.partner.bank"]
    bank = Bank.search([("acc_number", "=", DEMO_SUPPLIER_IBAN), ("partner_id", "=", company.partner_id.id)],
                       limit=1)
    if not bank:
        res_bank = env["res.bank"].search([("bic", "=", DEMO_SUPPLIER_BIC)], limit=1) or env["res.bank"].create(
            {"name": "Crédit Agricole Normandie", "bic": DEMO_SUPPLIER_BIC})
        bank = Bank.create({"acc_number": DEMO_SUPPLIER_IBAN, "partner_id": company.partner_id.id,
                            "bank_id": res_bank.id, "allow_out_payment": True})
    company.write({"chorus_pro_environment": "sandbox", "chorus_pro_base_url": sandbox_url, **SANDBOX_CREDENTIALS})
    ICP = env["ir.config_parameter"]
    for key, value in (params or {}).items():
        ICP.set_param(PARAM + key, str(value))
    customer = env["res.partner"].search([("name", "=", "Ordinary Customer (bench)")], limit=1) or env[
        "res.partner"].create({"name": "Ordinary Customer (bench)", "is_company": True,
                               "country_id": env.ref("base.fr").id})
    tax = env["account.tax"].search([
        ("company_id", "=", company.id), ("type_tax_use", "=", "sale"), ("amount_type", "=", "percent"),
        ("amount", "=", 20.0), ("price_include", "=", False), ("active", "=", True),
    ], order="sequence, id", limit=1)
    assert tax, "no 20% sale tax in the company"
    product = env["product.product"].search([("default_code", "=", "BENCH-MAINT")], limit=1) or env[
        "product.product"].create({"name": "Network maintenance", "default_code": "BENCH-MAINT", "type": "service",
                                   "list_price": 250.0, "taxes_id": [(6, 0, tax.ids)]})
    journal = env["account.journal"].search([("type", "=", "sale"), ("company_id", "=", company.id)],
                                            order="sequence, id", limit=1)
    from odoo.addons.odoo_chorus_rouen.core.budgets import BUDGETS  # noqa: PLC0415

    budgets = {b.key: env.ref(f"odoo_chorus_rouen.partner_budget_{b.key}") for b in BUDGETS}
    return {
        "company": company, "bank": bank, "budgets": budgets, "budget_principal": budgets["principal"],
        "customer": customer, "product": product, "tax": tax, "journal": journal,
    }


def invoice_vals(setup, partner, *, engagement=ENGAGEMENT, price=250.0, quantity=3, **extra):
    """One customer invoice like tests/test_posting.py's ``make_invoice`` (one line, 20% tax)."""
    from odoo import Command, fields  # noqa: PLC0415

    vals = {
        "move_type": "out_invoice",
        "partner_id": partner.id,
        "journal_id": setup["journal"].id,
        "invoice_date": fields.Date.today(),
        "partner_bank_id": setup["bank"].id,
        "purchase_order_reference": engagement or False,
        "invoice_line_ids": [Command.create({
            "product_id": setup["product"].id,
            "name": "Network maintenance, November",
            "quantity": quantity,
            "price_unit": price,
            "tax_ids": [Command.set(setup["tax"].ids)],
        })],
    }
    vals.update(extra)
    return vals


def create_invoices(env, setup, partner, count, **kw):
    return env["account.move"].create([invoice_vals(setup, partner, **kw) for _ in range(count)])


def patch_client_timeout(registry, timeout: float):
    """Make the company's Chorus Pro client time out after ``timeout`` seconds instead of 30 (bench-side
    monkeypatch of ``res.company._chorus_pro_get_client``; the addon is not changed). Returns a list
    that collects every client built (their ``calls`` counters)."""
    Company = registry["res.company"]
    original = Company._chorus_pro_get_client
    built = []

    def _chorus_pro_get_client(self):
        client = original(self)
        client.timeout = timeout
        client._auth.timeout = timeout
        built.append(client)
        return client

    Company._chorus_pro_get_client = _chorus_pro_get_client
    return built


# --------------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------------
def table(rows, out=print):
    """Print ``rows`` (pairs) as a two-column table, like the core benches."""
    width = max(len(str(k)) for k, _v in rows)
    for key, value in rows:
        out(f"{str(key):<{width}}  {value}")


def median(values):
    return statistics.median(values) if values else float("nan")
