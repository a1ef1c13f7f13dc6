#!/usr/bin/env python3
"""Memory of the Odoo send job over N invoices: RSS of the process before/after/peak, and of its children.

N invoices to a budget contact are posted (queued ``to_send``), then ``_cron_chorus_pro_send`` deposits
them on the sandbox (separate process) in ONE run (``--batch-size`` >= N) or in repeated runs of
``--batch-size`` in this same process. Each Factur-X is really built by Odoo: the invoice PDF rendered
by wkhtmltopdf, the CII XML of account_edi_ubl_cii + the addon's corrections, validated (XSD,
EN 16931 and BR-FR Schematrons, Chorus rules) before the deposit.

By default this process gets Odoo's address-space limit (``limit_memory_hard``, RLIMIT_AS) as every
Odoo worker does, so the Schematrons (SaxonC) run in a child process; a thread samples, every
``--sample`` seconds, the RSS of this process and of its children (wkhtmltopdf and the validation
child(ren), told apart by their command line). ``--no-memory-limit`` runs Saxon in this process.

``--time-limit`` bounds the run: past it, the remaining invoices are skipped (they stay queued) and
the figures are given for the invoices deposited, with the time per invoice.

    PYTHON bench/odoo/bench_send_memory.py --db bench_a --invoices 1000 --batch-size 1000
"""

from __future__ import annotations

import resource
import sys
import threading
import time
from collections import Counter

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts (the repo is read-only for runs)
import _common as c  # noqa: E402
import psutil  # noqa: E402

MIB = 1024 * 1024


