"""``chorus-rouen odoo demo``: the addon at work in your own Odoo 18, in one command.

Against a running Odoo 18 whose addons path holds this repository, through its database manager
and the addon's public methods (nothing of the addon's logic is redone here):

1. creates a **new** database (French company, no Odoo demo data) and installs the addon, which
   pulls in ``account``, ``l10n_fr_account`` and the French chart (plus the sale bridge
   ``odoo_chorus_rouen_sale`` when the server has it);
2. starts the project's Chorus Pro sandbox on 127.0.0.1 in this process and points the demo
   company's Chorus Pro settings at it (the Odoo server must run on this machine);
3. gives the company a believable supplier identity (SIRET, VAT, IBAN), registers it in the
   sandbox, reads the budgets from the Chorus Pro directory and creates invoices to four budgets:
   one refused at posting, one rejected by Chorus Pro, one paid, one the buyer asks to recycle
   (recycled through the addon's wizard), and a credit note;
4. runs the addon's send and status-sync jobs as ``chorus-rouen odoo sync`` does, plays the buyer in
   the sandbox, and prints what happened to each invoice, read back from Odoo;
5. keeps the sandbox running until Ctrl-C, so that the invoices can be clicked through.

The database is marked as a demo database: ``--reset`` and ``--drop`` only ever drop a database
this command created.
"""

from __future__ import annotations

import argparse
import errno
import getpass
import ipaddress
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from . import odoo_ops
from .core.budgets import BUDGETS
from .core.status import flow_status
from .odoo_ops import ADDON, MOVE, SEND_CRON, STATE_LABELS, SYNC_CRON, OdooError, call

DEFAULT_DB = "chorus_rouen_demo"
DEFAULT_SANDBOX_PORT = 8090
DEFAULT_LOGIN = "admin"
DEFAULT_PASSWORD = "admin"
SALE_BRIDGE = "odoo_chorus_rouen_sale"
#: ir.config_parameter set in every database this command creates: only those are ever dropped.
DEMO_MARKER = "odoo_chorus_rouen.demo_database"
#: What a worker of a multi-process Odoo answers while it still holds the registry of a database of the same
#: name that was just dropped (``--reset``): it reloads once the new database's modules are installed.
STALE_REGISTRY_RE = re.compile(r"(column|relation) \S+ does not exist")
STALE_REGISTRY_TRIES = 40
#: Database names Odoo's database manager accepts (odoo/service/db.py, DBNAME_PATTERN).
DBNAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
#: Longest wait for the sandbox to process flows and route invoices, in seconds.
PLATFORM_TIMEOUT = 60.0
#: Creating a database and installing accounting take minutes: RPC timeout of those calls.
LONG_TIMEOUT = 1800.0

INVOICE_ACTION_XMLID = "account.action_move_out_invoice_type"
INVOICE_ACTION = f"action-{INVOICE_ACTION_XMLID}"
FILTER_NAME = "Chorus Pro"

SUPPLIER = {
    "name": "Atelier Numérique de la Seine SAS",
    "siret": "91248763400012",
    "vat": "FR15912487634",
    "street": "27 quai de Paris",
    "zip": "76000",
    "city": "Rouen",
    "email": "facturation@atelier-numerique-seine.example",
    "phone": "+33 2 35 00 12 34",
}
SUPPLIER_IBAN = "FR7630004001230001234567843"
SUPPLIER_BANK = {"name": "BNP Paribas Rouen", "bic": "BNPAFRPPXXX"}

ENV_HELP = """environment variables:
  ODOO_URL              URL of the Odoo server (default http://127.0.0.1:8069)
  ODOO_MASTER_PASSWORD  the database manager's master password (asked without echo when missing)
ODOO_DB is not read: the demo only ever creates the database named by --db (default chorus_rouen_demo)."""


# --------------------------------------------------------------------------------------------
# The story: what each invoice is and where it must end
# --------------------------------------------------------------------------------------------


@dataclass
class Case:
    """One invoice of the demo, the buyer's part, and the state it must end in."""

    key: str
    kind: str  # shown in the table
    budget_key: str
    lines: list[tuple[str, float, float]]  # description, quantity, unit price (excl. VAT)
    engagement: str = ""
    service_code: str = ""
    credit_note_of: str = ""  # key of the invoice a credit note corrects
    buyer_status: str = ""  # what the buyer sets once the invoice is delivered
    buyer_comment: str = ""
    closes_service: bool = False  # the buyer closes the service on Chorus Pro after Odoo read the directory
    recycle_engagement: str = ""  # the corrected engagement number, through the recycle wizard
    expected_state: str | None = None  # chorus_pro_state at the end (None: not posted)
    expected_status: str = ""  # Chorus Pro status at the end ("" when never on Chorus Pro)
    move_id: int = 0
    name: str = ""
    events: list[str] = field(default_factory=list)
    refusal: str = ""  # the addon's message when posting was refused


