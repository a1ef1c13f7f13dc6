#!/usr/bin/env python3
"""Exactly once in a real Odoo: two cron worker processes, random platform faults, workers killed mid-batch.

N invoices to budget contacts are posted (queued ``to_send``) in a fresh database. The sandbox (own
process) draws a fault on about 30% of the API calls (connection cut after the deposit was recorded,
answer slower than the client timeout after recording, 500 after recording, 500, 503, 429 with
Retry-After, expired token). TWO worker processes (each its own registry and cursor, committing
between runs) run ``_cron_chorus_pro_send`` and ``_cron_chorus_pro_sync`` in loops at the same time;
one of them is killed with SIGKILL every few seconds (``--kills`` times) and restarted. The settle
delay and back-off parameters are lowered for the run (``odoo_chorus_rouen.settle_delay_minutes`` = 1,
``retry_base_seconds`` = 1, ``retry_max_seconds`` = 5); the company's client times out after
``--client-timeout`` s instead of 30 (bench-side patch of ``res.company._chorus_pro_get_client``, so
that the ``slow`` fault is a timeout). Then the faults are cleared, the buyer pays every invoice on the
sandbox (``MISE_EN_PAIEMENT``) and the sync runs until nothing is tracked any more.

``--processing-delay SECONDS`` makes every flow wait that long in processing on the sandbox (longer than
the settle delay: the slow platform of issue #14). An invoice whose deposit got no answer is then not
found within the settle delay, is deposited again, and Chorus Pro refuses that second flow as a
duplicate once it integrates the first: allowed, and counted. The final phase waits (in real time) for
the flows still in processing.

Checked through the sandbox: every invoice received once by the Métropole (``GET /sandbox/invoices``;
``GET /sandbox/duplicates``: numbers received twice must be 0), none lost, every extra deposit refused as
a duplicate (deposits = 1 + refused duplicate flows, per invoice), and every invoice ``paid`` in Odoo.
Without ``--processing-delay`` (flows final at once) that means every invoice deposited exactly once.

    PYTHON ODOO/odoo-bin db -c odoo.conf duplicate FRENCH_DB bench_soak
    PYTHON ODOO/odoo-bin -c odoo.conf --addons-path=REPO,ODOO/addons,ODOO/odoo/addons -d bench_soak \
        -i odoo_chorus_rouen --stop-after-init --http-port=8179
    PYTHON bench/odoo/soak_exactly_once.py --db bench_soak --invoices 300 --kills 8
    PYTHON bench/odoo/soak_exactly_once.py --db bench_soak --invoices 200 --kills 6 \
        --processing-delay 150 --final-limit 420
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts (the repo is read-only for runs)
import _common as c  # noqa: E402

FAULT_KINDS = ["cut", "slow", "http_500_after", "http_500", "http_503", "http_429", "expire_token"]
#: Budgets the sandbox integrates without a service code (its Transports budget demands one).
BUDGET_KEYS = ["principal", "dechets", "zones_activites", "eau", "assainissement", "rouen_normandie_creation"]
PARAMS = {"settle_delay_minutes": 1, "retry_base_seconds": 1, "retry_max_seconds": 5, "send_batch_size": 10}
QUEUED_OR_SENT = ("to_send", "sending", "sent")


# --------------------------------------------------------------------------------------------------
# worker process
# --------------------------------------------------------------------------------------------------
def worker(args) -> int:
    """One cron worker: send, commit, sync, commit, again, until nothing is queued or waiting for a flow."""
    odoo, registry = c.start_odoo(args, memory_limit=args.odoo_memory_limit)
    c.patch_client_timeout(registry, args.client_timeout)
    name = f"worker {os.getpid()}"
    rounds = 0
    while time.time() < args.deadline:
        rounds += 1
        left = None
        for method in ("_cron_chorus_pro_send", "_cron_chorus_pro_sync"):
            try:
                with registry.cursor() as cr:
                    env = c.superuser_env(odoo, cr)
                    getattr(env["account.move"], method)()
                    cr.commit()
                    left = env["account.move"].search_count([("chorus_pro_state", "in", QUEUED_OR_SENT)])
            except Exception as err:  # noqa: BLE001 - a round that failed is tried again, as the cron would
                print(f"{name}: {method} round {rounds} failed: {type(err).__name__}: {err}", file=sys.stderr)
        if left == 0:
            print(f"{name}: nothing left after {rounds} rounds", file=sys.stderr)
            return 0
        time.sleep(0.2)
    return 0


# --------------------------------------------------------------------------------------------------
# controller
# --------------------------------------------------------------------------------------------------
def counts(registry, odoo, ids):
    with registry.cursor() as cr:
        cr.execute("SELECT coalesce(chorus_pro_state, '-'), count(*) FROM account_move WHERE id = ANY(%s) "
                   "GROUP BY 1 ORDER BY 1", (list(ids),))
        return dict(cr.fetchall())


def locked_sending(registry):
    """(backend pid, invoice id, client port) of the connections holding the send lock of an invoice that is
    'sending' in the database: a worker between its 'sending' commit and the recording of the deposit's
    answer (or settling an uncertain deposit)."""
    from odoo.addons.odoo_chorus_rouen.models.account_move_chorus_send import ADVISORY_NAMESPACE

    with registry.cursor() as cr:
        cr.execute("""
            SELECT l.pid, m.id, a.client_port FROM pg_locks l
              JOIN account_move m ON m.id = l.objid::integer
              JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s AND l.objsubid = 2
               AND m.chorus_pro_state = 'sending'
        """, (ADVISORY_NAMESPACE,))
        return cr.fetchall()


def worker_of(procs, client_port):
    import psutil

    for proc in procs:
        try:
            for conn in psutil.Process(proc.pid).connections(kind="tcp"):
                if conn.laddr and conn.laddr.port == client_port:
                    return proc
        except psutil.Error:
            continue
    return None


def main(argv=None) -> int:
    p = c.parser(__doc__, sandbox_port=18404)
    p.add_argument("--invoices", type=int, default=300)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--kill-every", type=float, nargs=2, default=(10.0, 30.0), metavar=("MIN", "MAX"),
                   help="seconds between two kills, drawn uniformly")
    p.add_argument("--targeted", type=float, default=0.5,
                   help="share of the kills aimed at a worker holding the send lock of a 'sending' invoice "
                        "(deposit in flight or being settled), looked for during up to 5 s; the others hit a "
                        "random worker")
    p.add_argument("--fault-rate", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--client-timeout", type=float, default=2.0)
    p.add_argument("--slow-delay", type=float, default=3.0, help="delay of the 'slow' fault (> client timeout)")
    p.add_argument("--time-limit", type=float, default=480.0, help="seconds for the send phase")
    p.add_argument("--final-limit", type=float, default=90.0, help="seconds for the final sync phase")
    p.add_argument("--processing-delay", type=float, default=0.0,
                   help="seconds a flow stays in processing on the sandbox (its 3 steps); longer than the settle "
                        "delay (60 s here) to provoke duplicate refusals")
    p.add_argument("--odoo-memory-limit", action="store_true",
                   help="workers get Odoo's limit_memory_hard (Saxon then runs in a child per invoice: slower)")
    p.add_argument("--worker", action="store_true", help=argparse_suppress())
    p.add_argument("--deadline", type=float, default=0.0, help=argparse_suppress())
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)

    rng = random.Random(args.seed)
    odoo, registry = c.start_odoo(args)
    c.patch_client_timeout(registry, args.client_timeout)
    logdir = Path("/tmp/bench_odoo_soak")
    logdir.mkdir(exist_ok=True)
    out = print
    with c.Sandbox(args.sandbox_port, python=args.sandbox_python, log=str(logdir / "sandbox.log")) as sb:
        with registry.cursor() as cr:
            env = c.superuser_env(odoo, cr)
            Move = env["account.move"]
            busy = Move.search_count([("chorus_pro_state", "!=", False)])
            if busy:
                print(f"FAIL: {busy} invoices of {args.db} already have a Chorus Pro state; use a fresh database copy")
                return 2
            setup = c.configure_company(env, sb.url, params=PARAMS)
            t0 = time.perf_counter()
            moves = Move.browse()
            per_budget = -(-args.invoices // len(BUDGET_KEYS))
            for i, key in enumerate(BUDGET_KEYS):
                count = min(per_budget, args.invoices - len(moves))
                if count > 0:
                    moves |= c.create_invoices(env, setup, setup["budgets"][key], count,
                                               engagement=f"EJ-2026-{i:02d}0001", price=100.0 + i)
            moves.action_post()
            cr.commit()
            ids = moves.ids
            numbers = dict(zip(moves.ids, moves.mapped("name")))
            out(f"{len(ids)} invoices posted and queued in {time.perf_counter() - t0:.0f} s "
                f"({numbers[ids[0]]} .. {numbers[ids[-1]]})")

        sb.ctl("POST", "/sandbox/faults", {"random": {
            "probability": args.fault_rate, "seed": args.seed, "kinds": FAULT_KINDS, "delay": args.slow_delay,
            "retry_after": 1}})
        sb.reset_calls()
        sb.ctl("POST", "/sandbox/config", {"processing_delay": args.processing_delay / 3, "routing_delay": 0})
        out(f"flows processed in {args.processing_delay:.0f} s (settle delay {PARAMS['settle_delay_minutes'] * 60} s)")
        out(f"faults on {args.fault_rate:.0%} of API calls {FAULT_KINDS}; client timeout {args.client_timeout} s, "
            f"slow = {args.slow_delay} s; {args.workers} workers, {args.kills} kills; params {PARAMS}")

        started = time.monotonic()
        deadline = time.time() + args.time_limit
        argv_worker = [sys.executable, os.path.abspath(__file__), "--worker", "--deadline", str(deadline),
                       "--odoo", args.odoo, "--conf", args.conf, "--db", args.db, "--log-level", args.log_level,
                       "--client-timeout", str(args.client_timeout)]
        if args.odoo_memory_limit:
            argv_worker.append("--odoo-memory-limit")
        logs = []

        def spawn():
            log = open(logdir / f"worker-{len(logs)}.log", "wb")  # noqa: SIM115
            logs.append(log)
            return subprocess.Popen(argv_worker, stdout=log, stderr=log, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))

        procs = [spawn() for _ in range(args.workers)]
        killed, kill_log = 0, []
        next_kill = time.monotonic() + rng.uniform(*args.kill_every)
        last_report = 0.0
        while any(proc.poll() is None for proc in procs) and time.time() < deadline:
            time.sleep(0.5)
            now = time.monotonic()
            if killed < args.kills and now >= next_kill:
                alive = [proc for proc in procs if proc.poll() is None]
                victim, what = None, "random"
                if alive and rng.random() < args.targeted:
                    look_until = time.monotonic() + 5
                    while victim is None and time.monotonic() < look_until:
                        for _backend, move_id, port in locked_sending(registry):
                            victim = worker_of(alive, port)
                            if victim is not None:
                                what = f"holding invoice {move_id} 'sending'"
                                break
                        else:
                            time.sleep(0.01)
                if alive and victim is None:
                    victim = rng.choice(alive)
                if victim is not None:
                    os.kill(victim.pid, signal.SIGKILL)  # a process this script started
                    victim.wait()
                    killed += 1
                    kill_log.append(f"{now - started:.0f}s {what}")
                    procs.remove(victim)
                    procs.append(spawn())
                next_kill = time.monotonic() + rng.uniform(*args.kill_every)
            if now - last_report >= 10:
                last_report = now
                out(f"  {now - started:6.1f} s  {counts(registry, odoo, ids)}  kills {killed}")
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
        send_seconds = time.monotonic() - started
        drawn = sb.ctl("GET", "/sandbox/faults").get("drawn", {})
        calls_send_phase = {k: v for k, v in sb.calls().items() if v}
        out(f"  send phase over after {send_seconds:.0f} s: {counts(registry, odoo, ids)}  kills {killed}")

        # --- end: no more faults, the buyer pays everything, sync until nothing is tracked -------------------
        sb.ctl("DELETE", "/sandbox/faults")
        paid_ids = set()
        ours = set(numbers.values())
        final_started = time.monotonic()
        rounds = 0
        while time.monotonic() - final_started < args.final_limit:
            rounds += 1
            for row in sb.invoices():  # flows still in processing are integrated during this phase
                if row["numeroFacture"] in ours and row["identifiantFactureCPP"] not in paid_ids:
                    sb.set_status(row["identifiantFactureCPP"], "MISE_EN_PAIEMENT")
                    paid_ids.add(row["identifiantFactureCPP"])
            with registry.cursor() as cr:
                env = c.superuser_env(odoo, cr)
                env["account.move"]._cron_chorus_pro_send()
                env["account.move"]._cron_chorus_pro_sync()
                cr.commit()
            state = counts(registry, odoo, ids)
            if not any(state.get(s) for s in ("to_send", "sending", "sent", "delivered", "action")):
                break
            time.sleep(1)
        out(f"  final sync: {rounds} rounds, {time.monotonic() - final_started:.0f} s: {counts(registry, odoo, ids)}")

        paid_on_sandbox = len(paid_ids)
        deposits = {number: sb.deposits_of(number) for number in numbers.values()}
        duplicates = sb.ctl("GET", "/sandbox/duplicates")
        on_sandbox = Counter(row["numeroFacture"] for row in sb.invoices() if row["numeroFacture"] in ours)
        calls_total = {k: v for k, v in sb.calls().items() if v}
        with registry.cursor() as cr:
            env = c.superuser_env(odoo, cr)
            moves = env["account.move"].browse(ids)
            final = Counter(moves.mapped("chorus_pro_state"))
            not_paid = [(m.name, m.chorus_pro_state, (m.chorus_pro_error or "").replace("\n", " ")[:200])
                        for m in moves if m.chorus_pro_state != "paid"]
            Message = env["mail.message"]
            settled = Message.search_count([("model", "=", "account.move"), ("res_id", "in", ids),
                                            ("body", "ilike", "the earlier deposit went through")])
            again = Message.search_count([("model", "=", "account.move"), ("res_id", "in", ids),
                                          ("body", "ilike", "it is deposited again")])
            confirmed = Message.search_count([("model", "=", "account.move"), ("res_id", "in", ids),
                                              ("body", "ilike", "was refused as a duplicate, as expected")])
            todos = env["mail.activity"].search_count([("res_model", "=", "account.move"), ("res_id", "in", ids)])

    refused = {k: v for k, v in duplicates["refused_duplicates"].items() if k in ours}
    once = sum(1 for n in deposits.values() if n == 1)
    again_refused = sorted(k for k, n in deposits.items() if n > 1 and n == 1 + refused.get(k, 0))
    twice = sorted(k for k, n in deposits.items() if n > 1 and n != 1 + refused.get(k, 0))
    lost = sorted(k for k, n in deposits.items() if n == 0)
    received_twice = sorted(k for k, n in on_sandbox.items() if n > 1)
    received_once = sum(1 for k in ours if on_sandbox.get(k) == 1)
    c.table([
        ("database", args.db),
        ("addon (loaded)", c.LOADED),
        ("invoices", len(ids)),
        ("workers / kills", f"{args.workers} / {killed}"),
        ("kills", "; ".join(kill_log)),
        ("faults drawn", f"{sum(drawn.values())}  {drawn}"),
        ("API calls, send phase", f"{sum(calls_send_phase.values())}  {calls_send_phase}"),
        ("API calls, total", sum(calls_total.values())),
        ("send phase", f"{send_seconds:.0f} s"),
        ("deposits found again (settled)", f"{settled} invoices: 'the earlier deposit went through'"),
        ("deposited again after settle", f"{again} invoices: 'it is deposited again'"),
        ("invoices paid on the sandbox", paid_on_sandbox),
        ("flow processing / settle delay", f"{args.processing_delay:.0f} s / {PARAMS['settle_delay_minutes'] * 60} s"),
        ("deposited exactly once", f"{once}/{len(ids)}"),
        ("deposited again, refused as dup.", f"{len(again_refused)} invoices (allowed)"),
        ("refused duplicate flows", f"{sum(refused.values())} (allowed)"),
        ("duplicate confirmed in chatter", f"{confirmed} invoices: 'refused as a duplicate, as expected'"),
        ("extra deposit not refused", twice or 0),
        ("never deposited (lost)", lost or 0),
        ("received by the Métropole once", f"{received_once}/{len(ids)}"),
        ("received twice", received_twice or 0),
        ("to-dos on the invoices", todos),
        ("final chorus_pro_state", dict(final)),
        ("not paid", not_paid[:20] or 0),
    ])
    ok = (received_once == len(ids) and not received_twice and not twice and not lost
          and final.get("paid", 0) == len(ids))
    print(f"received once: {received_once}/{len(ids)}; received twice: {len(received_twice)}; lost: {len(lost)}; "
          f"deposited exactly once: {once}; refused duplicate flows: {sum(refused.values())} (allowed); "
          f"paid: {final.get('paid', 0)}/{len(ids)}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
