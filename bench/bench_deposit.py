#!/usr/bin/env python3
"""Round-trip throughput of ``deposerFluxFacture`` through ``ChorusClient`` against the sandbox on loopback.

Each deposit is one real HTTP round trip (JSON body with the base64 file, token cached) to the
local Chorus Pro sandbox; every invoice gets its own number so the sandbox sees no duplicates.
Prints one table row per concurrency level: deposits/s, latency percentiles, HTTP calls made.

Usage (from the repository root)::

    python3 bench/bench_deposit.py                 # 200 deposits, 1 and 4 workers, in-process sandbox (CII XML)
    python3 bench/bench_deposit.py --facturx       # the same with the Factur-X PDF Odoo 18 produces (33 KB)
    python3 bench/bench_deposit.py -n 1000 -c 1,2,8 --file data/invoices/facturx_principal_invoice.pdf
    python3 bench/bench_deposit.py --url http://127.0.0.1:8080   # a sandbox started with `chorus-rouen sandbox`

With the in-process sandbox, server and client share one Python process (and its GIL): the
figures are a floor for what a separate sandbox process would give.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from odoo_chorus_rouen.core.auth import Credentials, TokenCache  # noqa: E402
from odoo_chorus_rouen.core.client import ChorusClient  # noqa: E402
from odoo_chorus_rouen.core.errors import ChorusError  # noqa: E402
from odoo_chorus_rouen.core.payload import build_deposit  # noqa: E402
from odoo_chorus_rouen.core.validation import Format, detect_format, extract_xml, read_facts  # noqa: E402

DEFAULT_FILE = ROOT / "data" / "invoices" / "cii_eau_invoice.xml"  # 8.7 KB CII XML
FACTURX_FILE = ROOT / "data" / "invoices" / "odoo_facturx_eau_invoice.pdf"  # 33 KB Factur-X PDF made by Odoo 18
# CONTRACTS.md demo credentials of the sandbox.
SANDBOX_CREDENTIALS = Credentials(
    "sandbox-client-id", "sandbox-client-secret", "TECH_1_sandbox@cpro.fr", "sandbox-password"
)


def make_invoices(template: bytes, count: int, run_id: str) -> list[tuple[str, bytes]]:
    """``count`` copies of an invoice, each with its own invoice number (BT-1).

    An XML is renumbered byte-wise; a Factur-X PDF gets its renumbered XML embedded again (factur-x
    library, before the clock starts), so each deposit is a complete PDF of the template's size.
    """
    fmt = detect_format(template)
    if fmt is Format.FACTURX_PDF:
        from facturx import generate_from_binary

        _, xml = extract_xml(template)
        old = read_facts(xml, Format.CII).number.encode()
        renumber = lambda number: generate_from_binary(  # noqa: E731
            template, xml.replace(old, number.encode()), check_xsd=False
        )
    else:
        old = read_facts(template).number.encode()
        renumber = lambda number: template.replace(old, number.encode())  # noqa: E731
    out = []
    for index in range(count):
        number = f"B{run_id}-{index:06d}"  # 14 characters (Chorus Pro allows 20)
        out.append((number, renumber(number)))
    return out


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * pct / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def run_level(url: str, credentials: Credentials, invoices: list[tuple[str, bytes]], workers: int) -> dict:
    """Deposit every invoice with ``workers`` threads (one client each, one shared token cache)."""
    cache = TokenCache()
    local = threading.local()
    clients: list[ChorusClient] = []
    lock = threading.Lock()
    latencies: list[float] = []
    errors: Counter[str] = Counter()

    def get_client() -> ChorusClient:
        if not hasattr(local, "client"):
            local.client = ChorusClient(credentials, url, token_cache=cache, timeout=30.0)
            with lock:
                clients.append(local.client)
        return local.client

    def one(item: tuple[str, bytes]) -> None:
        number, data = item
        body = build_deposit(data, f"{number}.{'pdf' if data[:5] == b'%PDF-' else 'xml'}")
        started = time.perf_counter()
        try:
            get_client().deposit_flow(data, body["nomFichier"], body["syntaxeFlux"], body=body)
        except ChorusError as err:
            with lock:
                errors[err.code] += 1
            return
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)

    # Warm-up: first token and connection, not measured.
    get_client().health_check()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, invoices))
    wall = time.perf_counter() - started
    calls: Counter[str] = Counter()
    for client in clients:
        calls.update(client.calls)
        client.close()
    return {
        "workers": workers,
        "deposits": len(latencies),
        "errors": dict(errors),
        "wall_s": wall,
        "per_s": len(latencies) / wall if wall else float("nan"),
        "median_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p95_ms": percentile(latencies, 95) * 1000,
        "max_ms": max(latencies) * 1000 if latencies else float("nan"),
        "token_calls": calls["token"],
        "deposit_calls": calls["deposerFluxFacture"],
    }


def print_table(rows: list[dict], count: int, size: int, where: str, name: str = "") -> None:
    print(f"\ndeposerFluxFacture round trips: {count} deposits per level, file {name} ({size} bytes), "
          f"sandbox {where}\n")
    header = (
        f"{'workers':>7} {'ok':>6} {'errors':>7} {'wall s':>8} {'deposits/s':>11} {'median ms':>10} "
        f"{'p95 ms':>8} {'max ms':>8} {'token':>6} {'POSTs':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['workers']:>7} {row['deposits']:>6} {sum(row['errors'].values()):>7} {row['wall_s']:>8.2f} "
            f"{row['per_s']:>11.1f} {row['median_ms']:>10.2f} {row['p95_ms']:>8.2f} {row['max_ms']:>8.2f} "
            f"{row['token_calls']:>6} {row['deposit_calls']:>6}"
        )
        if row["errors"]:
            print(f"{'':>7} errors by code: {row['errors']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=200, help="deposits per concurrency level (default 200)")
    parser.add_argument("-c", "--concurrency", default="1,4", help="comma-separated worker counts (default 1,4)")
    parser.add_argument("--file", type=Path, help="invoice used as template: CII, UBL or Factur-X PDF "
                        f"(default: {DEFAULT_FILE.relative_to(ROOT)})")
    parser.add_argument("--facturx", action="store_true",
                        help=f"use the Factur-X PDF Odoo 18 produces ({FACTURX_FILE.relative_to(ROOT)})")
    parser.add_argument("--url", help="base URL of a running sandbox (default: start one in this process)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--processing-delay",
        type=float,
        default=3600.0,
        help="in-process sandbox: seconds before a flow is integrated (default 3600: not during the run)",
    )
    args = parser.parse_args(argv)
    levels = [int(part) for part in args.concurrency.split(",") if part.strip()]
    file = args.file or (FACTURX_FILE if args.facturx else DEFAULT_FILE)
    template = file.read_bytes()

    with ExitStack() as stack:
        if args.url:
            url, credentials, where = args.url, SANDBOX_CREDENTIALS, args.url
        else:
            from odoo_chorus_rouen.sandbox import SandboxServer

            # Flows are not integrated during the run (long processing delay): the figures are the
            # deposit round trips themselves, not the sandbox's asynchronous integration work.
            sandbox = stack.enter_context(
                SandboxServer(port=0, state_path=":memory:", processing_delay=args.processing_delay)
            )
            url, where = sandbox.url, f"in-process {sandbox.url}"
            credentials = Credentials.coerce(getattr(sandbox, "credentials", None) or SANDBOX_CREDENTIALS)
        rows = []
        for workers in levels:
            invoices = make_invoices(template, args.count, uuid.uuid4().hex[:6].upper())
            rows.append(run_level(url, credentials, invoices, workers))
    print_table(rows, args.count, len(template), where, file.name)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0 if all(not row["errors"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