def demo_cases() -> list[Case]:
    return [
        Case(
            "paid", "paid", "principal",
            [("Maintenance des serveurs - novembre 2026", 1, 1250.0)],
            engagement="EJ2026-000101", buyer_status="MISE_EN_PAIEMENT",
            expected_state="paid", expected_status="MISE_EN_PAIEMENT",
        ),
        Case(
            "recycle", "recycled", "transports",
            [("Abonnement supervision du réseau - T4 2026", 3, 276.83)],
            engagement="EJ2026-TR-0042", service_code="DIR-MOBILITES", buyer_status="A_RECYCLER",
            buyer_comment="Numéro d'engagement erroné : le bon de commande porte EJ2026-TR-0043",
            recycle_engagement="EJ2026-TR-0043",
            expected_state="delivered", expected_status="MISE_A_DISPOSITION",
        ),
        Case(
            "platform", "rejected by Chorus Pro", "dechets",
            [("Étude d'optimisation des tournées de collecte", 1, 3400.0)],
            engagement="EJ2026-DM-0015", service_code="DIR-DECHETS", closes_service=True,
            expected_state="rejected",
        ),
        Case(
            "posting", "refused at posting", "zones_activites",
            [("Relevés topographiques - parc d'activités du Madrillet", 2, 980.0)],
            expected_state=None,
        ),
        Case(
            "credit", "credit note", "principal",
            [("Remise commerciale sur la maintenance de novembre", 1, 125.0)],
            engagement="EJ2026-000101", credit_note_of="paid",
            expected_state="delivered", expected_status="MISE_A_DISPOSITION",
        ),
    ]


# --------------------------------------------------------------------------------------------
# Arguments and settings
# --------------------------------------------------------------------------------------------


