"""The ``chorus-rouen`` command: budgets, validation, sending, tracking, the local sandbox, the demo.

Every sub-command prints plain text for people; errors are one line on stderr with exit status 2
(usage, configuration, unreadable or too large file, unusable journal, unreachable platform, refused
credentials, invoice not deposited) or 1 (invalid invoice, rejection); 3 is an internal error (a
bug: the details with ``-v``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import odoo_demo, odoo_ops
from .core import budgets as budgets_mod
from .core.delivery import DEFAULT_SETTLE_DELAY
from .core.errors import ChorusError, ConfigurationError, InputError

ENV_HELP = """environment variables:
  CHORUS_PRO_ENV            qualification (default), production or sandbox
  CHORUS_PRO_BASE_URL       base URL of a sandbox, e.g. http://127.0.0.1:8080 (implies sandbox)
  CHORUS_PRO_CLIENT_ID      PISTE application client id
  CHORUS_PRO_CLIENT_SECRET  PISTE application client secret
  CHORUS_PRO_LOGIN          Chorus Pro technical account login
  CHORUS_PRO_PASSWORD       Chorus Pro technical account password
  CHORUS_PRO_TIMEOUT        seconds to wait for each answer (default 30)
  CHORUS_PRO_JOURNAL        journal of what "send" deposited (exactly once across runs)
