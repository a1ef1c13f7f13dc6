"""``chorus-rouen odoo ...``: see and act on the Chorus Pro traffic of a running Odoo 18, over RPC.

Everything goes through the addon's own public methods (``action_chorus_pro_send``, its scheduled
jobs, ``chorus_pro_test_connection``...): no business logic is duplicated outside Odoo. Connection
by options or ``ODOO_URL`` / ``ODOO_DB`` / ``ODOO_USER`` / ``ODOO_PASSWORD``; the password is never
echoed (asked without echo on a terminal when it is not given).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
import urllib.error
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlparse

from .core.budgets import BUDGETS, is_valid_siret

ADDON = "odoo_chorus_rouen"
MOVE = "account.move"
SEND_CRON = f"{ADDON}.ir_cron_chorus_pro_send"
SYNC_CRON = f"{ADDON}.ir_cron_chorus_pro_sync"

#: States of ``account.move.chorus_pro_state`` that need a person, in the order they are listed.
ATTENTION_STATES = ("error", "rejected", "action")
STATE_LABELS = {
    "to_send": "To send",
    "sending": "Sending",
    "sent": "Sent",
    "delivered": "Delivered",
    "action": "Action needed",
    "rejected": "Rejected",
    "paid": "Payment initiated",
    "cancelled": "Cancelled",
    "error": "Error",
}
COMPANY_SETTINGS = {
    "chorus_pro_environment": "platform",
    "chorus_pro_client_id": "PISTE client id",
    "chorus_pro_client_secret": "PISTE client secret",
    "chorus_pro_login": "technical account login",
    "chorus_pro_password": "technical account password",
}
SETTING_LABELS = {"chorus_pro_base_url": "sandbox URL"}
ENV_HELP = """environment variables:
  ODOO_URL       URL of the Odoo server (default http://127.0.0.1:8069)
  ODOO_DB        database name
  ODOO_USER      login (default admin)
  ODOO_PASSWORD  password (asked without echo on a terminal when missing)"""
BATCH = 50
#: How Odoo says that a scheduled action is running in a cron worker (English, French users).
CRON_BUSY = ("currently being executed", "en cours d'exécution")


class OdooError(Exception):
    """A one-line message for the user (exit status 2)."""


# --------------------------------------------------------------------------------------------
# Connection
# --------------------------------------------------------------------------------------------


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Odoo server (or ODOO_* environment variables)")
    group.add_argument("--url", help="Odoo URL, e.g. http://127.0.0.1:8069")
    group.add_argument("--db", help="database name")
    group.add_argument("--user", help="login")
    group.add_argument("--password", help="password (prefer ODOO_PASSWORD or the prompt)")
    group.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for each answer")


def connection_settings(
    args: argparse.Namespace,
    environ: dict[str, str] | None = None,
    ask_password: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Merge options over ``ODOO_*`` variables; parse the URL; ask for the password if needed."""
    environ = os.environ if environ is None else environ
    url = (getattr(args, "url", None) or environ.get("ODOO_URL") or "http://127.0.0.1:8069").strip()
    parsed = urlparse(url if "://" in url else f"http://{url}")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise OdooError(f"{url!r} is not an Odoo URL: use http://HOST:PORT or https://HOST")
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        raise OdooError(f"{url!r} has an invalid port") from None
    db = (getattr(args, "db", None) or environ.get("ODOO_DB") or "").strip()
    if not db:
        raise OdooError("which database? give --db or ODOO_DB")
    user = (getattr(args, "user", None) or environ.get("ODOO_USER") or "admin").strip()
    password = getattr(args, "password", None) or environ.get("ODOO_PASSWORD")
    if not password:
        if ask_password is None:
            if not sys.stdin.isatty():
                raise OdooError("no password: give ODOO_PASSWORD (it is never echoed)")
            ask_password = getpass.getpass
        password = ask_password(f"Odoo password for {user} on {db}: ")
    return {
        "url": f"{parsed.scheme}://{parsed.hostname}:{port}",
        "host": parsed.hostname,
        "port": port,
        "protocol": "jsonrpc+ssl" if parsed.scheme == "https" else "jsonrpc",
        "db": db,
        "user": user,
        "password": password,
        "timeout": getattr(args, "timeout", None) or 300.0,
    }


def connect(settings: dict[str, Any], factory: Callable[..., Any] | None = None) -> Any:
    """Log in with odoorpc; turn every failure into one clear line."""
    if factory is None:
        import odoorpc

        factory = odoorpc.ODOO
    url, db = settings["url"], settings["db"]
    try:
        odoo = factory(
            settings["host"], protocol=settings["protocol"], port=settings["port"], timeout=settings["timeout"]
        )
    except (TimeoutError, urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise OdooError(f"cannot reach Odoo at {url}: {reason}") from None
    except Exception as err:  # odoorpc raises plain errors for a server that is not Odoo
        raise OdooError(f"{url} does not answer like an Odoo server: {_short(err)}") from None
    try:
        databases = odoo.db.list()
    except Exception:  # listing may be disabled (list_db = False): then the login says it
        databases = None
    if databases is not None and db not in databases:
        listed = ", ".join(databases) or "none"
        raise OdooError(f"database {db!r} does not exist on {url} (databases: {listed})")
    try:
        odoo.login(db, settings["user"], settings["password"])
    except Exception as err:
        text = _short(err)
        if "login" in text.lower() or "access denied" in text.lower() or "password" in text.lower():
            raise OdooError(f"Odoo refused the login {settings['user']!r} on {db!r}: wrong login or password") from None
        raise OdooError(f"cannot log in to {db!r} on {url}: {text}") from None
    return odoo


def _short(err: BaseException) -> str:
    text = str(getattr(err, "message", None) or err).strip().splitlines()
    return text[0] if text else err.__class__.__name__


def call(odoo: Any, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """``execute_kw`` with one-line errors (odoorpc's ``browse`` chokes on binary fields)."""
    try:
        return odoo.execute_kw(model, method, list(args), kwargs)
    except Exception as err:
        raise OdooError(f"{model}.{method} failed: {_rpc_message(err)}") from None


def _rpc_message(err: BaseException) -> str:
    """The server's message: whole for the addon's own refusals (they list what to fix), else one line."""
    info = getattr(err, "info", None)
    if isinstance(info, dict):
        data = info.get("data") or {}
        message = str(data.get("message") or info.get("message") or "").strip()
        if message:
            if data.get("name", "").endswith(("UserError", "ValidationError", "AccessError")):
                return message.replace("\n", "\n  ")
            return message.splitlines()[0]
    return _short(err)


def addon_state(odoo: Any) -> str | None:
    rows = call(odoo, "ir.module.module", "search_read", [("name", "=", ADDON)], fields=["state"])
    return rows[0]["state"] if rows else None


def require_addon(odoo: Any, db: str) -> None:
    state = addon_state(odoo)
    if state != "installed":
        where = "is not on the server's addons path" if state is None else f"is {state.replace('_', ' ')}"
        raise OdooError(f"the {ADDON} addon {where} on {db!r}: run chorus-rouen odoo setup")


def xmlid_to_id(odoo: Any, xmlid: str) -> int | None:
    module, name = xmlid.split(".", 1)
    rows = call(odoo, "ir.model.data", "search_read", [("module", "=", module), ("name", "=", name)], fields=["res_id"])
    return rows[0]["res_id"] if rows else None


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def collect_status(odoo: Any) -> dict[str, Any]:
    """Counts per Chorus Pro state and the invoices that need a person."""
    groups = call(
        odoo, MOVE, "read_group", [("chorus_pro_state", "!=", False)], ["chorus_pro_state"], ["chorus_pro_state"],
        lazy=False,
    )
    counts = {g["chorus_pro_state"]: g.get("__count", g.get("chorus_pro_state_count", 0)) for g in groups}
    fields = [
        "name",
        "partner_id",
        "chorus_pro_state",
        "chorus_pro_status",
        "chorus_pro_error",
        "chorus_pro_flow_number",
        "chorus_pro_last_sync",
    ]
    rows = call(
        odoo,
        MOVE,
        "search_read",
        [("chorus_pro_state", "in", list(ATTENTION_STATES))],
        fields=fields,
        order="chorus_pro_state, name",
        limit=500,
    )
    attention = [
        {
            "invoice": row["name"],
            "customer": row["partner_id"][1] if row["partner_id"] else "",
            "state": row["chorus_pro_state"],
            "chorus_status": row["chorus_pro_status"] or "",
            "flow": row["chorus_pro_flow_number"] or "",
            "last_sync": row["chorus_pro_last_sync"] or "",
            "message": _first_line(row["chorus_pro_error"]),
        }
        for row in rows
    ]
    return {"counts": counts, "attention": attention}


def _first_line(text: Any, width: int = 200) -> str:
    """The gist of a message: its first line, and the first item when that line announces a list."""
    if not text:
        return ""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if not lines:
        return ""
    gist = lines[0]
    if gist.endswith(":") and len(lines) > 1:
        gist = f"{gist} {lines[1].lstrip('- ')}" + (f" (+{len(lines) - 2} more)" if len(lines) > 2 else "")
    return gist if len(gist) <= width else gist[: width - 1] + "…"


def format_status(status: dict[str, Any], db: str) -> str:
    counts = status["counts"]
    lines = [f"Chorus Pro on {db}: {sum(counts.values())} invoice(s)"]
    for state, label in STATE_LABELS.items():
        if counts.get(state):
            lines.append(f"  {label:<18} {counts[state]:>6}")
    for state in counts:
        if state not in STATE_LABELS:
            lines.append(f"  {state:<18} {counts[state]:>6}")
    queued = counts.get("to_send", 0) + counts.get("sending", 0)
    if queued:
        # A pass of the send job stops at its time budget; the server's cron worker carries on by itself.
        lines.append(f"{queued} invoice(s) still queued: Odoo's send job deposits them in its next passes "
                     "(the ones due for a retry at their time).")
    attention = status["attention"]
    if attention:
        lines.append("")
        lines.append(f"Need a person ({len(attention)}):")
        width = max(len(row["invoice"]) for row in attention)
        for row in attention:
            label = STATE_LABELS.get(row["state"], row["state"])
            detail = row["chorus_status"] + (": " if row["chorus_status"] and row["message"] else "") + row["message"]
            lines.append(f"  {row['invoice']:<{width}}  {label:<17} {row['customer']} - {detail or 'no message'}")
    else:
        lines.append("Nothing needs a person.")
    return "\n".join(lines)


def resolve_invoices(odoo: Any, names: Sequence[str]) -> list[int]:
    """Invoice ids for these numbers (or ids); unknown ones are named in the error."""
    ids, wanted = [], []
    for name in names:
        if name.isdigit():
            ids.append(int(name))
        else:
            wanted.append(name)
    if wanted:
        rows = call(
            odoo, MOVE, "search_read",
            [("name", "in", wanted), ("move_type", "in", ["out_invoice", "out_refund"])],
            fields=["name", "company_id", "chorus_pro_is_recipient"],
        )
        by_name: dict[str, list[dict]] = {}
        for row in rows:
            by_name.setdefault(row["name"], []).append(row)
        missing = [name for name in wanted if name not in by_name]
        if missing:
            raise OdooError("no customer invoice or credit note named " + ", ".join(missing))
        for name in wanted:
            # Numbers restart in each company: prefer the invoice addressed to a Chorus Pro recipient.
            candidates = [r for r in by_name[name] if r.get("chorus_pro_is_recipient")] or by_name[name]
            if len(candidates) > 1:
                where = ", ".join(f"id {r['id']} in {(r['company_id'] or [0, '?'])[1]}" for r in candidates)
                raise OdooError(f"{name} exists in several companies ({where}): give the id instead")
            ids.append(candidates[0]["id"])
    return ids


def queue_invoices(odoo: Any, ids: list[int], progress: Callable[[str], None], method: str) -> int:
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        call(odoo, MOVE, method, chunk)
        progress(f"  queued {min(start + BATCH, len(ids))}/{len(ids)}")
    return len(ids)


def run_job(odoo: Any, xmlid: str, progress: Callable[[str], None], wait: float = 600.0) -> float:
    """Run one of the addon's scheduled jobs now; if a cron worker is running it already, wait for it."""
    cron_id = xmlid_to_id(odoo, xmlid)
    if not cron_id:
        raise OdooError(f"scheduled action {xmlid} not found: update the addon (chorus-rouen odoo setup)")
    name = xmlid.split(".", 1)[1]
    started = time.monotonic()
    progress(f"  running {name} ...")
    told = False
    while True:
        try:
            call(odoo, "ir.cron", "method_direct_trigger", [cron_id])
            return time.monotonic() - started
        except OdooError as err:
            if not any(text in str(err) for text in CRON_BUSY) or time.monotonic() - started > wait:
                raise
            if not told:
                progress(f"  {name} is already running in a cron worker: waiting for it to finish ...")
                told = True
            time.sleep(2)


def run_checks(odoo: Any, db: str) -> list[tuple[bool, str]]:
    """Each check as (passed, sentence)."""
    checks: list[tuple[bool, str]] = []
    state = addon_state(odoo)
    checks.append((state == "installed", f"addon {ADDON}: {state or 'not on the addons path'}"))
    if state != "installed":
        return checks
    budget_ids = {b.key: xmlid_to_id(odoo, f"{ADDON}.partner_budget_{b.key}") for b in BUDGETS}
    present = [i for i in budget_ids.values() if i]
    rows = call(odoo, "res.partner", "read", present, ["name", "siret"]) if present else []
    by_id = {row["id"]: row for row in rows}
    bad = []
    for budget in BUDGETS:
        row = by_id.get(budget_ids[budget.key] or 0)
        if not row:
            bad.append(f"{budget.name} missing")
        elif not is_valid_siret(row["siret"] or ""):
            bad.append(f"{row['name']} has an invalid SIRET {row['siret']!r}")
    checks.append((not bad, "the eight budgets with valid SIRETs" + (": " + "; ".join(bad) if bad else "")))
    # The server says which settings are empty: the secrets never travel just to be looked at.
    companies = call(odoo, "res.company", "chorus_pro_settings_report", call(odoo, "res.company", "search", []))
    configured = [c for c in companies if c.get("started")]
    if not configured:
        checks.append((False, "no company has Chorus Pro settings: fill them in Accounting > Configuration > Settings"))
    for company in configured:
        missing = [COMPANY_SETTINGS.get(field, SETTING_LABELS.get(field, field)) for field in company["missing"]]
        state = "complete" if not missing else "missing " + ", ".join(missing)
        checks.append((not missing, f"{company['name']}: settings {state}"))
        if not missing:
            action = call(odoo, "res.company", "action_chorus_pro_test_connection", [company["id"]])
            params = (action or {}).get("params") or {}
            title, message = params.get("title", "connection test"), params.get("message", "")
            checks.append((params.get("type") == "success", f"{company['name']}: {title}: {message}"))
    return checks


def setup_addon(odoo: Any, progress: Callable[[str], None]) -> str:
    progress("  updating the list of addons ...")
    call(odoo, "ir.module.module", "update_list")
    rows = call(odoo, "ir.module.module", "search_read", [("name", "=", ADDON)], fields=["state"])
    if not rows:
        raise OdooError(f"the server does not see the {ADDON} addon: put the repository root on its addons path")
    module_id, state = rows[0]["id"], rows[0]["state"]
    if state == "installed":
        progress("  updating the addon ...")
        call(odoo, "ir.module.module", "button_immediate_upgrade", [module_id])
        done = "updated"
    else:
        progress("  installing the addon and its dependencies (a few minutes on a fresh database) ...")
        call(odoo, "ir.module.module", "button_immediate_install", [module_id])
        done = "installed"
    return done


# --------------------------------------------------------------------------------------------
# Argument parsing (plugged into chorus-rouen's parser)
# --------------------------------------------------------------------------------------------


def add_parser(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The ``odoo`` command and its actions; returns the actions, for :mod:`.odoo_demo` to add ``demo``."""
    odoo = sub.add_parser(
        "odoo",
        help="operate the addon in a running Odoo 18 over RPC (status, send, resend, sync, check, setup, demo)",
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = odoo.add_subparsers(dest="odoo_command", metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(
            name, help=help_text, epilog=ENV_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        add_connection_options(parser)
        return parser

    p = action("status", "count per Chorus Pro state, and the invoices that need a person")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = action("send", "queue invoices for sending (they leave with the next send job)")
    p.add_argument("invoices", nargs="+", metavar="INVOICE", help="invoice numbers (e.g. INV/2026/00012) or ids")
    p.add_argument("--now", action="store_true", help="run the send job right away")
    p = action("resend", "queue again invoices in error or rejected by Chorus Pro, once their data are fixed")
    p.add_argument("invoices", nargs="+", metavar="INVOICE")
    p.add_argument("--now", action="store_true", help="run the send job right away")
    action("sync", "run the send and status-sync jobs now")
    action("check", "is everything in place: addon, budgets, settings, connection")
    action("setup", "install or update the addon on the database (its code must be on the addons path)")
    odoo.set_defaults(func=run)
    return actions


def run(args: argparse.Namespace, out: Callable[[str], None] = print, connector: Callable | None = None) -> int:
    if not getattr(args, "odoo_command", None):
        raise OdooError("give an action: status, send, resend, sync, check, setup or demo (chorus-rouen odoo --help)")
    settings = connection_settings(args)
    odoo = (connector or connect)(settings)
    db = settings["db"]
    command = args.odoo_command
    if command == "setup":
        done = setup_addon(odoo, out)
        checks = run_checks(odoo, db)
        out(f"{ADDON} {done} on {db}.")
        return _print_checks(checks, out)
    if command == "check":
        return _print_checks(run_checks(odoo, db), out)
    require_addon(odoo, db)
    if command == "status":
        status = collect_status(odoo)
        out(json.dumps(status, ensure_ascii=False, indent=2) if args.json else format_status(status, db))
        return 0
    if command in ("send", "resend"):
        ids = resolve_invoices(odoo, args.invoices)
        # One button serves both: "Send to Chorus Pro" / "Resend" checks the data again, then queues.
        queue_invoices(odoo, ids, out, "action_chorus_pro_send")
        if args.now:
            seconds = run_job(odoo, SEND_CRON, out)
            out(f"  send job done in {seconds:.1f} s")
        out(_summary(odoo, ids))
        return 0
    if command == "sync":
        for xmlid in (SEND_CRON, SYNC_CRON):
            seconds = run_job(odoo, xmlid, out)
            out(f"  done in {seconds:.1f} s")
        out(format_status(collect_status(odoo), db))
        return 0
    raise OdooError(f"unknown action {command!r}")


def _summary(odoo: Any, ids: list[int]) -> str:
    rows = call(odoo, MOVE, "read", ids, ["name", "chorus_pro_state", "chorus_pro_error"])
    lines = []
    for row in rows:
        label = STATE_LABELS.get(row["chorus_pro_state"] or "", row["chorus_pro_state"] or "not for Chorus Pro")
        message = _first_line(row["chorus_pro_error"])
        lines.append(f"{row['name']}: {label}" + (f" - {message}" if message else ""))
    return "\n".join(lines)


def _print_checks(checks: list[tuple[bool, str]], out: Callable[[str], None]) -> int:
    for ok, sentence in checks:
        out(f"  [{'ok' if ok else 'FAIL'}] {sentence}")
    return 0 if all(ok for ok, _ in checks) else 1
