#!/usr/bin/env python3
"""Batch status sync in Odoo: API calls and time of ONE ``_cron_chorus_pro_sync`` run over N tracked invoices.

N posted invoices to a budget contact are tracked (``chorus_pro_state`` delivered, Chorus Pro id and
flow number of an invoice the sandbox holds: ``POST /sandbox/invoices/seed``, ids written onto the
invoices, with what the sync keeps of an invoice it saw made available: status ``MISE_A_DISPOSITION``,
its date, and that date in the kept history of the late-payment delay). Each then changes status ONCE
on the sandbox (control API; half paid, a quarter suspended, a quarter payment order, as
bench/bench_sync.py). One run of the sync cron must bring every change back with at most 15 API calls
(sandbox ``/sandbox/calls``, reset before) in under 10 s; the paid ones are counted paid on time from
the kept dates, without reading their histories.

``--without-kept-history``: invoices tracked before the addon kept those dates (an upgrade): the sync must
read the history of each paid one, at most ``history_reads_per_run`` (50) in the run, the others left
to read by the next runs; the calls may then exceed ``--max-calls`` by that bound only.

Run with Odoo's interpreter against a database where odoo_chorus_rouen is installed and no invoice
is tracked yet (a fresh copy: the sandbox starts empty, its Chorus ids would collide otherwise)::

    PYTHON bench/odoo/bench_sync.py --db bench_a --invoices 1000
"""

from __future__ import annotations

import ast
import sys
import time
from collections import Counter
from datetime import timedelta

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts (the repo is read-only for runs)
import _common as c  # noqa: E402

CHANGES = ["MISE_EN_PAIEMENT", "MISE_EN_PAIEMENT", "SUSPENDUE", "MANDATEE"]


