"""The sandbox's command line: ``chorus-rouen sandbox`` and ``python -m odoo_chorus_rouen.sandbox``.

:func:`main` reads the options (checked by :mod:`.arguments`: one clear line instead of a
traceback) and :func:`serve_forever` runs a :class:`.server.SandboxServer` in the foreground, printing
where it listens and its credentials, until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sqlite3
import sys
import threading
from typing import Any

from . import directory as dirmod
from .arguments import check_port, check_state_path
from .server import SandboxServer

__all__ = ["DEFAULT_PORT", "build_parser", "main", "serve_forever"]

DEFAULT_PORT = 8080


def build_parser(prog: str = "chorus-rouen sandbox") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Run a local Chorus Pro (PISTE) sandbox.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default: {DEFAULT_PORT}; 0 = any)")
    parser.add_argument(
        "--state",
        default=":memory:",
        metavar="FILE",
        help="SQLite file keeping the state across restarts (default: in memory)",
    )
    parser.add_argument("--directory", metavar="FILE", help="JSON file of extra directory structures")
    parser.add_argument(
        "--delay",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="seconds per flow processing step and per invoice routing step (default: 2)",
    )
    parser.add_argument(
        "--functional-errors-http",
        type=int,
        choices=(200, 400),
        default=200,
        help="HTTP status of answers with codeRetour != 0 (default: 200)",
    )
    parser.add_argument(
        "--layers", default="xsd", help="validation layers applied to deposits, comma separated (default: xsd)"
    )
    parser.add_argument(
        "--supplier",
        action="append",
        default=[],
        metavar="SIRET[:NAME]",
        help="register a supplier (PRIVEE structure), e.g. your company; repeatable",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def serve_forever(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    state_path: str = ":memory:",
    *,
    out: Any = None,
    suppliers: list[str] | None = None,
    **options: Any,
) -> None:
    """Run a sandbox in the foreground until Ctrl-C (or SIGTERM); prints where it listens.

    :param suppliers: ``"SIRET"`` or ``"SIRET:Name"`` of suppliers to register before starting.
    """
    out = out or sys.stdout
    sandbox = SandboxServer(host, port, state_path, **options)
    for supplier in suppliers or []:
        siret, _, name = supplier.partition(":")
        added = sandbox.add_structure(siret=siret, name=name or None)
        print(
            f"Supplier {added['identifiantStructure']} registered (idStructureCPP {added['idStructureCPP']})", file=out
        )
    sandbox.start()
    creds = sandbox.credentials
    print(f"Chorus Pro sandbox listening on {sandbox.url}", file=out)
    print(f"  token URL      {sandbox.token_url}", file=out)
    print(f"  API base URL   {sandbox.url}  (PISTE paths /cpro/...)", file=out)
    print(f"  control API    {sandbox.url}/sandbox/state", file=out)
    print(f"  client_id      {creds.client_id}", file=out)
    print(f"  client_secret  {creds.client_secret}", file=out)
    print(f"  login          {creds.login}", file=out)
    print(f"  password       {creds.password}", file=out)
    print(f"  state          {state_path}", file=out)
    print("Press Ctrl-C to stop.", file=out, flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"WARNING: listening on {host}: the sandbox has no real security.", file=out, flush=True)

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _stop)
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        print("Stopping the sandbox.", file=out, flush=True)
    finally:
        sandbox.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None, prog: str = "chorus-rouen sandbox") -> int:
    """Entry point of ``chorus-rouen sandbox`` and ``python -m odoo_chorus_rouen.sandbox``."""
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    layers = tuple(layer.strip() for layer in args.layers.split(",") if layer.strip())
    try:
        check_port(args.port)
        check_state_path(args.state)
    except ValueError as err:
        print(f"Invalid sandbox setting: {err}", file=sys.stderr)
        return 2
    try:
        serve_forever(
            args.host,
            args.port,
            args.state,
            directory_file=args.directory,
            processing_delay=args.delay,
            functional_errors_http=args.functional_errors_http,
            validation_layers=layers,
            suppliers=args.supplier,
        )
    except OSError as err:
        print(f"Cannot start the sandbox: {err}", file=sys.stderr)
        return 1
    except (ValueError, dirmod.DirectoryError) as err:
        print(f"Invalid sandbox setting: {err}", file=sys.stderr)
        return 2
    except sqlite3.Error as err:
        print(f"Invalid sandbox setting: --state {args.state} cannot be used ({err})", file=sys.stderr)
        return 2
    return 0