def main(argv=None) -> int:
    p = c.parser(__doc__, sandbox_port=18405)
    p.add_argument("--invoices", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=1000, help="batch_size of _cron_chorus_pro_send")
    p.add_argument("--time-limit", type=float, default=540.0, help="seconds for the send job (then stop)")
    p.add_argument("--time-budget", type=float, default=0.0,
                   help="time_budget of _cron_chorus_pro_send (default 0: none, the whole batch in ONE call; the "
                        "addon's cron passes stop after send_time_budget_seconds)")
    p.add_argument("--no-memory-limit", action="store_true", help="do not apply Odoo's limit_memory_hard")
    p.add_argument("--sample", type=float, default=0.02, help="RSS sampling interval (s)")
    p.add_argument("--http-port", type=int, default=18415,
                   help="start an Odoo HTTP server (no cron) on this port for the report assets (report.url); "
                        "0: none (wkhtmltopdf then uses web.base.url)")
    p.add_argument("--max-growth-mib", type=float, default=100.0,
                   help="PASS needs the RSS growth of the job to stay under this")
    args = p.parse_args(argv)
    odoo, registry = c.start_odoo(args, memory_limit=not args.no_memory_limit)
    from odoo.addons.odoo_chorus_rouen.core import validation_schematron
    from odoo.addons.odoo_chorus_rouen.models import account_move as am

    me = psutil.Process()
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    validation_path = ("per-file child (models/account_move.py _VALIDATE_CHILD)"
                       if hasattr(am, "_VALIDATE_CHILD") and limit != resource.RLIM_INFINITY
                       else "core.validation.validate (persistent Saxon child when the address space is limited)"
                       if validation_schematron._address_space_limited() else "in-process Saxon")

    http = c.OdooHttp(args, args.http_port, log="/tmp/bench_odoo_memory_http.log") if args.http_port else None
    with c.Sandbox(args.sandbox_port, python=args.sandbox_python, log="/tmp/bench_odoo_memory_sandbox.log") as sb, \
            registry.cursor() as cr:
        excluded = {sb.process.pid} | ({http.process.pid} if http else set())
        env = c.superuser_env(odoo, cr)
        Move = env["account.move"]
        other = Move.search_count([("chorus_pro_state", "in", ("to_send", "sending"))])
        if other:
            print(f"FAIL: {other} invoices are already queued in {args.db}; the job would send them too")
            return 2
        setup = c.configure_company(env, sb.url, params={"settle_delay_minutes": 10})
        assets_url = c.set_report_url(env, http.url if http else None)
        assets = f"{assets_url} ({'answers' if c.url_answers(assets_url) else 'NOT answering: unstyled PDF'})"
        t0 = time.perf_counter()
        moves = c.create_invoices(env, setup, setup["budget_principal"], args.invoices)
        moves.action_post()
        cr.commit()
        prepare = time.perf_counter() - t0
        ids = moves.ids
        env.invalidate_all()

        # --- samplers ------------------------------------------------------------------------------------
        peaks = {"self": me.memory_info().rss, "wkhtmltopdf": 0, "validation": 0, "children_total": 0}
        children_seen = Counter()
        stop = threading.Event()

        def kind_of(proc):
            try:
                cmd = " ".join(proc.cmdline())
            except psutil.Error:
                return None
            if "wkhtmltopdf" in cmd:
                return "wkhtmltopdf"
            if "validation" in cmd or "_serve_schematron" in cmd or "odoo_chorus_rouen" in cmd:
                return "validation"
            return "other"

        pids = {}

        def sample():
            while not stop.is_set():
                try:
                    peaks["self"] = max(peaks["self"], me.memory_info().rss)
                    total = 0
                    for child in me.children(recursive=True):
                        if child.pid in excluded:
                            continue
                        kind = pids.get(child.pid)
                        if kind in (None, "other"):  # "other": maybe seen between fork and exec
                            kind = kind_of(child) or "other"
                            if pids.get(child.pid) != kind:
                                if child.pid in pids:
                                    children_seen[pids[child.pid]] -= 1
                                pids[child.pid] = kind
                                children_seen[kind] += 1
                        try:
                            rss = child.memory_info().rss
                        except psutil.Error:
                            continue
                        total += rss
                        peaks[kind] = max(peaks.get(kind, 0), rss)
                    peaks["children_total"] = max(peaks["children_total"], total)
                except psutil.Error:
                    pass
                time.sleep(args.sample)

        # --- RSS curve + time limit, around each invoice -----------------------------------------------------
        Model = registry["account.move"]
        original_send_one = Model._chorus_pro_send_one
        curve, durations = [], []
        deadline = [None]
        done = [0]

        def _chorus_pro_send_one(self, clients):
            if deadline[0] is not None and time.perf_counter() > deadline[0]:
                return "skipped"
            started = time.perf_counter()
            outcome = original_send_one(self, clients)
            durations.append(time.perf_counter() - started)
            done[0] += 1
            if done[0] % 50 == 0:
                curve.append((done[0], me.memory_info().rss))
            return outcome

        Model._chorus_pro_send_one = _chorus_pro_send_one

        before = me.memory_info().rss
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        deadline[0] = started + args.time_limit
        runs = 0
        while True:
            runs += 1
            Move._cron_chorus_pro_send(batch_size=args.batch_size, time_budget=args.time_budget)
            cr.commit()
            remaining = Move.search_count([("id", "in", ids), ("chorus_pro_state", "in", ("to_send", "sending"))])
            if not remaining or time.perf_counter() > deadline[0]:
                break
        seconds = time.perf_counter() - started
        stop.set()
        sampler.join()
        after = me.memory_info().rss
        env.invalidate_all()
        moves = Move.browse(ids)
        states = Counter(m.chorus_pro_state for m in moves)
        sent = moves.filtered(lambda m: m.chorus_pro_state == "sent")
        errors = Counter((m.chorus_pro_error or "").splitlines()[0][:120] for m in moves
                         if m.chorus_pro_state == "error")
        deposit_list = [sb.deposits_of(m.name) for m in moves]
        deposits = Counter(deposit_list)
        calls = {k: v for k, v in sb.calls().items() if v}
        file_sizes = sent.mapped("chorus_pro_attachment_id").mapped("file_size")
        leftover = moves.filtered(lambda m: m.chorus_pro_state == "to_send")
        if leftover:  # not reached within the time limit: take them out of the queue (reset + cancel)
            leftover.button_draft()
            leftover.button_cancel()
            cr.commit()
        if http:
            c.set_report_url(env, None)
            cr.commit()
    if http:
        http.stop()

    n = len(durations)
    per_invoice = seconds / max(1, len(sent))
    growth = peaks["self"] - before
    mid = [rss for count, rss in curve if count >= max(50, n // 4)]
    slope = ((curve[-1][1] - mid[0]) / (curve[-1][0] - max(50, n // 4)) if len(mid) > 1
             and curve[-1][0] > max(50, n // 4) else float("nan"))
    print(f"database {args.db}; RLIMIT_AS soft {'none' if limit == resource.RLIM_INFINITY else f'{limit / MIB:.0f} MiB'}"
          f"; validation: {validation_path}")
    print(f"report assets for wkhtmltopdf: {assets}")
    print(f"addon (loaded): {c.LOADED}")
    c.table([
        ("invoices queued", f"{args.invoices} (create + post {prepare:.0f} s)"),
        ("send job", f"{runs} run(s) of _cron_chorus_pro_send(batch_size={args.batch_size}, "
                     f"time_budget={args.time_budget:g}), {seconds:.0f} s"
                     f"{' (time limit reached)' if len(sent) < args.invoices else ''}"),
        ("deposited (sent)", f"{len(sent)}/{args.invoices}  states {dict(states)}"),
        ("sandbox deposits per invoice", dict(sorted(deposits.items()))),
        ("sandbox calls", calls),
        ("time per invoice", f"{per_invoice:.2f} s  (median {c.median(durations):.2f} s, "
                             f"1000 invoices = {per_invoice * 1000 / 60:.0f} min)"),
        ("Factur-X file size", f"{(sum(file_sizes) / max(1, len(file_sizes))) / 1024:.0f} KiB average"),
        ("RSS before the job", f"{before / MIB:.0f} MiB"),
        ("RSS peak in the job", f"{peaks['self'] / MIB:.0f} MiB (+{growth / MIB:.0f} MiB)"),
        ("RSS after the job", f"{after / MIB:.0f} MiB (+{(after - before) / MIB:.0f} MiB)"),
        ("RSS every 50 invoices (MiB)", " ".join(f"{k}:{v / MIB:.0f}" for k, v in curve) or "-"),
        ("growth after the first quarter", f"{slope / 1024:.1f} KiB/invoice" if slope == slope else "-"),
        ("ru_maxrss (this process)", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"),
        ("children seen", {k: v for k, v in children_seen.items() if v}),
        ("validation child RSS peak", f"{peaks['validation'] / MIB:.0f} MiB"),
        ("wkhtmltopdf RSS peak", f"{peaks['wkhtmltopdf'] / MIB:.0f} MiB"),
        ("children RSS peak (sum)", f"{peaks['children_total'] / MIB:.0f} MiB"),
        ("errors", dict(errors) or 0),
        ("not reached (time limit)", f"{len(leftover)} invoices, reset to draft and cancelled" if leftover else 0),
    ])
    memory_ok = growth / MIB < args.max_growth_mib
    deposits_ok = not errors and all(count == 1 for m, count in zip(moves, deposit_list) if m in sent) \
        and not any(count for m, count in zip(moves, deposit_list) if m not in sent)
    if memory_ok and deposits_ok and len(sent) == args.invoices:
        print(f"PASS: {len(sent)} deposited once each in one process, RSS +{growth / MIB:.0f} MiB "
              f"(< {args.max_growth_mib:g})")
        return 0
    if memory_ok and deposits_ok:
        print(f"INCOMPLETE: RSS +{growth / MIB:.0f} MiB (< {args.max_growth_mib:g}) over {len(sent)}/{args.invoices} "
              f"deposits, the time limit stopped the job; --time-limit {int(per_invoice * args.invoices * 1.2)} "
              "for all of them")
        return 1
    print(f"FAIL: RSS +{growth / MIB:.0f} MiB (max {args.max_growth_mib:g}), deposited {len(sent)}/{args.invoices}, "
          f"deposit counts {dict(deposits)}, errors {dict(errors) or 0}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