def main(argv=None) -> int:
    p = c.parser(__doc__, sandbox_port=18402)
    p.add_argument("--invoices", type=int, default=1000)
    p.add_argument("--max-calls", type=int, default=15)
    p.add_argument("--max-seconds", type=float, default=10.0)
    p.add_argument("--without-kept-history", action="store_true",
                   help="the tracked invoices have no kept history (tracked before the addon kept the dates)")
    p.add_argument("--profile", metavar="FILE", help="write a cProfile of the sync run to FILE (slower run)")
    p.add_argument("--what-if-context", metavar="KEY[=VALUE],...",
                   help="experiment (bench-side patch, the addon is unchanged): run the sync with these context "
                        "keys, e.g. skip_invoice_sync (writing the Chorus Pro fields then skips account's "
                        "_sync_dynamic_lines) or check_move_validity=False; VALUE is a Python literal, default True")
    args = p.parse_args(argv)
    odoo, registry = c.start_odoo(args)
    import json

    from odoo import fields

    what_if = {}
    for item in filter(None, (args.what_if_context or "").split(",")):
        key, _sep, value = item.partition("=")
        what_if[key.strip()] = ast.literal_eval(value) if value else True
    if what_if:
        Model = registry["account.move"]
        original = Model._chorus_pro_sync_company

        def _chorus_pro_sync_company(self, company):
            return original(self.with_context(**what_if), company)

        Model._chorus_pro_sync_company = _chorus_pro_sync_company

    with c.Sandbox(args.sandbox_port, python=args.sandbox_python, log="/tmp/bench_odoo_sync_sandbox.log") as sb, \
            registry.cursor() as cr:
        env = c.superuser_env(odoo, cr)
        Move = env["account.move"]
        already = Move.search_count([("chorus_pro_state", "in", ("sent", "delivered", "action"))])
        if already:
            print(f"FAIL: {already} invoices are already tracked in {args.db}; use a fresh database copy")
            return 2
        setup = c.configure_company(env, sb.url)
        cr.commit()

        # --- N posted invoices to a budget contact ------------------------------------------------------
        started = time.perf_counter()
        moves = c.create_invoices(env, setup, setup["budget_principal"], args.invoices)
        moves.action_post()
        cr.commit()
        prepare_post = time.perf_counter() - started

        # --- the same N invoices on the sandbox, then written onto the Odoo invoices ---------------------
        seeded = sb.ctl("POST", "/sandbox/invoices/seed", {
            "count": args.invoices, "prefix": "SYNC-", "status": "MISE_A_DISPOSITION",
            "recipient_siret": setup["budget_principal"].siret.replace(" ", ""), "engagement": c.ENGAGEMENT,
            "amount_ht": "750.00",
        })
        rows = sorted(sb.invoices(flow=seeded["numeroFluxDepot"]), key=lambda r: r["identifiantFactureCPP"])
        assert len(rows) == args.invoices, (len(rows), args.invoices)
        deposit_date = fields.Datetime.now() - timedelta(hours=1)
        status_date = fields.Datetime.now() - timedelta(minutes=30)
        # What the sync keeps of an invoice it saw made available (the late-payment delay's start).
        kept = False if args.without_kept_history else json.dumps([["MISE_A_DISPOSITION", status_date.date().isoformat()]])
        for move, row in zip(moves, rows):
            move.write({
                "chorus_pro_state": "delivered",
                "chorus_pro_invoice_id": str(row["identifiantFactureCPP"]),
                "chorus_pro_flow_number": row["numeroFluxDepot"],
                "chorus_pro_flow_state": "IN_INTEGRE",
                "chorus_pro_status": "MISE_A_DISPOSITION",
                "chorus_pro_status_date": status_date,
                "chorus_pro_deposit_date": deposit_date,
                "chorus_pro_history": kept,
            })
        cr.commit()
        read_limit = Move._chorus_pro_param("history_reads_per_run")

        # --- ONE status change per invoice on the platform ------------------------------------------------
        time.sleep(1.1)  # the changes are strictly later than the seeded statuses (second precision)
        expected = {}
        for index, (move, row) in enumerate(zip(moves, rows)):
            status = CHANGES[index % len(CHANGES)]
            sb.set_status(row["identifiantFactureCPP"], status)
            expected[move.id] = status
        messages_before = env["mail.message"].search_count([("model", "=", "account.move"), ("res_id", "in", moves.ids)])
        # 0 when there is none yet (a fresh copy of the template has no activity): ("id", ">", False) matches nothing.
        last_message_id = env["mail.message"].search([], order="id desc", limit=1).id or 0
        last_activity_id = env["mail.activity"].search([], order="id desc", limit=1).id or 0
        activities_before = env["mail.activity"].search_count([("res_model", "=", "account.move"),
                                                               ("res_id", "in", moves.ids)])
        tracked = Move.search_count([("chorus_pro_state", "in", ("sent", "delivered", "action")),
                                     ("state", "=", "posted")])
        cr.commit()
        env.invalidate_all()

        # --- ONE run of the sync cron ---------------------------------------------------------------------
        sb.reset_calls()
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        updated = Move._cron_chorus_pro_sync()
        seconds = time.perf_counter() - started
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        calls = {k: v for k, v in sb.calls().items() if v}
        api_calls = sum(calls.values())
        cr.commit()

        env.invalidate_all()
        moves = moves.browse(moves.ids)
        states = Counter(moves.mapped("chorus_pro_state"))
        statuses = Counter(moves.mapped("chorus_pro_status"))
        right = sum(1 for m in moves if m.chorus_pro_status == expected[m.id])
        messages = env["mail.message"].search_count([("model", "=", "account.move"), ("res_id", "in", moves.ids)])
        activities = env["mail.activity"].search_count([("res_model", "=", "account.move"),
                                                        ("res_id", "in", moves.ids)])
        # Each invoice: exactly one new chatter entry, naming ITS new status; a to-do exactly on the suspended ones.
        new_messages = env["mail.message"].search([("id", ">", last_message_id), ("model", "=", "account.move"),
                                                   ("res_id", "in", moves.ids)])
        bodies = {}
        for message in new_messages:
            bodies.setdefault(message.res_id, []).append(str(message.body))
        chatter_ok = sum(1 for m in moves if len(bodies.get(m.id, [])) == 1 and f"({expected[m.id]})" in bodies[m.id][0])
        new_activities = env["mail.activity"].search([("id", ">", last_activity_id), ("res_model", "=", "account.move"),
                                                      ("res_id", "in", moves.ids)])
        activity_on = Counter(new_activities.mapped("res_id"))
        want_activity = {m.id for m in moves if expected[m.id] == "SUSPENDUE"}
        activities_ok = set(activity_on) == want_activity and set(activity_on.values()) <= {1}
        suspended_reason = sum(1 for m in moves if m.id in want_activity and m.chorus_pro_error
                               and m.chorus_pro_activity_status == "SUSPENDUE")
        dates_ok = sum(1 for m in moves if m.chorus_pro_status_date and m.chorus_pro_status_date > status_date
                       and m.chorus_pro_last_sync)
        # Late payment: each paid invoice's delay is counted (from the kept dates, or from its history once read).
        paid = moves.filtered(lambda m: expected[m.id] == "MISE_EN_PAIEMENT")
        history_reads = calls.get("consulterHistoriqueFacture", 0)
        to_read = len(paid.filtered("chorus_pro_history_to_read"))
        late_states = Counter(paid.mapped("chorus_pro_late_state"))
        counted = sum(1 for m in paid if m.chorus_pro_late_state == "paid_on_time" and not m.chorus_pro_history_to_read
                      and m._chorus_pro_history_list()[-1][0] == "MISE_EN_PAIEMENT")
        want_reads = min(len(paid), read_limit) if args.without_kept_history else 0
        want_left = len(paid) - want_reads if args.without_kept_history else 0  # read by the next runs

    c.table([
        ("database", args.db),
        ("addon (loaded)", c.LOADED),
        ("what-if context (bench patch)", what_if or "none: the addon as it is"),
        ("tracked invoices", f"{tracked} (these {args.invoices}, ids {rows[0]['identifiantFactureCPP']}.."
                             f"{rows[-1]['identifiantFactureCPP']} on the sandbox)"),
        ("setup: create + post", f"{prepare_post:.1f} s"),
        ("status changes on sandbox", dict(Counter(expected.values()))),
        ("sync run: updated", updated),
        ("sync run: API calls", f"{api_calls}  {calls}"),
        ("sync run: time", f"{seconds:.2f} s"),
        ("invoices with new status", f"{right}/{args.invoices}"),
        ("chorus_pro_state after", dict(states)),
        ("chorus_pro_status after", dict(statuses)),
        ("chatter messages added", messages - messages_before),
        ("  one entry naming its status", f"{chatter_ok}/{args.invoices}"),
        ("activities added", activities - activities_before),
        ("  exactly on the suspended ones", f"{'yes' if activities_ok else 'NO'} ({len(activity_on)} invoices, "
                                            f"{len(want_activity)} suspended; reason + activity status on "
                                            f"{suspended_reason})"),
        ("status date + last sync updated", f"{dates_ok}/{args.invoices}"),
        ("kept history before the run", "none (--without-kept-history)" if args.without_kept_history
                                        else "MISE_A_DISPOSITION and its date"),
        ("paid: histories read in the run", f"{history_reads} (expected {want_reads}; history_reads_per_run = "
                                            f"{read_limit})"),
        ("paid: histories left to read", f"{to_read} (expected {want_left})"),
        ("paid: payment delay", f"{dict(late_states)}; paid on time and settled: {counted}/{len(paid)}"),
        ("one call per invoice", f"{args.invoices} calls (the best existing connector)"),
    ])
    max_calls = args.max_calls + want_reads  # the history reads a run may make, on top of the batched search
    settled = len(paid) - want_left  # paid invoices whose delay is final after the run
    late_ok = history_reads == want_reads and to_read == want_left and counted == settled
    ok = (right == args.invoices and api_calls <= max_calls and seconds < args.max_seconds
          and chatter_ok == args.invoices and activities_ok and dates_ok == args.invoices
          and suspended_reason == len(want_activity) and late_ok)
    print(f"PASS: {api_calls} calls (<= {max_calls}), {seconds:.2f} s (< {args.max_seconds:g} s), "
          f"{right}/{args.invoices} statuses, {history_reads} histories read" if ok else
          f"FAIL: calls {api_calls} (max {max_calls}), {seconds:.2f} s (max {args.max_seconds:g}), "
          f"statuses {right}/{args.invoices}, chatter {chatter_ok}, activities {'ok' if activities_ok else 'WRONG'}, "
          f"dates {dates_ok}, suspended reason {suspended_reason}/{len(want_activity)}, histories read "
          f"{history_reads} (expected {want_reads}), left to read {to_read}, paid delays settled {counted}/{settled}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
