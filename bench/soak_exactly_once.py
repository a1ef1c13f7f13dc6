"""Exactly once under faults, at the core level (no Odoo): deposits, losses, final statuses.

N invoices go through the outbox's send and sync jobs, run by several worker *processes* sharing one
SQLite outbox, against the local Chorus Pro sandbox with faults injected at random on about 30% of
the calls (connection cut after the deposit was recorded, timeouts after the deposit was recorded,
500 after recording, 500, 503, 429 with Retry-After, expired tokens), while workers are killed with
SIGKILL mid-batch and replaced. Then the buyer pays every invoice and the sync brings the statuses back.

Promises checked: every invoice deposited exactly once (the sandbox counts what it recorded), none
lost, all at their final status.

    python bench/soak_exactly_once.py --invoices 1000 --workers 2 --kills 10
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from odoo_chorus_rouen.core.auth import Credentials, Endpoints
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.outbox import Outbox
from odoo_chorus_rouen.sandbox import SandboxServer
from odoo_chorus_rouen.sandbox.sample_invoices import make_cii

#: What the faulty platform does, each drawn at random on a faulty call.
FAULT_KINDS = ["cut", "slow", "http_500_after", "http_500", "http_503", "http_429", "expire_token"]
CLIENT_TIMEOUT = 1.0
OUTBOX_OPTIONS = {"settle_delay": 1.0, "lease": 3.0, "backoff_base": 0.05, "backoff_max": 0.5, "max_attempts": 1000}

WORKER = """
import sys, time
from odoo_chorus_rouen.core.auth import Credentials, Endpoints
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.outbox import Outbox

path, url, creds = sys.argv[1], sys.argv[2], sys.argv[3].split("|")
deadline, options = float(sys.argv[4]), eval(sys.argv[5])
outbox = Outbox(path, lambda: ChorusClient(Credentials(*creds), Endpoints.from_base_url(url), timeout={timeout},
                max_retries=2, backoff=0.05, max_wait=0.5), **options)
while time.time() < deadline:
    try:
        done = outbox.send_due(limit=10)
        outbox.sync()
    except Exception as err:  # a sync that failed on a fault: the next round tries again
        print("worker round failed:", type(err).__name__, err, file=sys.stderr)
        done = {{}}
    if not done and not outbox.items(["queued", "sending", "sent"]):
        break
    time.sleep(0.02)
"""


def run_soak(
    invoices: int = 200,
    workers: int = 2,
    kills: int = 5,
    fault_rate: float = 0.3,
    seed: int = 2026,
    time_limit: float = 600.0,
    out=print,
) -> dict:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, SandboxServer(processing_delay=0.0) as sandbox:
        path = str(Path(tmp) / "outbox.sqlite3")
        creds = sandbox.credentials

        def client() -> ChorusClient:
            return ChorusClient(Credentials.coerce(creds), Endpoints.from_base_url(sandbox.url), timeout=5)

        outbox = Outbox(path, client, **OUTBOX_OPTIONS)
        numbers = [f"SOAK-{seed % 1000:03d}-{i:05d}" for i in range(invoices)]
        for number in numbers:
            outbox.add(make_cii(number, amount=f"{100 + len(number)}.00"))
        out(f"{invoices} invoices queued; faults on {fault_rate:.0%} of calls; {workers} workers, {kills} kills")

        sandbox.random_faults(fault_rate, seed=seed, kinds=FAULT_KINDS, delay=CLIENT_TIMEOUT + 0.5)
        started = time.monotonic()
        deadline = time.time() + time_limit
        script = WORKER.format(timeout=CLIENT_TIMEOUT)
        argv = [
            sys.executable, "-c", script, path, sandbox.url,
            "|".join([creds.client_id, creds.client_secret, creds.login, creds.password]),
            str(deadline), repr(OUTBOX_OPTIONS),
        ]
        procs = [subprocess.Popen(argv, stderr=subprocess.DEVNULL) for _ in range(workers)]
        killed = 0
        while any(p.poll() is None for p in procs) and time.time() < deadline:
            time.sleep(rng.uniform(0.2, 0.8))
            if killed < kills:
                alive = [p for p in procs if p.poll() is None]
                if alive:
                    victim = rng.choice(alive)
                    os.kill(victim.pid, signal.SIGKILL)
                    victim.wait()
                    killed += 1
                    procs.remove(victim)
                    procs.append(subprocess.Popen(argv, stderr=subprocess.DEVNULL))
            counts = outbox.counts()
            out(f"  {time.monotonic() - started:6.1f} s  {dict(sorted(counts.items()))}  kills {killed}")
        for proc in procs:
            proc.wait()
        send_seconds = time.monotonic() - started

        # The buyer pays everything that reached it; faults go on while the sync brings it back.
        for number in numbers:
            chorus_id = sandbox.invoice_id(number)
            if chorus_id:
                sandbox.set_invoice_status(chorus_id, "MISE_EN_PAIEMENT")
        rounds = 0
        while outbox.items(["sent", "delivered", "action"]) and time.time() < deadline:
            rounds += 1
            try:
                outbox.sync()
            except Exception as err:  # noqa: BLE001 - a faulty round is retried, as the cron would
                out(f"  sync round {rounds} failed on a fault: {type(err).__name__}")
        sandbox.clear_faults()
        outbox.sync()

        deposits = {number: sandbox.deposits_of(number) for number in numbers}
        final = Counter(item.state for item in outbox.items())
        result = {
            "invoices": invoices,
            "workers": workers,
            "kills": killed,
            "fault_rate": fault_rate,
            "calls": sum(sandbox.calls().values()),
            "deposited_once": sum(1 for n in deposits.values() if n == 1),
            "deposited_twice_or_more": sorted(k for k, n in deposits.items() if n > 1),
            "never_deposited": sorted(k for k, n in deposits.items() if n == 0),
            "final_states": dict(final),
            "not_paid": sorted(i.number for i in outbox.items() if i.state != "paid"),
            "send_seconds": round(send_seconds, 1),
        }
        outbox.close()
        return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    result = run_soak(args.invoices, args.workers, args.kills, args.fault_rate, args.seed)
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, list) or v}, indent=2))
    ok = (
        result["deposited_once"] == args.invoices
        and not result["deposited_twice_or_more"]
        and not result["not_paid"]
    )
    print(
        f"exactly once: {result['deposited_once']}/{args.invoices};"
        f" duplicates: {len(result['deposited_twice_or_more'])};"
        f" lost: {len(result['never_deposited'])}; paid: {result['final_states'].get('paid', 0)}/{args.invoices}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
