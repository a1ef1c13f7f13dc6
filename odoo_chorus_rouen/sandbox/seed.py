"""Integrated invoices in bulk, without deposits: benchmarks and paging tests (``POST /sandbox/invoices/seed``).

The invoices come in one flow ``IN_INTEGRE`` between two structures of the directory, all at one
status, with their history (``DEPOSEE``, then that status), numbered ``<prefix><000001>``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from ..core.status import INVOICE_STATUSES
from . import directory as dirmod
from .clock import format_date
from .flows import FIRST_FLOW_SEQUENCE, FIRST_INVOICE_ID

__all__ = ["seed_invoices"]


def seed_invoices(
    engine: Any,
    count: int,
    *,
    supplier_siret: str = "88412345600011",
    recipient_siret: str = "20002341400101",
    status: str = "MISE_A_DISPOSITION",
    prefix: str = "SEED-",
    start: int = 1,
    service_code: str | None = None,
    engagement: str | None = "EJ-SEED-0001",
    amount_ht: str = "100.00",
) -> dict[str, Any]:
    """Create ``count`` integrated invoices in one flow, without deposits (benchmarks, paging tests)."""
    status = str(status).upper()
    if status not in INVOICE_STATUSES:
        raise ValueError(f"unknown invoice status {status!r}")
    count = int(count)
    if not 1 <= count <= 100000:
        raise ValueError("count must be between 1 and 100000")
    supplier = dirmod.find_structure(engine.store, supplier_siret)
    recipient = dirmod.find_structure(engine.store, recipient_siret)
    if supplier is None or recipient is None:
        raise ValueError("supplier and recipient must be structures of the directory")
    ht = Decimal(amount_ht)
    tva = (ht * Decimal("0.2")).quantize(Decimal("0.01"))
    with engine.store.transaction() as conn:
        now = engine.now()
        seq = engine.store.next_sequence("flow", FIRST_FLOW_SEQUENCE)
        flow_number = f"CPP0011117{seq:015d}"
        conn.execute(
            "INSERT INTO flows (number, seq, syntax, file_name, deposited_at, delay, final_at, finalized, state, "
            "state_at, size, analysis, result) VALUES (?, ?, 'IN_DP_E2_CII_FACTURX', 'seed.tar.gz', ?, 0, ?, 1, "
            "'IN_INTEGRE', ?, 0, '[]', ?)",
            (
                flow_number,
                seq,
                now,
                now,
                now,
                json.dumps({"listeErreurDP": [], "listeErreurTechnique": [], "created": count, "rejected": 0}),
            ),
        )
        first_id = engine.store.next_sequence("invoice", FIRST_INVOICE_ID)
        engine.store.set_meta("seq.invoice", first_id + count - 1)
        rows, history = [], []
        for offset in range(count):
            invoice_id = first_id + offset
            number = f"{prefix}{start + offset:06d}"
            facts = {
                "number": number,
                "type_code": "380",
                "issue_date": format_date(now),
                "currency": "EUR",
                "seller_siret": supplier["identifiantStructure"],
                "buyer_siret": recipient["identifiantStructure"],
                "service_code": service_code,
                "engagement": engagement,
                "total_without_tax": str(ht),
                "tax_total": str(tva),
                "total_with_tax": str(ht + tva),
                "amount_due": str(ht + tva),
            }
            data = {
                "facts": facts,
                "format": "facturx_pdf",
                "supplier_name": supplier["designationStructure"],
                "recipient_name": recipient["designationStructure"],
                "service_name": None,
                "cadre": "A1_FACTURE_FOURNISSEUR",
            }
            rows.append(
                (
                    invoice_id,
                    number,
                    supplier["identifiantStructure"],
                    supplier["idStructureCPP"],
                    recipient["identifiantStructure"],
                    recipient["idStructureCPP"],
                    service_code,
                    engagement,
                    flow_number,
                    format_date(now),
                    now,
                    status,
                    now,
                    float(ht),
                    float(ht + tva),
                    float(ht + tva),
                    json.dumps(data),
                )
            )
            history.append((invoice_id, "DEPOSEE", now))
            if status != "DEPOSEE":
                history.append((invoice_id, status, now))
        conn.executemany(
            "INSERT INTO invoices (id, number, supplier_siret, supplier_id, recipient_siret, recipient_id, "
            "service_code, engagement, flow_number, invoice_type, invoice_date, deposited_at, status, status_at, "
            "amount_ht, amount_ttc, amount_due, next_at, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'FACTURE', ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO history (invoice_id, status, at, comment, actor) VALUES (?, ?, ?, NULL, 'seed')", history
        )
    return {"numeroFluxDepot": flow_number, "first_id": first_id, "last_id": first_id + count - 1, "count": count}
