"""``chorus-rouen demo``: the whole story of a few invoices, against a built-in Chorus Pro sandbox.

It starts the sandbox on 127.0.0.1, validates and deposits invoices addressed to several budgets of
the Métropole (one of them broken on purpose), follows every flow to its end with progress, plays
the buyer's part (payment, a routing error to recycle, a refusal), brings the statuses back with one
batch search, and prints what happened to each invoice and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .core.auth import Credentials, Endpoints
from .core.budgets import BUDGETS, find_budget
from .core.client import ChorusClient
from .core.errors import ChorusError
from .core.payload import build_deposit, deposit_filename
from .core.status import ChorusState, flow_status, invoice_status
from .core.validation import validate

#: Longest wait for Chorus Pro to process the flows, in seconds of real time.
FLOW_TIMEOUT = 60.0


@dataclass
class Case:
    """One invoice of the demo and what the buyer will do with it."""

    label: str
    budget_key: str
    fmt: str  # "facturx" or "cii"
    options: dict
    buyer_action: str | None = None  # status the buyer sets once the invoice is delivered
    buyer_comment: str | None = None
    recycle_with: dict | None = None  # new routing data once the buyer asks to recycle
    number: str = ""
    budget_name: str = ""
    budget_siret: str = ""
    flow: str = ""
    flow_state: str = ""
    flow_errors: list = field(default_factory=list)
    chorus_id: int | None = None
    status: str = ""
    events: list = field(default_factory=list)


def _cases() -> list[Case]:
    return [
        Case(
            "Factur-X invoice, paid",
            "principal",
            "facturx",
            {"engagement": "EJ2026-000101", "amount": "1250.00", "description": "Maintenance des serveurs"},
            buyer_action="MISE_EN_PAIEMENT",
        ),
        Case(
            "CII invoice, routing error recycled, then paid",
            "transports",
            "cii",
            {
                "engagement": "EJ2026-TR-0042",
                "service_code": "DIR-MOBILITES",
                "amount": "830.50",
                "description": "Abonnement supervision",
            },
            buyer_action="A_RECYCLER",
            buyer_comment="Numéro d'engagement erroné",
            recycle_with={"engagement": "EJ2026-TR-0043"},
        ),
        Case(
            "Factur-X invoice refused by the buyer",
            "zones_activites",
            "facturx",
            {"engagement": "EJ2026-ZA-0007", "amount": "4100.00", "description": "Étude d'aménagement"},
            buyer_action="REJETEE",
            buyer_comment="Montant différent du bon de commande",
        ),
        Case(
            "Broken on purpose: no engagement number",
            "dechets",
            "facturx",
            {"engagement": None, "amount": "560.00", "description": "Collecte de données"},
        ),
    ]


def _number(prefix: str, index: int) -> str:
    return f"{prefix}-{index:02d}"


def run_demo(
    state: str | None = None,
    delay: float = 0.3,
    out: Callable[[str], None] = print,
    flow_timeout: float = FLOW_TIMEOUT,
) -> int:
    """Run the demo; return 0 when every invoice reached the end the story expects."""
    from .sandbox import SandboxServer
    from .sandbox.sample_invoices import make_invoice

    # Unique numbers per run, so a persistent sandbox (--state) never sees a duplicate.
    prefix = "D" + datetime.now(timezone.utc).strftime("%y%m%d%H%M%S")
    cases = _cases()

    with SandboxServer(state_path=state or ":memory:", processing_delay=delay) as sandbox:
        out(f"Chorus Pro sandbox running at {sandbox.url} (loopback only)")
        client = ChorusClient(Credentials.coerce(sandbox.credentials), Endpoints.from_base_url(sandbox.url), timeout=10)
        started = datetime.now(timezone.utc)

        out("")
        out("1. Ask the Chorus Pro directory what each budget requires")
        requirements = {}
        for case in cases:
            budget = next(b for b in BUDGETS if b.key == case.budget_key)
            case.budget_name, case.budget_siret = budget.name, budget.siret
            if budget.siret in requirements:
                continue
            structure = client.search_structures(budget.siret)[0]
            details = client.get_structure(structure.structure_id)
            services = [s.code for s in client.search_services(structure.structure_id) if s.active]
            requirements[budget.siret] = details.requirements
            needs = [
                label
                for flag, label in (
                    (details.requirements.engagement, "engagement number"),
                    (details.requirements.service_code, "service code"),
                    (details.requirements.service_or_engagement, "engagement number or service code"),
                )
                if flag
            ]
            out(f"   {budget.name}: requires {', '.join(needs) or 'nothing more'}; services {', '.join(services)}")

        out("")
        out("2. Validate and deposit")
        for index, case in enumerate(cases, 1):
            case.number = _number(prefix, index)
            data, _name, _syntax = make_invoice(case.number, case.fmt, buyer_siret=case.budget_siret, **case.options)
            report = validate(data, requirements=requirements)
            budget = find_budget(case.budget_siret)
            verdict = "valid" if report.ok else "INVALID: " + "; ".join(f"{f.rule}: {f.message}" for f in report.errors)
            out(f"   {case.number} to {budget.name} ({budget.siret_display}): {verdict}")
            envelope = build_deposit(data, deposit_filename(case.number, report.format), report.format)
            try:
                result = client.deposit_flow(data, envelope["nomFichier"], envelope["syntaxeFlux"])
            except ChorusError as err:
                case.events.append(f"deposit failed: {err.message}")
                out(f"      deposit failed: {err.message}")
                continue
            case.flow = result.flow_number
            note = " (deposited anyway, to see what Chorus Pro says)" if not report.ok else ""
            out(f"      deposited: flow {case.flow}{note}")

        out("")
        out("3. Wait for Chorus Pro to process the flows")
        _wait_for_flows(client, cases, flow_timeout, out)

        out("")
        out("4. The buyer acts on the delivered invoices")
        _attach_invoice_ids(client, cases)
        _wait_delivered(client, sandbox, cases, flow_timeout)
        for case in cases:
            if case.chorus_id is None or not case.buyer_action:
                continue
            sandbox.set_invoice_status(case.chorus_id, case.buyer_action, case.buyer_comment)
            info = invoice_status(case.buyer_action)
            out(f"   {case.number}: {case.budget_name} sets {case.buyer_action} ({info.label_en})")
            case.events.append(case.buyer_action + (f' "{case.buyer_comment}"' if case.buyer_comment else ""))
            if case.recycle_with:
                new_engagement = case.recycle_with.get("engagement")
                client.recycle_invoice(
                    case.chorus_id,
                    recipient_siret=case.budget_siret,
                    engagement=new_engagement,
                    comment="Numéro d'engagement corrigé",
                )
                out(f"   {case.number}: recycled with engagement number {new_engagement}, then paid by the buyer")
                case.events.append(f"recycled with {new_engagement}")
                sandbox.set_invoice_status(case.chorus_id, "MISE_EN_PAIEMENT")
                case.events.append("MISE_EN_PAIEMENT")

        out("")
        out("5. Bring the statuses back in one batch")
        calls_before = sum(client.calls.values())
        found = {inv.chorus_id: inv for inv in client.search_invoices(changed_since=started)}
        calls = sum(client.calls.values()) - calls_before
        for case in cases:
            if case.chorus_id in found:
                case.status = found[case.chorus_id].status
        out(f"   {len(found)} invoices read in {calls} API call(s)")

    out("")
    _print_table(cases, out)
    expected = {"MISE_EN_PAIEMENT", "REJETEE"}
    ok = all(
        (c.status in expected) if c.buyer_action else flow_status(c.flow_state).state is ChorusState.REJECTED
        for c in cases
    )
    out("")
    out("Every invoice reached its final state." if ok else "Some invoices did not reach the expected end.")
    return 0 if ok else 1


def _wait_for_flows(client: ChorusClient, cases: list[Case], timeout: float, out: Callable[[str], None]) -> None:
    pending = {case.flow: case for case in cases if case.flow}
    total, deadline, last = len(pending), time.monotonic() + timeout, None
    while pending and time.monotonic() < deadline:
        for flow, case in list(pending.items()):
            report = client.flow_report(flow)
            case.flow_state = report.state
            if report.final:
                case.flow_errors = [e.message for e in report.dp_errors] + [e.label for e in report.technical_errors]
                del pending[flow]
        line = f"   {total - len(pending)}/{total} flows processed"
        if line != last:
            out(line)
            last = line
        if pending:
            time.sleep(0.2)
    for case in pending.values():
        case.events.append("flow still being processed when the demo stopped waiting")


def _attach_invoice_ids(client: ChorusClient, cases: list[Case]) -> None:
    for case in cases:
        if case.flow and flow_status(case.flow_state).state is ChorusState.DELIVERED:
            for invoice in client.search_invoices(flow_number=case.flow):
                if invoice.number == case.number:
                    case.chorus_id, case.status = invoice.chorus_id, invoice.status


def _wait_delivered(client, sandbox, cases: list[Case], timeout: float) -> None:
    """Let the platform route the invoices to the buyer (DEPOSEE -> ... -> MISE_A_DISPOSITION)."""
    deadline = time.monotonic() + timeout
    for case in cases:
        if case.chorus_id is None:
            continue
        while time.monotonic() < deadline:
            status = sandbox.invoice(case.chorus_id)["statut"]
            if status == "MISE_A_DISPOSITION":
                case.events.append("delivered")
                break
            time.sleep(0.1)


def _why(case: Case) -> str:
    if not case.flow:
        return "; ".join(case.events) or "not deposited"
    if case.flow_errors:
        return "refused by Chorus Pro: " + "; ".join(case.flow_errors)
    info = invoice_status(case.status) if case.status else flow_status(case.flow_state)
    events = list(case.events)
    if events and events[-1].split(" ")[0] == case.status:
        # The last step is the final status itself: say it in words, keep the buyer's comment.
        events[-1] = info.label_en + events[-1][len(case.status) :]
    else:
        events.append(info.label_en)
    return " -> ".join(events)


def _print_table(cases: list[Case], out: Callable[[str], None]) -> None:
    rows = [("Invoice", "Budget", "Flow", "Flow state", "Invoice status", "What happened")]
    for case in cases:
        budget = find_budget(case.budget_siret)
        rows.append(
            (
                case.number,
                budget.name if budget else case.budget_siret,
                case.flow or "-",
                flow_status(case.flow_state).label_en if case.flow_state else "-",
                case.status or "-",
                _why(case),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for index, row in enumerate(rows):
        out("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5])
        if index == 0:
            out("  ".join("-" * w for w in widths) + "  " + "-" * 13)