Options given on the command line win over the environment."""

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_BUG = 0, 1, 2, 3


class CliError(Exception):
    """A one-line message for the user; exit status 2."""


def _out(text: str = "") -> None:
    print(text)  # noqa: T201 - the command line talks to its user


def _err(text: str) -> None:
    print(text, file=sys.stderr)  # noqa: T201


# --------------------------------------------------------------------------------------------
# Configuration and client
# --------------------------------------------------------------------------------------------


def _add_platform_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Chorus Pro platform (or CHORUS_PRO_* environment variables)")
    group.add_argument("--env", choices=["qualification", "production", "sandbox"], help="platform to use")
    group.add_argument("--base-url", help="base URL of a sandbox (token and API on one host)")
    group.add_argument("--client-id", help="PISTE client id")
    group.add_argument("--client-secret", help="PISTE client secret (prefer the environment variable)")
    group.add_argument("--login", help="technical account login")
    group.add_argument("--password", help="technical account password (prefer the environment variable)")
    group.add_argument("--timeout", type=float, help="seconds to wait for each answer (default 30)")


def platform_settings(args: argparse.Namespace, environ: dict[str, str] | None = None) -> dict:
    """Merge command-line options over ``CHORUS_PRO_*`` variables; check that nothing is missing."""
    environ = os.environ if environ is None else environ

    def pick(option: str, variable: str) -> str:
        value = getattr(args, option, None)
        return (value if value not in (None, "") else environ.get(variable, "")).strip()

    base_url = pick("base_url", "CHORUS_PRO_BASE_URL")
    env = pick("env", "CHORUS_PRO_ENV") or ("sandbox" if base_url else "qualification")
    if env not in ("qualification", "production", "sandbox"):
        raise CliError(f"unknown platform {env!r}: use qualification, production or sandbox")
    if env == "sandbox" and not base_url:
        raise CliError("the sandbox platform needs a base URL: --base-url or CHORUS_PRO_BASE_URL")
    settings = {
        "env": env,
        "base_url": base_url,
        "client_id": pick("client_id", "CHORUS_PRO_CLIENT_ID"),
        "client_secret": pick("client_secret", "CHORUS_PRO_CLIENT_SECRET"),
        "login": pick("login", "CHORUS_PRO_LOGIN"),
        "password": pick("password", "CHORUS_PRO_PASSWORD"),
    }
    settings["timeout"] = _timeout(getattr(args, "timeout", None), environ.get("CHORUS_PRO_TIMEOUT", ""))
    missing = [
        label
        for key, label in (
            ("client_id", "client id (--client-id or CHORUS_PRO_CLIENT_ID)"),
            ("client_secret", "client secret (CHORUS_PRO_CLIENT_SECRET)"),
            ("login", "technical account login (--login or CHORUS_PRO_LOGIN)"),
            ("password", "technical account password (CHORUS_PRO_PASSWORD)"),
        )
        if not settings[key]
    ]
    if missing:
        raise CliError("missing credentials: " + "; ".join(missing))
    return settings


#: Largest --timeout accepted (seconds): beyond, a hung platform would block a run for hours.
MAX_TIMEOUT = 3600.0


def _timeout(option: str | None, variable: str) -> float:
    """The timeout option (else the variable, else 30 s): a number of seconds, more than 0, at most an hour."""
    raw = option if option not in (None, "") else variable.strip()
    if raw in (None, ""):
        return 30.0
    try:
        value = float(raw)
    except ValueError:
        raise CliError(f"the timeout must be a number of seconds, not {raw!r}") from None
    if not 0 < value <= MAX_TIMEOUT:  # also refuses nan and infinity
        raise CliError(f"the timeout must be more than 0 and at most {MAX_TIMEOUT:.0f} seconds, not {raw}")
    return value


def make_client(settings: dict):
    """Build a :class:`~odoo_chorus_rouen.core.client.ChorusClient` from merged settings."""
    from .core.auth import Credentials, Endpoints, Environment
    from .core.client import ChorusClient

    credentials = Credentials(
        client_id=settings["client_id"],
        client_secret=settings["client_secret"],
        login=settings["login"],
        password=settings["password"],
    )
    if settings["env"] == "sandbox":
        endpoints = Endpoints.from_base_url(settings["base_url"])
    else:
        endpoints = Endpoints.for_environment(Environment(settings["env"]))
    return ChorusClient(credentials, endpoints, timeout=settings["timeout"])


def _read_file(path: str) -> bytes:
    """The file's bytes, through validation's size-checked reader (a huge file is refused unread)."""
    from .core.validation_input import load_file

    file = Path(path)
    if file.is_dir():
        raise CliError(f"{path}: is a directory, not an invoice file")
    if not file.exists():
        raise CliError(f"{path}: no such file")
    try:
        return load_file(file)
    except InputError as err:
        raise CliError(f"{path}: {err.message}") from None


def describe_error(err: Exception) -> str:
    """One line for a core error, naming what to do when a person can fix it."""
    if isinstance(err, ConfigurationError):
        return f"configuration: {err.message}"
    code = getattr(err, "code", "")
    if code == "authentication_error":
        from .cli_send import AUTH_FIX

        reason = err.params.get("reason") or err.message
        return f"configuration: Chorus Pro refused the credentials ({reason}): {AUTH_FIX}"
    if code == "outcome_unknown":
        return (
            f"{err.message}. Do not send it again before checking: "
            "chorus-rouen track --invoice NUMBER tells whether Chorus Pro recorded it"
        )
    if code == "transport_error":
        return f"Chorus Pro cannot be reached: {err.params.get('reason') or err.message}"
    return err.message if isinstance(err, ChorusError) else str(err)


# --------------------------------------------------------------------------------------------
# Sub-commands
# --------------------------------------------------------------------------------------------


def cmd_budgets(args: argparse.Namespace) -> int:
    if args.json:
        _out(
            json.dumps(
                [{"key": b.key, "name": b.name, "siret": b.siret} for b in budgets_mod.BUDGETS],
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK
    _out(f"{budgets_mod.METROPOLE_NAME} (SIREN {budgets_mod.METROPOLE_SIREN}): eight budgets")
    width = max(len(b.name) for b in budgets_mod.BUDGETS)
    for budget in budgets_mod.BUDGETS:
        _out(f"  {budget.name:<{width}}  {budget.siret_display}")
    return EXIT_OK


def _print_report(path: str, report) -> None:
    status = "valid" if report.ok else "INVALID"
    fmt = report.format.value if report.format else "unknown format"
    number = report.facts.number if report.facts and report.facts.number else "?"
    _out(f"{path}: {status} ({fmt}, invoice {number})")
    for finding in report.findings:
        if finding.severity == "info" and not report.ok:
            continue
        where = f" [{finding.bt}]" if finding.bt else ""
        _out(f"  {finding.severity:<7} {finding.layer:<10} {finding.rule}{where}: {finding.message}")


def cmd_validate(args: argparse.Namespace) -> int:
    from .core.validation import validate

    worst = EXIT_OK
    results = []
    for path in args.files:
        report = validate(_read_file(path), layout=args.layout)
        if args.json:
            results.append(
                {
                    "file": path,
                    "valid": report.ok,
                    "format": report.format.value if report.format else None,
                    "findings": [
                        {
                            "rule": f.rule,
                            "bt": f.bt,
                            "layer": f.layer,
                            "severity": f.severity,
                            "message": f.message,
                            "location": f.location,
                        }
                        for f in report.findings
                    ],
                }
            )
        else:
            _print_report(path, report)
        if not report.ok:
            worst = EXIT_FAILED
    if args.json:
        _out(json.dumps(results, ensure_ascii=False, indent=2))
    return worst


def default_journal(environ: dict[str, str] | None = None) -> str:
    """Where ``send`` keeps its journal: ``CHORUS_PRO_JOURNAL``, else the user's state directory."""
    environ = os.environ if environ is None else environ
    if environ.get("CHORUS_PRO_JOURNAL"):
        return environ["CHORUS_PRO_JOURNAL"]
    base = environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "chorus-rouen", "journal.sqlite3")


def cmd_send(args: argparse.Namespace) -> int:
    from . import cli_send

    return cli_send.run_send(args, platform_settings(args), sys.modules[__name__])


def cmd_read_order(args: argparse.Namespace) -> int:
    from .cli_read_order import run_read_order

    return run_read_order(args, sys.modules[__name__])


