#!/usr/bin/env python3
"""Posting overhead in Odoo: ``action_post`` of N invoices to Chorus Pro recipients vs N ordinary invoices.

Each round creates (outside the timing) N invoices to a budget contact (engagement number, one line
with a 20% tax, the company's IBAN bank account) and N identical invoices to an ordinary customer, same
journal, then times ``batch.action_post()`` + flush for each batch, in alternating order (round 1:
Chorus first, round 2: ordinary first, ...), committing after each batch. A warm-up round is not
counted. Ratio = Chorus time / ordinary time; the promise is a median ratio <= 1.10.

No network in posting: the company's client factory is patched to count calls and the sandbox's call
counters must not move while posting (the send job is only triggered, after commit). Afterwards the
Chorus invoices are reset to draft and cancelled so that they do not stay queued for the send job
(``--keep`` leaves them queued).

    PYTHON bench/odoo/bench_posting.py --db bench_a --invoices 200 --rounds 6
"""

from __future__ import annotations

import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts (the repo is read-only for runs)
import _common as c  # noqa: E402


def main(argv=None) -> int:
    p = c.parser(__doc__, sandbox_port=18403)
    p.add_argument("--invoices", type=int, default=200, help="invoices per batch")
    p.add_argument("--rounds", type=int, default=6, help="measured rounds (plus one warm-up round)")
    p.add_argument("--max-ratio", type=float, default=1.10)
    p.add_argument("--what-if-batched-queue", action="store_true",
                   help="experiment (bench-side patch, the addon is unchanged): _chorus_pro_queue writes the queue "
                        "fields once for the batch with _chorus_pro_write (no line resync), logs the chatter note "
                        "with _message_log_batch and closes activities only where there are some")
    p.add_argument("--keep", action="store_true", help="leave the Chorus Pro invoices queued (to_send)")
    args = p.parse_args(argv)
    odoo, registry = c.start_odoo(args)

    factory_calls = []
    Company = registry["res.company"]
    original_factory = Company._chorus_pro_get_client

    def _chorus_pro_get_client(self):
        factory_calls.append(self.id)
        return original_factory(self)

    Company._chorus_pro_get_client = _chorus_pro_get_client

    if args.what_if_batched_queue:
        from odoo.addons.odoo_chorus_rouen.models.account_move import FLOW_REJECTED

        Queue = registry["account.move"]

        def _chorus_pro_queue(self, message=None):
            if not self:
                return
            vals = {"chorus_pro_state": "to_send", "chorus_pro_next_try": False, "chorus_pro_attempts": 0,
                    "chorus_pro_error": False, "chorus_pro_send_started": False}
            reset = {"chorus_pro_flow_number": False, "chorus_pro_flow_state": False, "chorus_pro_status": False,
                     "chorus_pro_status_date": False, "chorus_pro_deposit_date": False,
                     "chorus_pro_activity_status": False}
            rejected = self.filtered(lambda m: m.chorus_pro_flow_number and m.chorus_pro_flow_state in FLOW_REJECTED)
            (self - rejected)._chorus_pro_write(vals)
            rejected._chorus_pro_write({**vals, **reset})
            for move in self.filtered("activity_ids"):
                move._chorus_pro_close_activities(odoo._("queued again"))
            if message:
                self._message_log_batch(bodies={move.id: message for move in self})
            self.env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_send")._trigger()

        Queue._chorus_pro_queue = _chorus_pro_queue

    # Time spent inside the addon's posting hooks (checks, queueing): a noise-resistant view of the overhead.
    Move = registry["account.move"]
    in_addon = [0.0]
    for hook in ("_chorus_pro_raise_if_issues", "_chorus_pro_queue", "_chorus_pro_is_recipient_invoice"):
        def timed(self, *a, _original=getattr(Move, hook), **k):
            started = time.perf_counter()
            try:
                return _original(self, *a, **k)
            finally:
                in_addon[0] += time.perf_counter() - started
        setattr(Move, hook, timed)

    rows, ratios, cpu_ratios, shares = [], [], [], []
    with c.Sandbox(args.sandbox_port, python=args.sandbox_python, log="/tmp/bench_odoo_posting_sandbox.log") as sb, \
            registry.cursor() as cr:
        env = c.superuser_env(odoo, cr)
        setup = c.configure_company(env, sb.url)
        cr.commit()
        cron = env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_send")
        Trigger = env["ir.cron.trigger"]
        triggers_before = Trigger.search_count([("cron_id", "=", cron.id)])
        sb.reset_calls()
        chorus_all = env["account.move"]
        ordinary_all = env["account.move"]
        for round_no in range(args.rounds + 1):
            batches = {
                "chorus": c.create_invoices(env, setup, setup["budget_principal"], args.invoices),
                "ordinary": c.create_invoices(env, setup, setup["customer"], args.invoices),
            }
            cr.commit()
            order = ["chorus", "ordinary"] if round_no % 2 == 0 else ["ordinary", "chorus"]
            seconds, cpu, addon = {}, {}, {}
            for kind in order:
                moves = batches[kind]
                env.invalidate_all()
                in_addon[0] = 0.0
                started, cpu_started = time.perf_counter(), time.process_time()
                moves.action_post()
                env.flush_all()
                seconds[kind] = time.perf_counter() - started
                addon[kind] = in_addon[0]
                cpu[kind] = time.process_time() - cpu_started
                cr.commit()
            chorus_all |= batches["chorus"]
            ordinary_all |= batches["ordinary"]
            ratio = seconds["chorus"] / seconds["ordinary"]
            label = "warm-up" if round_no == 0 else str(round_no)
            cpu_ratio = cpu["chorus"] / cpu["ordinary"]
            rows.append((label, "/".join(k[0].upper() for k in order), seconds["chorus"], seconds["ordinary"], ratio,
                         cpu["chorus"], cpu["ordinary"], cpu_ratio, addon["chorus"]))
            if round_no:
                shares.append(addon["chorus"] / seconds["chorus"])
                ratios.append(ratio)
                cpu_ratios.append(cpu_ratio)
        calls_during_posting = {k: v for k, v in sb.calls().items() if v}
        triggers_after = Trigger.search_count([("cron_id", "=", cron.id)])
        env.invalidate_all()
        chorus_states = {s: chorus_all.filtered(lambda m, s=s: m.chorus_pro_state == s) for s in ("to_send",)}
        queued = len(chorus_states["to_send"])
        ordinary_touched = len(ordinary_all.filtered("chorus_pro_state"))
        posted = len((chorus_all | ordinary_all).filtered(lambda m: m.state == "posted"))
        if not args.keep:
            chorus_all.button_draft()
            chorus_all.button_cancel()
            cr.commit()

    print(f"addon (loaded): {c.LOADED}" + ("; WHAT-IF: batched _chorus_pro_queue (bench patch)"
                                           if args.what_if_batched_queue else ""))
    print(f"database {args.db}; {args.invoices} invoices per batch, {args.rounds} rounds + warm-up "
          "(C = Chorus Pro recipient batch, O = ordinary customer batch; order = which batch went first)")
    print(f"{'round':>8}  {'order':>5}  {'chorus s':>9}  {'ordinary s':>10}  {'ratio':>6}  {'ms/inv C':>8}  {'ms/inv O':>8}"
          f"  {'CPU C s':>7}  {'CPU O s':>7}  {'CPU ratio':>9}  {'addon s':>7}  {'addon %':>7}")
    for label, order, tc, to, ratio, cc, co, cratio, ta in rows:
        print(f"{label:>8}  {order:>5}  {tc:9.2f}  {to:10.2f}  {ratio:6.3f}  {tc / args.invoices * 1000:8.1f}"
              f"  {to / args.invoices * 1000:8.1f}  {cc:7.2f}  {co:7.2f}  {cratio:9.3f}  {ta:7.2f}  {ta / tc:7.1%}")
    med = c.median(ratios)
    c.table([
        ("median ratio (wall)", f"{med:.3f}  (min {min(ratios):.3f}, max {max(ratios):.3f})"),
        ("median ratio (CPU of this process)", f"{c.median(cpu_ratios):.3f}  (min {min(cpu_ratios):.3f}, "
                                               f"max {max(cpu_ratios):.3f})"),
        ("addon hooks in the Chorus batch", f"median {c.median(shares):.1%} of its time (checks + queueing; an upper "
                                            "bound: it includes the recomputations its writes flush)"),
        ("posted", f"{posted}/{2 * args.invoices * (args.rounds + 1)}"),
        ("Chorus invoices queued", f"{queued}/{len(chorus_all)} to_send"),
        ("ordinary invoices touched", ordinary_touched),
        ("client factory calls", len(factory_calls)),
        ("sandbox calls while posting", calls_during_posting or 0),
        ("send cron triggers added", triggers_after - triggers_before),
        ("afterwards", "Chorus invoices left queued" if args.keep else "Chorus invoices reset to draft + cancelled"),
    ])
    no_network = not factory_calls and not calls_during_posting
    ok = med <= args.max_ratio and no_network and queued == len(chorus_all) and not ordinary_touched
    print(f"PASS: median ratio {med:.3f} <= {args.max_ratio}, no network call while posting" if ok else
          f"FAIL: median ratio {med:.3f} (max {args.max_ratio}), network calls {len(factory_calls)} factory / "
          f"{calls_during_posting or 0} sandbox, queued {queued}/{len(chorus_all)}, ordinary touched {ordinary_touched}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
