#!/usr/bin/env python3
"""Batch status sync at the core level: API calls and time for N tracked invoices, each with one change.

The sandbox holds N integrated invoices (status ``MISE_A_DISPOSITION``) that the outbox tracks; each
then changes status once on the platform (half paid, a quarter suspended, a quarter payment order).
One sync run must bring every change back in a handful of calls (one paged search), where the best
existing connector makes one ``consulterHistoriqueFacture`` call per invoice.

    python3 bench/bench_sync.py --invoices 1000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from odoo_chorus_rouen.core.auth import Credentials, Endpoints
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.outbox import Outbox
from odoo_chorus_rouen.sandbox import SandboxServer

CHANGES = ["MISE_EN_PAIEMENT", "MISE_EN_PAIEMENT", "SUSPENDUE", "MANDATEE"]


def run(invoices: int = 1000, page_size: int = 100) -> dict:
    with tempfile.TemporaryDirectory() as tmp, SandboxServer() as sandbox:
        seeded = sandbox.seed_invoices(invoices, prefix="SYNC-")
        clients = []

        def factory():
            client = ChorusClient(Credentials.coerce(sandbox.credentials), Endpoints.from_base_url(sandbox.url))
            clients.append(client)
            return client

        outbox = Outbox(str(Path(tmp) / "outbox.sqlite3"), factory, page_size=page_size)
        # The outbox already knows these invoices as delivered (their deposit happened earlier).
        rows = sandbox.invoices(flow_number=seeded["numeroFluxDepot"])
        now = time.time()
        with outbox._tx() as db:
            db.executemany(
                "INSERT INTO items (number, filename, syntax, data, state, flow_number, flow_state, chorus_id, status,"
                " created, updated) VALUES (?, ?, 'IN_DP_E2_CII_FACTURX', x'', 'delivered', ?, 'IN_INTEGRE', ?,"
                " 'MISE_A_DISPOSITION', ?, ?)",
                [
                    (r["numeroFacture"], r["numeroFacture"] + ".pdf", r["numeroFluxDepot"], r["identifiantFactureCPP"],
                     now, now)
                    for r in rows
                ],
            )
        for index, row in enumerate(rows):
            sandbox.set_invoice_status(row["identifiantFactureCPP"], CHANGES[index % len(CHANGES)])
        sandbox.reset_calls()
        started = time.perf_counter()
        outcomes = outbox.sync()
        seconds = time.perf_counter() - started
        calls = sandbox.calls()
        states = outbox.counts()
        outbox.close()
    return {
        "invoices": len(rows),
        "updated": outcomes.get("updated", 0),
        "api_calls": sum(calls.values()),
        "calls_by_operation": calls,
        "seconds": round(seconds, 2),
        "states": dict(states),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args(argv)
    result = run(args.invoices, args.page_size)
    print(f"tracked invoices        {result['invoices']}")
    print(f"status changes applied  {result['updated']}")
    print(f"API calls               {result['api_calls']}  {result['calls_by_operation']}")
    print(f"time                    {result['seconds']} s")
    print(f"states after sync       {result['states']}")
    print(f"one call per invoice    {result['invoices']} calls (the best existing connector)")
    ok = result["updated"] == result["invoices"] and result["api_calls"] <= 15 and result["seconds"] < 10
    print("PASS: at most 15 calls and under 10 s" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
