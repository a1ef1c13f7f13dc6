#!/usr/bin/env python3
"""The send job under Odoo's own cron runner, in multi-worker mode, with the server's real-time limit.

N invoices to a budget contact are posted (queued), then a real Odoo server is started on the database
with ``--workers=2 --max-cron-threads=1`` and ``--limit-time-real`` (default 120 s, Odoo's default, which
also bounds the cron worker when ``limit_time_real_cron`` is -1). Its cron worker runs the send job
(``ir_cron_chorus_pro_send``) as in production: it sleeps up to ~70 s between passes (the watchdog counts
that sleep), chains the calls of a job that reports remaining work, and kills the worker that overruns
the limit. Every invoice PDF is rendered by wkhtmltopdf (~1.5-2 s each in the lab), so a pass of the
default batch (50) takes longer than the limit allows.

PASS: no cron worker killed by the watchdog, every invoice deposited exactly once (sandbox count).
The table gives the passes of the send job, those that stopped at the time budget, and the invoices per
pass, from the server log (``/tmp/bench_odoo_cron_<db>.log``).

    PYTHON bench/odoo/cron_time_limit.py --db bench_c --invoices 60
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts (the repo is read-only for runs)
import _common as c  # noqa: E402

PASS_DONE = re.compile(r"Job 'Chorus Pro: send queued invoices' \(\d+\) processed (\d+) records")
KILLED = re.compile(r"WorkerCron \(\d+\) timeout after")
OUT_OF_BUDGET = re.compile(r"send job out of its ([\d.]+)s time budget")


def main(argv=None) -> int:
    p = c.parser(__doc__, sandbox_port=18407)
    p.add_argument("--invoices", type=int, default=60)
    p.add_argument("--limit-time-real", type=int, default=120, help="the server's --limit-time-real (s)")
    p.add_argument("--http-port", type=int, default=18417, help="port of the Odoo server started here")
    p.add_argument("--wait", type=float, default=600.0, help="give up after this many seconds")
    args = p.parse_args(argv)
    odoo, registry = c.start_odoo(args)
    log = f"/tmp/bench_odoo_cron_{args.db}.log"
    if os.path.exists(log):
        os.unlink(log)
    with c.Sandbox(args.sandbox_port, python=args.sandbox_python, log="/tmp/bench_odoo_cron_sandbox.log") as sb:
        with registry.cursor() as cr:
            env = c.superuser_env(odoo, cr)
            if env["account.move"].search_count([("chorus_pro_state", "!=", False)]):
                print("This database already has Chorus Pro invoices: use a fresh copy.", file=sys.stderr)
                return 2
            setup = c.configure_company(env, sb.url)
            c.set_report_url(env, f"http://127.0.0.1:{args.http_port}")  # this server serves the report assets
            moves = c.create_invoices(env, setup, setup["budget_principal"], args.invoices)
            moves.action_post()
            ids, names = moves.ids, moves.mapped("name")
            cr.commit()
        print(f"{len(ids)} invoices queued; addon: {c.LOADED}", flush=True)
        argv = [sys.executable, str(args.odoo) + "/odoo-bin", *c.odoo_options(args), "-d", args.db,
                f"--db-filter=^{args.db}$", "--http-interface=127.0.0.1", f"--http-port={args.http_port}",
                f"--gevent-port={args.http_port + 1}", "--workers=2", "--max-cron-threads=1",
                f"--limit-time-real={args.limit_time_real}", "--limit-time-cpu=600", "--log-level=info",
                f"--logfile={log}"]
        with open(log + ".stderr", "wb") as err:
            server = subprocess.Popen(argv, stdout=err, stderr=err, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        started = time.time()
        states = {}
        try:
            while time.time() - started < args.wait:
                time.sleep(10)
                with registry.cursor() as cr:
                    cr.execute("SELECT chorus_pro_state, count(*) FROM account_move WHERE id = ANY(%s) GROUP BY 1",
                               (ids,))
                    states = dict(cr.fetchall())
                print(f"{time.time() - started:5.0f} s  {states}", flush=True)
                if not states.get("to_send") and not states.get("sending"):  # (the sync job moves them on)
                    break
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        seconds = time.time() - started
        deposits = [sb.deposits_of(name) for name in names]
    text = open(log, encoding="utf-8", errors="replace").read()
    kills = len(KILLED.findall(text))
    per_pass = [int(n) for n in PASS_DONE.findall(text)]
    budgets = OUT_OF_BUDGET.findall(text)
    once = sum(1 for n in deposits if n == 1)
    c.table([
        ("server", f"--workers=2 --max-cron-threads=1 --limit-time-real={args.limit_time_real}"),
        ("invoices", f"{len(ids)}: {dict(states)} after {seconds:.0f} s"),
        ("send job passes", f"{len(per_pass)}, invoices per pass {per_pass}"),
        ("passes stopped at the time budget", f"{len(budgets)}" + (f" (budget {budgets[0]} s)" if budgets else "")),
        ("cron workers killed by the watchdog", kills),
        ("deposited exactly once", f"{once}/{len(ids)} (twice or more: {sum(1 for n in deposits if n > 1)}, "
                                   f"never: {deposits.count(0)})"),
        ("server log", log),
    ])
    ok = kills == 0 and once == len(ids)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