def add_parser(actions: argparse._SubParsersAction) -> None:
    """``chorus-rouen odoo demo`` (plugged into the ``odoo`` command's actions)."""
    parser = actions.add_parser(
        "demo",
        help="create a demo database in your Odoo 18: the addon, invoices to four budgets, a local Chorus Pro",
        description="Create a new database in a running Odoo 18 (on this machine, this repository on its\n"
        "addons path), install the addon, start a Chorus Pro sandbox in this process and play invoices\n"
        "to four budgets through the addon. The sandbox runs until Ctrl-C; the database stays.",
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    group = parser.add_argument_group("Odoo server")
    group.add_argument("--url", help="Odoo URL, e.g. http://127.0.0.1:8069 (or ODOO_URL)")
    group.add_argument("--db", default=DEFAULT_DB, help=f"name of the demo database to create (default {DEFAULT_DB})")
    group.add_argument(
        "--user", default=DEFAULT_LOGIN, help=f"login of the demo database's admin (default {DEFAULT_LOGIN})"
    )
    group.add_argument(
        "--password", default=DEFAULT_PASSWORD, help=f"password of that admin (default {DEFAULT_PASSWORD}: a demo)"
    )
    group.add_argument("--master-password", help="the database manager's master password (prefer the prompt)")
    group.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for each ordinary answer")
    group = parser.add_argument_group("demo")
    group.add_argument("--reset", action="store_true", help="drop the demo database first (only one this command made)")
    group.add_argument("--drop", action="store_true", help="drop the demo database and stop")
    group.add_argument(
        "--sandbox-port", type=int, default=DEFAULT_SANDBOX_PORT,
        help=f"port of the Chorus Pro sandbox on 127.0.0.1 (default {DEFAULT_SANDBOX_PORT}; 0: any free port)",
    )
    group.add_argument("--state", metavar="FILE", help="keep the sandbox's state in this SQLite file")
    group.add_argument("--delay", type=float, default=0.3, help="seconds per processing step of the sandbox")
    group.add_argument(
        "--no-wait", action="store_true", help="stop the sandbox at the end instead of waiting for Ctrl-C"
    )
    parser.set_defaults(func=run)


def demo_settings(
    args: argparse.Namespace,
    environ: dict[str, str] | None = None,
    ask_password: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Check the options, ask for the master password when missing; nothing is contacted."""
    environ = os.environ if environ is None else environ
    db = (args.db or "").strip()
    if not DBNAME_RE.match(db):
        raise OdooError(
            f"{db!r} cannot be a database name: letters, digits, '_', '.' and '-', starting with a letter or digit"
        )
    if not 0 <= args.sandbox_port <= 65535:
        raise OdooError(f"--sandbox-port {args.sandbox_port} is not a port number (0 to 65535)")
    if args.reset and args.drop:
        raise OdooError("give --reset (drop, then create again) or --drop (drop only), not both")
    password = (args.password or "").strip()
    if not password:
        raise OdooError("the demo database's admin needs a password: --password")
    # The other odoo commands read ODOO_DB; the demo does not, so that it can never aim at a real database.
    base = odoo_ops.connection_settings(
        argparse.Namespace(url=args.url, db=db, user=args.user, password=password, timeout=args.timeout),
        environ={k: v for k, v in environ.items() if k == "ODOO_URL"},
    )
    master = args.master_password or environ.get("ODOO_MASTER_PASSWORD")
    if not master:
        if ask_password is None:
            if not sys.stdin.isatty():
                raise OdooError("no master password: give ODOO_MASTER_PASSWORD (it is never echoed)")
            ask_password = getpass.getpass
        master = ask_password(f"Master password of the database manager at {base['url']}: ")
    if not master:
        raise OdooError("no master password given: the database manager needs it to create the demo database")
    return {**base, "master": master}


def is_this_machine(host: str) -> bool:
    """Whether ``host`` is this machine: loopback, or an address one of its interfaces holds."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as err:
        raise OdooError(f"cannot resolve the Odoo host {host!r}: {err.strerror}") from None
    for family, _type, _proto, _name, sockaddr in infos:
        address = sockaddr[0]
        if ipaddress.ip_address(address.split("%", 1)[0]).is_loopback:
            return True
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((address, 0))  # only an address of this machine can be bound
                return True
            except OSError:
                continue
    return False


def check_same_machine(settings: dict[str, Any]) -> None:
    if not is_this_machine(settings["host"]):
        raise OdooError(
            f"the Odoo server {settings['url']} is on another machine: the demo's Chorus Pro sandbox runs in this "
            "command on 127.0.0.1, which that server cannot reach. Run the command on the Odoo server's machine "
            "(with --url http://127.0.0.1:PORT)."
        )


# --------------------------------------------------------------------------------------------
# The database manager (JSON-RPC "db" service)
# --------------------------------------------------------------------------------------------


class RpcFault(Exception):
    """An exception raised by the Odoo server, with its class name (``odoo.exceptions.AccessDenied``...)."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name, self.message = name, message

    @property
    def access_denied(self) -> bool:
        return self.name.endswith("AccessDenied") or self.message.strip() == "Access Denied"


class DbService:
    """Odoo's database manager over ``/jsonrpc`` (odoorpc's ``db.create`` cannot give the country)."""

    def __init__(self, url: str, timeout: float = 300.0):
        self.url, self.timeout = url, timeout
        self.calls: list[str] = []

    def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        self.calls.append(method)
        body = json.dumps(
            {"jsonrpc": "2.0", "method": "call", "id": len(self.calls),
             "params": {"service": "db", "method": method, "args": list(args)}}
        ).encode()
        request = urllib.request.Request(
            f"{self.url}/jsonrpc", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as err:
            raise OdooError(f"{self.url} does not answer like an Odoo server (HTTP {err.code} on /jsonrpc)") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise OdooError(f"cannot reach Odoo at {self.url}: {reason}. Is the server running, at this URL?") from None
        try:
            answer = json.loads(raw)
        except ValueError:
            raise OdooError(f"{self.url} does not answer like an Odoo server (no JSON on /jsonrpc)") from None
        if not isinstance(answer, dict) or ("result" not in answer and "error" not in answer):
            raise OdooError(f"{self.url} does not answer like an Odoo server (unexpected JSON on /jsonrpc)")
        if "error" in answer:
            error = answer["error"] or {}
            data = error.get("data") or {}
            raise RpcFault(str(data.get("name") or ""), str(data.get("message") or error.get("message") or "error"))
        return answer["result"]


def check_server(service: DbService) -> tuple[str, list[str]]:
    """The server's version (Odoo 18 only) and its databases; each refusal in words."""
    try:
        version = str(service.call("server_version"))
    except RpcFault as fault:
        raise OdooError(f"{service.url} does not answer like an Odoo server: {fault.message}") from None
    if not re.match(r"^(saas~)?18\.", version):
        raise OdooError(
            f"{service.url} runs Odoo {version}: the addon is for Odoo 18. Point --url at an Odoo 18 server."
        )
    try:
        databases = service.call("list")
    except RpcFault as fault:
        if fault.access_denied:
            raise OdooError(
                f"the database manager of {service.url} is disabled (list_db = False in its configuration): the "
                "demo needs it to create its database. Set list_db = True for the demo (or use a server that has "
                "it), then run the command again."
            ) from None
        raise OdooError(
            f"the database manager of {service.url} refused to list the databases: {fault.message}"
        ) from None
    return version, list(databases or [])


def master_call(service: DbService, method: str, *args: Any, timeout: float | None = None) -> Any:
    """A database manager call that needs the master password (the first argument)."""
    try:
        return service.call(method, *args, timeout=timeout)
    except RpcFault as fault:
        if fault.access_denied:
            raise OdooError(
                f"the database manager of {service.url} refused the master password: it is the admin_passwd of the "
                "server's configuration file (give it again, or ODOO_MASTER_PASSWORD)"
            ) from None
        raise OdooError(f"the database manager of {service.url} failed ({method}): {fault.message}") from None


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def run(
    args: argparse.Namespace,
    out: Callable[[str], None] = print,
    connector: Callable | None = None,
    ask_password: Callable[[str], str] | None = None,
    wait: Callable[[], None] | None = None,
    environ: dict[str, str] | None = None,
) -> int:
    """Run ``chorus-rouen odoo demo``; 0 when every invoice ended in its expected state."""
    settings = demo_settings(args, environ=environ, ask_password=ask_password)
    demo = OdooDemo(settings, args, out, connector or odoo_ops.connect)
    restore = _stop_on_signals()
    try:
        return demo.run(wait or _wait_forever)
    except OdooError as err:
        if not demo.created:
            raise
        raise OdooError("\n".join([str(err), *demo.stays_message()])) from None
    except KeyboardInterrupt:
        demo.stop_sandbox()
        out("")
        out("Interrupted: the Chorus Pro sandbox is stopped.")
        for line in demo.stays_message():
            out(line)
        return 130
    finally:
        demo.stop_sandbox()
        restore()


def _stop_on_signals() -> Callable[[], None]:
    """Ctrl-C, and a polite ``kill`` (SIGTERM), stop the demo the same way: the sandbox stops, the database stays.

    SIGINT gets Python's own handler back even where it was ignored (a command started in the
    background by a script). Only the main thread can set handlers: elsewhere nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

    return restore


def _wait_forever() -> None:
    while True:
        time.sleep(3600)


class OdooDemo:
    """The steps of the demo, each printing one line (with counts) as it goes."""

    def __init__(self, settings: dict[str, Any], args: argparse.Namespace, out: Callable[[str], None], connector):
        self.settings, self.args, self.out, self.connector = settings, args, out, connector
        self.db = settings["db"]
        self.url = settings["url"]
        self.service = DbService(self.url, timeout=settings["timeout"])
        self.sandbox = None
        self.odoo = None
        self.created = False  # this run created the database (it stays on Ctrl-C)
        self.cases = demo_cases()
        self.started = time.monotonic()
        self.company_id = 0
        self.bank_account_id = 0
        self.budget_ids: dict[str, int] = {}

    # ---- outline ------------------------------------------------------------------------------

    def run(self, wait: Callable[[], None]) -> int:
        check_same_machine(self.settings)
        _version, databases = check_server(self.service)
        if self.args.drop:
            return self.drop_only(databases)
        if self.db in databases and not self.args.reset:
            raise OdooError(
                f"the database {self.db!r} already exists on {self.url}: it is left alone. Give --reset to drop it "
                "and start over (only a database this command created is ever dropped), or --db OTHER_NAME."
            )
        self.start_sandbox()  # before any change: a busy port stops the demo before anything is dropped or created
        self.prepare_database(databases)
        self.install()
        self.configure()
        self.create_invoices()
        self.play()
        ok = self.report()
        self.out(f"Done in {time.monotonic() - self.started:.0f} s.")
        if self.args.no_wait:
            return 0 if ok else 1
        self.out("")
        self.out(f"The Chorus Pro sandbox keeps running at {self.sandbox.url} until Ctrl-C: click through the "
                 "invoices, the recycle wizard and the settings (Invoicing > Configuration > Settings).")
        wait()
        return 0 if ok else 1

    def step(self, text: str) -> None:
        self.out(f"[{time.monotonic() - self.started:5.0f} s] {text}")

    # ---- sandbox ------------------------------------------------------------------------------

    def start_sandbox(self) -> None:
        from .sandbox import SandboxServer

        port = self.args.sandbox_port
        try:
            self.sandbox = SandboxServer(
                port=port, state_path=self.args.state or ":memory:", processing_delay=self.args.delay
            ).start()
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise OdooError(
                    f"port {port} of 127.0.0.1 is busy (another program listens on it): choose another one for the "
                    "sandbox with --sandbox-port PORT (0: any free port)"
                ) from None
            reason = err.strerror or err
            raise OdooError(f"the Chorus Pro sandbox cannot listen on 127.0.0.1:{port}: {reason}") from None
        self.step(f"Chorus Pro sandbox running at {self.sandbox.url} (loopback only, in this process)")

    def stop_sandbox(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None

    def stays_message(self) -> list[str]:
        """What stays after an interruption or an error, and how to get rid of it."""
        if not self.created:
            return ["Nothing was created."]
        lines = [
            f"The demo database {self.db} stays on {self.url} (login {self.settings['user']}).",
            f"To drop it: chorus-rouen odoo demo --drop --db {self.db} --url {self.url} "
            f"(or {self.url}/web/database/manager). To start over: the same with --reset instead of --drop.",
        ]
        if self.args.state:
            lines.insert(1, f"To see its invoices on Chorus Pro again: chorus-rouen sandbox --port "
                            f"{self.args.sandbox_port} --state {self.args.state}")
        return lines

    # ---- database ------------------------------------------------------------------------------

    def _login(self):
        return self.connector(self.settings)

    def _past_stale_workers(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args)``, tried again while a worker answers from the dropped database's registry.

        With ``--workers``, Odoo's other worker processes keep the registry of a database dropped by
        ``--reset`` until the new one of the same name changes its modules; a call they serve fails with
        "column ... does not exist" and changes nothing. Another worker answers the next try.
        """
        for attempt in range(STALE_REGISTRY_TRIES):
            try:
                return function(*args, **kwargs)
            except OdooError as err:
                if not STALE_REGISTRY_RE.search(str(err)) or attempt == STALE_REGISTRY_TRIES - 1:
                    if STALE_REGISTRY_RE.search(str(err)):
                        raise OdooError(
                            f"{err} (a worker of this Odoo still holds the dropped database {self.db!r}: restart "
                            "the Odoo server and run the command again with --reset, or choose another --db)"
                        ) from None
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def _is_demo_database(self) -> bool:
        try:
            odoo = self._past_stale_workers(self._login)
            rows = self._past_stale_workers(
                call, odoo, "ir.config_parameter", "search_read", [("key", "=", DEMO_MARKER)], fields=["value"]
            )
        except OdooError:
            return False
        return bool(rows and rows[0]["value"])

    def _drop(self) -> None:
        if not self._is_demo_database():
            raise OdooError(
                f"{self.db!r} was not created by chorus-rouen odoo demo (or its admin {self.settings['user']!r} does "
                "not log in with the --password given): it is left alone. Drop it yourself in "
                f"{self.url}/web/database/manager if you really mean to."
            )
        self.step(f"Dropping the demo database {self.db} ...")
        master_call(self.service, "drop", self.settings["master"], self.db, timeout=LONG_TIMEOUT)

    def drop_only(self, databases: list[str]) -> int:
        if self.db not in databases:
            self.out(f"There is no database {self.db!r} on {self.url}: nothing to drop.")
            return 0
        self._drop()
        self.out(f"The demo database {self.db} is dropped.")
        return 0

    def prepare_database(self, databases: list[str]) -> None:
        if self.db in databases:
            self._drop()
        self.step(f"Creating the database {self.db} (French company, no demo data; about a minute) ...")
        try:
            master_call(
                self.service, "create_database", self.settings["master"], self.db, False, "fr_FR",
                self.settings["password"], self.settings["user"], "FR", timeout=LONG_TIMEOUT,
            )
        except KeyboardInterrupt:
            self.created = True  # the server goes on creating it
            raise
        self.created = True  # from here on, an error or Ctrl-C says that the database stays
        if self.args.state:
            self.sandbox.reset(directory=True)  # a new database numbers from 1 again: no stale duplicates
        if not self.service.call("db_exist", self.db):
            raise OdooError(f"Odoo did not create the database {self.db!r}: see the server's log")
        self.odoo = self._past_stale_workers(self._login)
        self._past_stale_workers(call, self.odoo, "ir.config_parameter", "set_param", DEMO_MARKER, "1")
        company = self._past_stale_workers(
            call, self.odoo, "res.company", "search_read", [], fields=["country_id", "currency_id"], limit=1
        )[0]
        self.company_id = company["id"]
        self.step(f"  created: company in {company['country_id'][1]}, currency {company['currency_id'][1]}")

    def install(self) -> None:
        odoo = self.odoo
        self.step("Updating the list of addons ...")
        self._past_stale_workers(call, odoo, "ir.module.module", "update_list")
        rows = self._past_stale_workers(
            call, odoo, "ir.module.module", "search_read", [("name", "in", [ADDON, SALE_BRIDGE])], fields=["name"]
        )
        found = {row["name"]: row["id"] for row in rows}
        if ADDON not in found:
            self.step(f"  the server does not see {ADDON}: dropping the empty database {self.db} again")
            master_call(self.service, "drop", self.settings["master"], self.db, timeout=LONG_TIMEOUT)
            self.created = False
            raise OdooError(
                f"the {ADDON} addon is not on the addons path of the Odoo server at {self.url}: add the folder "
                "holding this repository's odoo_chorus_rouen/ to its --addons-path (or addons_path in its "
                "configuration file), restart Odoo, then run the command again"
            )
        names = [ADDON] + ([SALE_BRIDGE] if SALE_BRIDGE in found else [])
        their = "their" if len(names) > 1 else "its"
        self.step(f"Installing {' and '.join(names)} with {their} dependencies (a few minutes) ...")
        self._past_stale_workers(
            call_long, odoo, "ir.module.module", "button_immediate_install", [found[name] for name in names]
        )
        # The registry was rebuilt: log in again for a fresh environment.
        self.odoo = odoo = self._past_stale_workers(self._login)
        installed = call(odoo, "ir.module.module", "search_count", [("state", "=", "installed")])
        wanted = ["account", "l10n_fr_account", "account_edi_ubl_cii", "l10n_fr_facturx_chorus_pro", *names]
        states = {
            row["name"]: row["state"]
            for row in call(odoo, "ir.module.module", "search_read", [("name", "in", wanted)], fields=["name", "state"])
        }
        missing = [name for name in wanted if states.get(name) != "installed"]
        if missing:
            raise OdooError(f"the installation did not complete ({', '.join(missing)} not installed): see the log")
        self.step(f"  {installed} modules installed, among them {', '.join(wanted)}")
        if SALE_BRIDGE not in found:
            self.step(f"  ({SALE_BRIDGE}, the sale bridge, is not on the addons path: skipped)")
        company = call(odoo, "res.company", "read", [self.company_id], ["chart_template", "country_id"])[0]
        if company.get("chart_template") != "fr":
            self.step("  loading the French chart of accounts ...")
            call_long(odoo, "account.chart.template", "try_loading", "fr", self.company_id, False)
            company = call(odoo, "res.company", "read", [self.company_id], ["chart_template"])[0]
        if company.get("chart_template") != "fr":
            raise OdooError(f"the company of {self.db} did not get the French chart of accounts (chart: "
                            f"{company.get('chart_template') or 'none'})")
        accounts = call(odoo, "account.account", "search_count", [])
        taxes = call(odoo, "account.tax", "search_count", [])
        self.step(f"  French chart of accounts: {accounts} accounts, {taxes} taxes")

    # ---- settings ------------------------------------------------------------------------------

    def configure(self) -> None:
        odoo, sandbox = self.odoo, self.sandbox
        self.step(f"Supplier: {SUPPLIER['name']}, SIRET {SUPPLIER['siret']}, VAT {SUPPLIER['vat']}, "
                  f"IBAN {SUPPLIER_IBAN}")
        call(odoo, "res.company", "write", [self.company_id], dict(SUPPLIER))
        partner_id = call(odoo, "res.company", "read", [self.company_id], ["partner_id"])[0]["partner_id"][0]
        bank_id = call(odoo, "res.bank", "create", dict(SUPPLIER_BANK))
        self.bank_account_id = call(odoo, "res.partner.bank", "create", {
            "acc_number": SUPPLIER_IBAN, "partner_id": partner_id, "bank_id": bank_id, "allow_out_payment": True,
        })
        if not sandbox.structures(siret=SUPPLIER["siret"]):
            structure = sandbox.add_structure(siret=SUPPLIER["siret"], name=SUPPLIER["name"], numeroTVA=SUPPLIER["vat"])
            self.step(f"  registered in the sandbox's directory as structure {structure['idStructureCPP']}, "
                      "attached to the technical account")
        credentials = sandbox.credentials
        settings_id = call(odoo, "res.config.settings", "create", {
            "chorus_pro_environment": "sandbox",
            "chorus_pro_base_url": sandbox.url,
            "chorus_pro_client_id": credentials.client_id,
            "chorus_pro_client_secret": credentials.client_secret,
            "chorus_pro_login": credentials.login,
            "chorus_pro_password": credentials.password,
        })
        call(odoo, "res.config.settings", "execute", [settings_id])
        self.step(f"Chorus Pro settings: platform Sandbox at {sandbox.url}, technical account {credentials.login}")
        action = call(odoo, "res.company", "action_chorus_pro_test_connection", [self.company_id])
        params = (action or {}).get("params") or {}
        if params.get("type") != "success":
            raise OdooError(
                f"the Odoo server cannot use the sandbox at {sandbox.url}: {params.get('message') or 'no answer'}. "
                "Odoo must run on this machine and reach its 127.0.0.1 (not inside a container or a VM)."
            )
        self.step("  connection test from Odoo: works")
        budgets = {case.budget_key for case in self.cases}
        self.budget_ids = {key: odoo_ops.xmlid_to_id(odoo, f"{ADDON}.partner_budget_{key}") for key in budgets}
        all_budgets = [
            odoo_ops.xmlid_to_id(odoo, f"{ADDON}.partner_budget_{budget.key}") for budget in BUDGETS
        ]
        call(odoo, "res.partner", "action_chorus_pro_update_directory", [i for i in all_budgets if i])
        services = call(odoo, "chorus.pro.service", "search_count", [])
        self.step(f"  directory read from Chorus Pro: {len(all_budgets)} budgets, {services} active services")

    # ---- invoices ------------------------------------------------------------------------------

    def _tax_id(self) -> int:
        company = call(self.odoo, "res.company", "read", [self.company_id], ["account_sale_tax_id"])[0]
        if company["account_sale_tax_id"]:
            return company["account_sale_tax_id"][0]
        ids = call(self.odoo, "account.tax", "search", [("type_tax_use", "=", "sale"), ("amount", "=", 20)], limit=1)
        if not ids:
            raise OdooError("the French chart has no 20 % sales tax: the demo cannot build its invoices")
        return ids[0]

    def create_invoices(self) -> None:
        odoo = self.odoo
        tax_id = self._tax_id()
        self.step(f"Creating {len(self.cases)} invoices and credit notes to {len(self.budget_ids)} budgets, "
                  "and posting them ...")
        by_key = {case.key: case for case in self.cases}
        for case in self.cases:
            vals = {
                "move_type": "out_refund" if case.credit_note_of else "out_invoice",
                "partner_id": self.budget_ids[case.budget_key],
                "invoice_date": date.today().isoformat(),
                "purchase_order_reference": case.engagement or False,
                "buyer_reference": case.service_code or False,
                "invoice_line_ids": [
                    (0, 0, {"name": name, "quantity": qty, "price_unit": price, "tax_ids": [(6, 0, [tax_id])]})
                    for name, qty, price in case.lines
                ],
            }
            if case.credit_note_of:
                vals["reversed_entry_id"] = by_key[case.credit_note_of].move_id
                vals["ref"] = f"Avoir sur {by_key[case.credit_note_of].name}"
            else:
                vals["partner_bank_id"] = self.bank_account_id
            case.move_id = call(odoo, MOVE, "create", vals)
            try:
                call(odoo, MOVE, "action_post", [case.move_id])
            except OdooError as err:
                message = str(err).split(": ", 1)[-1]
                case.events.append("refused at posting")
                # On the draft too, for whoever opens it in the browser (the addon refuses it again on Confirm).
                call(odoo, MOVE, "message_post", [case.move_id], body=f"chorus-rouen odoo demo: {message}",
                     message_type="comment", subtype_xmlid="mail.mt_note")
                case.refusal = next((line.strip("- ").strip() for line in message.splitlines()[1:] if line.strip()),
                                    message)
                self.step(f"  {kind_label(case)} to {self._budget_name(case)}: refused at posting, the addon says:")
                for line in message.splitlines():
                    self.out(f"      {line.strip()}")
            row = call(odoo, MOVE, "read", [case.move_id], ["name", "state", "chorus_pro_state", "amount_total"])[0]
            case.name = row["name"] if row["name"] != "/" else f"draft (id {case.move_id})"
            if row["state"] == "posted":
                self.step(f"  {case.name} ({kind_label(case)}) to {self._budget_name(case)}, "
                          f"{row['amount_total']:.2f} EUR incl. VAT: posted, "
                          f"{STATE_LABELS.get(row['chorus_pro_state'] or '', 'not queued').lower()}")
        posted = sum(1 for case in self.cases if "refused at posting" not in case.events)
        self.step(f"  {posted} posted and queued for Chorus Pro, {len(self.cases) - posted} refused at posting")
        self.add_favorite()

    def _budget_name(self, case: Case) -> str:
        return next(b.name for b in BUDGETS if b.key == case.budget_key)

    # ---- send, sync, the buyer's part ----------------------------------------------------------

    def _job(self, xmlid: str, what: str) -> None:
        seconds = odoo_ops.run_job(self.odoo, xmlid, lambda _line: None)
        counts = self._counts()
        summary = ", ".join(f"{STATE_LABELS.get(k, k)} {v}" for k, v in counts.items())
        self.step(f"  {what} ({seconds:.1f} s): {summary}")

    def _counts(self) -> dict[str, int]:
        ids = [case.move_id for case in self.cases]
        counts: dict[str, int] = {}
        for row in call(self.odoo, MOVE, "read", ids, ["chorus_pro_state"]):
            if row["chorus_pro_state"]:
                counts[row["chorus_pro_state"]] = counts.get(row["chorus_pro_state"], 0) + 1
        return counts

    def _rows(self) -> dict[int, dict]:
        fields = ["name", "state", "chorus_pro_state", "chorus_pro_status", "chorus_pro_invoice_id",
                  "chorus_pro_flow_number", "chorus_pro_flow_state", "chorus_pro_error"]
        return {row["id"]: row for row in call(self.odoo, MOVE, "read", [c.move_id for c in self.cases], fields)}

    def _wait_platform(self, what: str) -> None:
        """Let the sandbox process the flows and route the invoices to the buyer."""
        rows = self._rows()
        flows = {row["chorus_pro_flow_number"] for row in rows.values() if row["chorus_pro_flow_number"]}
        deadline = time.monotonic() + PLATFORM_TIMEOUT
        while time.monotonic() < deadline:
            states = [self.sandbox.flow(flow) for flow in flows]
            invoices = [inv for flow in flows for inv in self.sandbox.invoices(flow_number=flow)]
            moving = [inv for inv in invoices if inv["statut"] in ("DEPOSEE", "EN_COURS_ACHEMINEMENT")]
            if all(state.get("final") for state in states) and not moving:
                break
            time.sleep(0.2)
        done = sum(1 for flow in flows if self.sandbox.flow(flow).get("final"))
        self.step(f"  Chorus Pro {what}: {done}/{len(flows)} flows processed")

    def close_services(self) -> None:
        """The buyer closes a service on Chorus Pro after Odoo read the directory (weekly): Chorus Pro rejects."""
        for case in self.cases:
            if not case.closes_service:
                continue
            siret = next(b.siret for b in BUDGETS if b.key == case.budget_key)
            structure = self.sandbox.structures(siret=siret)[0]
            service = next(s for s in structure["services"] if s["codeService"] == case.service_code)
            self.sandbox.add_service(structure["idStructureCPP"], {**service, "estActif": False})
            self.step(f"Meanwhile the {self._budget_name(case)} closes its service {case.service_code} on Chorus Pro "
                      "(Odoo read the directory before: it cannot know yet)")

    def play(self) -> None:
        self.close_services()
        self.step("Send job (deposits the queued invoices on Chorus Pro) ...")
        self._job(SEND_CRON, "send job done")
        self._wait_platform("processed the flows and routed the invoices")
        self.step("Sync job (brings flow states and statuses back) ...")
        self._job(SYNC_CRON, "sync job done")
        rows = self._rows()
        self.step("The buyer acts on Chorus Pro ...")
        for case in self.cases:
            chorus_id = rows[case.move_id]["chorus_pro_invoice_id"]
            if case.buyer_status and chorus_id:
                self.sandbox.set_invoice_status(int(chorus_id), case.buyer_status, case.buyer_comment or None)
                case.events.append(case.buyer_status)
                comment = f' "{case.buyer_comment}"' if case.buyer_comment else ""
                self.step(f"  {case.name}: {self._budget_name(case)} sets {case.buyer_status}{comment}")
        self._job(SYNC_CRON, "sync job done")
        for case in self.cases:
            if case.recycle_engagement:
                self.recycle(case)
        if any(case.recycle_engagement for case in self.cases):
            self._wait_platform("routed the recycled invoice again")
            self._job(SYNC_CRON, "sync job done")

    def recycle(self, case: Case) -> None:
        """What the accountant does in the recycle wizard: the new engagement number, then Recycle."""
        row = self._rows()[case.move_id]
        if row["chorus_pro_status"] != "A_RECYCLER":
            self.step(f"  {case.name} is not to recycle ({row['chorus_pro_status'] or 'no status'}): not recycled")
            return
        context = {"default_move_id": case.move_id}
        wizard_id = call(self.odoo, "chorus.pro.recycle", "create", {
            "move_id": case.move_id,
            "purchase_order_reference": case.recycle_engagement,
            "comment": "Numéro d'engagement corrigé selon le bon de commande",
        }, context=context)
        call(self.odoo, "chorus.pro.recycle", "action_recycle", [wizard_id], context=context)
        case.events.append(f"recycled with {case.recycle_engagement}")
        self.step(f"  {case.name}: recycled through the addon's wizard, engagement number {case.recycle_engagement}")

    # ---- the result ----------------------------------------------------------------------------

    def report(self) -> bool:
        rows = self._rows()
        table = [("Invoice", "Kind", "Budget", "Flow", "Flow state", "Invoice status", "In Odoo", "What happened")]
        ok = True
        for case in self.cases:
            row = rows[case.move_id]
            state = row["chorus_pro_state"] or None
            good = state == case.expected_state and (row["chorus_pro_status"] or "") == case.expected_status
            ok = ok and good
            table.append((
                case.name,
                case.kind,
                self._budget_name(case),
                row["chorus_pro_flow_number"] or "-",
                flow_status(row["chorus_pro_flow_state"]).label_en if row["chorus_pro_flow_state"] else "-",
                row["chorus_pro_status"] or "-",
                STATE_LABELS.get(state or "", "Draft" if row["state"] == "draft" else "-"),
                _what_happened(case, row) + ("" if good else f"  [expected {case.expected_state or 'draft'}]"),
            ))
        self.out("")
        _print_table(table, self.out)
        self.out("")
        self.out("Every invoice reached its expected state." if ok else "Some invoices did not end as expected.")
        self.out("")
        self.out(f"See them in Odoo: {self.list_url()}")
        self.out(f"  login {self.settings['user']}, password {self.settings['password']} (the list opens on its "
                 f"'{FILTER_NAME}' favorite filter)")
        return ok

    def list_url(self) -> str:
        return f"{self.url}/web/login?db={self.db}&redirect=/odoo/{INVOICE_ACTION}"

    def add_favorite(self) -> None:
        """A shared default favorite of the customer invoice list: the invoices to Chorus Pro recipients."""
        action_id = odoo_ops.xmlid_to_id(self.odoo, INVOICE_ACTION_XMLID)
        if not action_id:
            return
        call(self.odoo, "ir.filters", "create", {
            "name": FILTER_NAME,
            "model_id": MOVE,
            "domain": "[('chorus_pro_is_recipient', '=', True)]",
            "context": "{}",
            "user_id": False,
            "is_default": True,
            "action_id": action_id,
        })


def call_long(odoo: Any, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """``call`` for the minutes-long ones (install, chart): odoorpc's timeout raised for them."""
    config = getattr(odoo, "config", None)
    if not isinstance(config, MutableMapping) or "timeout" not in config:
        return call(odoo, model, method, *args, **kwargs)
    old, config["timeout"] = config["timeout"], LONG_TIMEOUT
    try:
        return call(odoo, model, method, *args, **kwargs)
    finally:
        config["timeout"] = old


def kind_label(case: Case) -> str:
    return case.kind if case.credit_note_of else f"invoice, {case.kind}"


def _what_happened(case: Case, row: dict) -> str:
    events = list(case.events)
    if "refused at posting" in events:
        return f"refused at posting, stays a draft to fix: {case.refusal}"
    if row["chorus_pro_state"] == "rejected" and row["chorus_pro_error"]:
        reasons = " ".join(line.lstrip("- ").strip() for line in row["chorus_pro_error"].splitlines() if line.strip())
        return f"deposited, rejected by Chorus Pro: {reasons}"
    steps = ["deposited", "delivered"] + events
    if case.recycle_engagement and row["chorus_pro_status"] == "MISE_A_DISPOSITION":
        steps.append("delivered again")
    if row["chorus_pro_status"] == "MISE_EN_PAIEMENT":
        steps[-1] = "payment initiated"
    return " -> ".join(steps)


def _print_table(rows: list[tuple[str, ...]], out: Callable[[str], None]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for index, row in enumerate(rows):
        out("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1])
        if index == 0:
            out("  ".join("-" * w for w in widths) + "  " + "-" * 13)