def cmd_track(args: argparse.Namespace) -> int:
    from .core.status import flow_status, invoice_status

    if not args.flow and not args.invoice:
        raise CliError("give a flow number or --invoice NUMBER")
    client = make_client(platform_settings(args))
    if args.flow:
        report = client.flow_report(args.flow)
        info = flow_status(report.state)
        _out(f"Flow {args.flow}: {info.label_en} ({report.state})")
        for error in report.technical_errors:
            _out(f"  technical error {error.code}: {error.label}")
        for error in report.dp_errors:
            _out(f"  invoice {error.invoice_number} rejected: {error.message}")
        invoices = list(client.search_invoices(flow_number=args.flow)) if info.state.value != "rejected" else []
    else:
        invoices = list(client.search_invoices(invoice_number=args.invoice))
        if not invoices:
            _out(f"Invoice {args.invoice}: not found on Chorus Pro (not deposited, or its flow is not integrated yet)")
            return EXIT_FAILED
    for invoice in invoices:
        info = invoice_status(invoice.status)
        _out(
            f"Invoice {invoice.number} (Chorus id {invoice.chorus_id}): {info.label_en} ({invoice.status})"
            + (" - action needed" if info.action_needed else "")
        )
        if invoice.comment:
            _out(f"  {invoice.comment}")
        if args.invoice:
            from .track_late_payment import print_delay

            print_delay(client, invoice, args, _out)
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    from .sandbox import main as sandbox_main

    return sandbox_main(list(args.sandbox_args)) or EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    from .sandbox.arguments import check_state_path

    if args.state:
        try:
            check_state_path(args.state)
        except ValueError as err:
            raise CliError(str(err)) from None
    return run_demo(state=args.state, delay=args.delay, out=_out)


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chorus-rouen",
        description="Send invoices to Chorus Pro (Métropole Rouen Normandie's budgets and any public buyer).",
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens on the wire (never secrets)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("budgets", help="the eight budgets of the Métropole and their SIRETs")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_budgets)

    p = sub.add_parser("validate", help="check invoices (Factur-X PDF, CII or UBL XML); exit 0 if all are valid")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--layout", choices=["direct", "reform"], default="direct", help="identifier layout")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "send",
        help="validate, then deposit invoices on Chorus Pro; print the flow numbers",
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="the invoices to send (only these are deposited)")
    p.add_argument(
        "--pending",
        action="store_true",
        help="also deposit what earlier runs left due on this platform and account (says where first)",
    )
    p.add_argument("--layout", choices=["direct", "reform"], default="direct")
    p.add_argument("--force", action="store_true", help="deposit even when our validation finds errors")
    p.add_argument(
        "--journal",
        metavar="FILE",
        help="SQLite journal that makes sending exactly-once across runs, per platform and account "
        "(default: CHORUS_PRO_JOURNAL or ~/.local/state/chorus-rouen/journal.sqlite3)",
    )
    p.add_argument(
        "--settle-delay",
        type=float,
        default=DEFAULT_SETTLE_DELAY,
        metavar="SECONDS",
        help="after a deposit without answer, how long Chorus Pro is given to show it before a new deposit "
        "(default: %(default)s, one day; the invoice is looked up meanwhile)",
    )
    _add_platform_options(p)
    p.set_defaults(func=cmd_send)

    p = sub.add_parser(
        "track",
        help="flow state and invoice status, in words",
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("flow", nargs="?", metavar="FLOW_NUMBER")
    p.add_argument("--invoice", metavar="NUMBER", help="look the invoice up by its number instead")
    from .track_late_payment import add_options

    add_options(p)  # --delay, --ecb-rate: the payment delay of --invoice
    _add_platform_options(p)
    p.set_defaults(func=cmd_track)

    # The sandbox has its own options (port, state file, processing delay, faults...): pass them through.
    p = sub.add_parser(
        "sandbox",
        help="run the local Chorus Pro sandbox (loopback only by default); --help for its options",
        add_help=False,
        prefix_chars="\0",
    )
    p.add_argument("sandbox_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_sandbox)

    from .cli_read_order import add_parser as add_read_order

    add_read_order(sub, cmd_read_order)  # read-order FILE [--json]: what Chorus Pro needs, read from an order

    p = sub.add_parser("demo", help="the whole story against a built-in sandbox, in one command")
    p.add_argument("--state", metavar="FILE", help="keep the sandbox's state in this SQLite file")
    p.add_argument("--delay", type=float, default=0.3, help="seconds per processing step of the sandbox")
    p.set_defaults(func=cmd_demo)

    odoo_demo.add_parser(odoo_ops.add_parser(sub))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Errors reach the user as one line each; the library's warnings only with --verbose.
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("odoo_chorus_rouen").setLevel(logging.CRITICAL)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        return args.func(args)
    except (CliError, odoo_ops.OdooError) as err:
        _err(f"chorus-rouen {args.command}: {err}")
        return EXIT_ERROR
    except InputError as err:
        _err(f"chorus-rouen {args.command}: {err.message}")
        return EXIT_ERROR
    except ChorusError as err:
        _err(f"chorus-rouen {args.command}: {describe_error(err)}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:  # output piped into head, less...: stop quietly
        sys.stderr.close()
        return EXIT_OK
    except MemoryError:
        _err(f"chorus-rouen {args.command}: not enough memory for this file")
        return EXIT_ERROR
    except Exception as err:  # noqa: BLE001 - a bug: one line, the details with --verbose
        if args.verbose:
            raise
        _err(f"chorus-rouen {args.command}: internal error ({type(err).__name__}: {err}); "
             "run it again with -v for the details, and report them")
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
