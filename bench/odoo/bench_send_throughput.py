#!/usr/bin/env python3
"""Throughput of the Odoo send job: seconds per invoice for today's path, the batched rendering and XML-only.

In ONE process on ONE database, three rounds of N invoices to a budget contact are posted (queued), then
``_cron_chorus_pro_send`` deposits each round on the sandbox (separate process), timed:

* ``current``: one report call per invoice, as before issue 21 (``odoo_chorus_rouen.send_render_batch`` = 1);
* ``batched``: the invoice PDFs rendered together (the parameter at its default, or ``--render-batch``);
* ``xml``: XML-only deposits (the company's ``chorus_pro_flow_format`` = ``cii``), when this checkout has that
  field; else "xml: not available on this checkout" and null.

Each Factur-X is really built: invoice PDF by wkhtmltopdf (``report.print_delay`` at its default, served its
CSS and fonts by an Odoo HTTP server without cron, ``--http-port``), CII of account_edi_ubl_cii + the addon's
corrections, validation (XSD, Schematrons, Chorus rules). The process gets Odoo's ``limit_memory_hard``
(RLIMIT_AS) like every Odoo worker. A thread samples the RSS of this process (the worker) every 20 ms.
A warm-up round (``--warmup``, not counted) runs first, so that no round pays the first compilations.

PASS: every invoice deposited once, batched at most half of current per invoice, XML-only at most a tenth of
it (when available), worker RSS peak under ``--max-rss-mib`` and flat (in no round does it grow by more than
``--max-drift-mib`` after the 50th invoice: the first groups set the working set of the batch). With ``--json`` the last line is
``{"current": s, "batched": s, "xml": s, "peak_rss_mb": n}``.

    PYTHON bench/odoo/bench_send_throughput.py --db bench_t --invoices 200 --json
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from collections import Counter

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts (the repo is read-only for runs)
import _common as c  # noqa: E402
import psutil  # noqa: E402

MIB = 1024 * 1024
RENDER_PARAM = c.PARAM + "send_render_batch"


def main(argv=None) -> int:  # noqa: PLR0915 - a script: one flow, top to bottom
    p = c.parser(__doc__, sandbox_port=18406)
    p.add_argument("--invoices", type=int, default=200, help="invoices per round")
    p.add_argument("--warmup", type=int, default=3, help="invoices of the warm-up round (not counted; 0: none)")
    p.add_argument("--render-batch", type=int, default=0,
                   help="send_render_batch of the batched round (default 0: the addon's default)")
    p.add_argument("--time-limit", type=float, default=3600.0, help="seconds for each round of the send job")
    p.add_argument("--http-port", type=int, default=18416,
                   help="Odoo HTTP server (no cron) for the report assets (report.url); 0: none")
    p.add_argument("--no-memory-limit", action="store_true", help="do not apply Odoo's limit_memory_hard")
    p.add_argument("--max-rss-mib", type=float, default=300.0)
    p.add_argument("--max-drift-mib", type=float, default=20.0)
    p.add_argument("--json", action="store_true", help="last line: the figures as JSON")
    args = p.parse_args(argv)
    odoo, registry = c.start_odoo(args, memory_limit=not args.no_memory_limit)
    me = psutil.Process()
    rounds = {}
    http = c.OdooHttp(args, args.http_port, log="/tmp/bench_odoo_throughput_http.log") if args.http_port else None
    try:
        with c.Sandbox(args.sandbox_port, python=args.sandbox_python,
                       log="/tmp/bench_odoo_throughput_sandbox.log") as sb, registry.cursor() as cr:
            env = c.superuser_env(odoo, cr)
            Move = env["account.move"]
            if Move.search_count([("chorus_pro_state", "in", ("to_send", "sending"))]):
                print(f"FAIL: invoices are already queued in {args.db}; the job would send them too")
                return 2
            setup = c.configure_company(env, sb.url, params={"settle_delay_minutes": 10})
            company = setup["company"]
            ICP = env["ir.config_parameter"]
            saved_render = ICP.get_param(RENDER_PARAM)
            has_format = "chorus_pro_flow_format" in company._fields
            saved_format = company.chorus_pro_flow_format if has_format else None
            wkhtmltopdf = env["ir.actions.report"].get_wkhtmltopdf_state()
            assets_url = c.set_report_url(env, http.url if http else None)
            assets = f"{assets_url} ({'answers' if c.url_answers(assets_url) else 'NOT answering: unstyled PDF'})"
            print_delay = ICP.get_param("report.print_delay", "1000 (default)")
            cr.commit()

            peak = {"rss": me.memory_info().rss}
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    try:
                        peak["rss"] = max(peak["rss"], me.memory_info().rss)
                    except psutil.Error:
                        pass
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()

            # RSS every 50 invoices of a round (the first group of a batched round sets its working set).
            Model = registry["account.move"]
            original_send_one = Model._chorus_pro_send_one
            curve = []

            def _chorus_pro_send_one(self, clients):
                outcome = original_send_one(self, clients)
                curve.append(me.memory_info().rss)
                return outcome

            Model._chorus_pro_send_one = _chorus_pro_send_one

            def run_round(name, count, render_batch=None, flow_format=None):
                ICP.set_param(RENDER_PARAM, str(render_batch) if render_batch else False)
                if has_format:
                    company.chorus_pro_flow_format = flow_format or "facturx"
                moves = c.create_invoices(env, setup, setup["budget_principal"], count)
                moves.action_post()
                cr.commit()
                ids = moves.ids
                env.invalidate_all()
                sb.reset_calls()
                curve.clear()
                peak["rss"] = before = me.memory_info().rss
                started = time.perf_counter()
                deadline = started + args.time_limit
                runs = 0
                while True:
                    runs += 1
                    Move._cron_chorus_pro_send(batch_size=max(count, 1), time_budget=0)
                    cr.commit()
                    left = Move.search_count([("id", "in", ids), ("chorus_pro_state", "in", ("to_send", "sending"))])
                    if not left or time.perf_counter() > deadline:
                        break
                seconds = time.perf_counter() - started
                round_peak = peak["rss"]
                env.invalidate_all()
                moves = Move.browse(ids)
                sent = moves.filtered(lambda m: m.chorus_pro_state == "sent")
                deposits = Counter(sb.deposits_of(m.name) for m in moves)
                errors = Counter((m.chorus_pro_error or "").splitlines()[0][:120] for m in moves
                                 if m.chorus_pro_state in ("error", "to_send") and m.chorus_pro_error)
                sizes = sent.mapped("chorus_pro_attachment_id").mapped("file_size")
                leftover = moves - sent
                if leftover:  # out of the queue, so that the next round sends only its own
                    leftover.filtered(lambda m: m.chorus_pro_state != "sending").button_draft()
                    leftover.filtered(lambda m: m.state == "draft").button_cancel()
                cr.commit()
                return {
                    "name": name, "count": count, "sent": len(sent), "seconds": seconds, "runs": runs,
                    "per_invoice": seconds / max(1, len(sent)), "deposits": dict(sorted(deposits.items())),
                    "errors": dict(errors), "rss_before": before, "rss_peak": round_peak,
                    "size": sum(sizes) / max(1, len(sizes)), "once": deposits == Counter({1: count}),
                    "curve": [(n, curve[n - 1]) for n in range(50, len(curve) + 1, 50)],
                    "growth": (max(curve[49:]) - curve[49]) if len(curve) >= 50 else 0,
                    "calls": {k: v for k, v in sb.calls().items() if v},
                }

            try:
                if args.warmup:
                    run_round("warm-up", args.warmup, render_batch=1)
                rounds["current"] = run_round("current", args.invoices, render_batch=1)
                rounds["batched"] = run_round("batched", args.invoices, render_batch=args.render_batch or None)
                if has_format:
                    rounds["xml"] = run_round("xml", args.invoices, flow_format="cii")
                else:
                    print("xml: not available on this checkout")
            finally:
                stop.set()
                sampler.join()
                ICP.set_param(RENDER_PARAM, saved_render or False)
                if has_format:
                    company.chorus_pro_flow_format = saved_format
                c.set_report_url(env, None)
                cr.commit()
    finally:
        if http:
            http.stop()

    render_default = _render_default()
    print(f"database {args.db}; addon (loaded): {c.LOADED}")
    print(f"wkhtmltopdf: {wkhtmltopdf}; report.print_delay {print_delay}; report assets {assets}")
    rows = []
    for key, r in rounds.items():
        batch = "1" if key == "current" else str(args.render_batch or f"{render_default} (default)")
        rows.append((f"{key}: s/invoice", f"{r['per_invoice']:.3f} s  ({r['sent']}/{r['count']} sent in "
                                          f"{r['seconds']:.1f} s, {r['runs']} run(s), send_render_batch "
                                          f"{batch if key != 'xml' else '-'})"))
        rows.append((f"{key}: deposits per invoice", f"{r['deposits']}  errors {r['errors'] or 0}"))
        rows.append((f"{key}: file", f"{r['size'] / 1024:.0f} KiB average; sandbox calls {r['calls']}"))
        rows.append((f"{key}: worker RSS", f"{r['rss_before'] / MIB:.0f} MiB before, peak {r['rss_peak'] / MIB:.0f} MiB; "
                                           "every 50 invoices " + (" ".join(f"{n}:{v / MIB:.0f}" for n, v in r["curve"])
                                                                   or "-")
                                           + f"; growth after the 50th {r['growth'] / MIB:.1f} MiB"))
    peak_mib = max((r["rss_peak"] for r in rounds.values()), default=0) / MIB
    peaks = [r["rss_peak"] / MIB for r in rounds.values()]
    drift = max((r["growth"] / MIB for r in rounds.values()), default=0.0)
    current, batched = rounds["current"]["per_invoice"], rounds["batched"]["per_invoice"]
    xml = rounds["xml"]["per_invoice"] if "xml" in rounds else None
    rows += [
        ("batched / current", f"{batched / current:.2f} (target <= 0.50)"),
        ("xml / current", f"{xml / current:.2f} (target <= 0.10)" if xml is not None else "not available"),
        ("worker RSS peak", f"{peak_mib:.0f} MiB (target < {args.max_rss_mib:g}); rounds' peaks "
                            f"{' '.join(f'{v:.0f}' for v in peaks)} MiB; largest growth in a round after its "
                            f"50th invoice {drift:.1f} MiB (target <= {args.max_drift_mib:g})"),
        ("ru_maxrss (this process)", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"),
    ]
    c.table(rows)
    failures = []
    if not all(r["once"] for r in rounds.values()):
        failures.append("not every invoice deposited exactly once")
    if batched > current / 2:
        failures.append(f"batched {batched:.3f} s > half of current {current:.3f} s")
    if xml is not None and xml > current / 10:
        failures.append(f"xml {xml:.3f} s > a tenth of current {current:.3f} s")
    if peak_mib >= args.max_rss_mib:
        failures.append(f"RSS peak {peak_mib:.0f} MiB")
    if drift > args.max_drift_mib:
        failures.append(f"RSS not flat (+{drift:.0f} MiB in a round after its 50th invoice)")
    print(f"FAIL: {'; '.join(failures)}" if failures else
          f"PASS: {args.invoices} invoices per round, batched {batched / current:.2f} x current, "
          f"RSS peak {peak_mib:.0f} MiB")
    if args.json:
        print(json.dumps({"current": round(current, 3), "batched": round(batched, 3),
                          "xml": round(xml, 3) if xml is not None else None, "peak_rss_mb": round(peak_mib, 1)}))
    return 1 if failures else 0


def _render_default():
    from odoo.addons.odoo_chorus_rouen.models.account_move import DEFAULTS  # noqa: PLC0415

    return DEFAULTS.get("send_render_batch", "?")


if __name__ == "__main__":
    sys.exit(main())
