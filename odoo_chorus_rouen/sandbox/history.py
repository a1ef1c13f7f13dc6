"""A dated status history on demand: the recipient's side of an invoice's life, at chosen dates.

The sandbox's clock only moves forward, and recipient statuses set through ``/sandbox/invoices/<id>/status``
are dated "now". To test the legal payment delay (made available on a given day, suspended, completed,
payment initiated weeks later), a test writes the history it needs:

    POST /sandbox/invoices/<id>/history
    {"entries": [{"status": "MISE_A_DISPOSITION", "at": "2026-03-02"},
                 {"status": "SUSPENDUE", "at": "2026-03-02 10:00", "comment": "Bon de livraison manquant"},
                 {"status": "COMPLETEE", "at": "2026-03-12"},
                 {"status": "MISE_EN_PAIEMENT", "at": "2026-04-20"}],
     "replace": false}

``at`` is a date (that day, 09:00 Paris time), ``YYYY-MM-DD HH:MM`` or ISO 8601 (naive = Paris time).
Entries must be in chronological order and not in the sandbox's future. Without ``replace`` they come
after the history already there (the deposit's ``DEPOSEE``...) and must not be older than its last entry;
with ``replace`` they are the whole history. The invoice's current status and its date become those of
the last entry, and the automatic routing stops, as when a recipient acts. ``consulterHistoriqueFacture``
then answers with these dates, like the platform.

Limit: a search on ``periodeDateHeureEtatCourantDu/Au`` finds the invoice by its (back-dated) status date,
so a client that searches "changed since my last sync" does not see a back-dated change; read the history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..core.status import INVOICE_STATUSES
from .clock import PARIS, parse_moment
from .invoices import invoice

__all__ = ["MAX_ENTRIES", "write_history"]

MAX_ENTRIES = 100
DEFAULT_REASON = "Motif de test (bac a sable)"
REASON_REQUIRED = ("REJETEE", "SUSPENDUE")


def _moment(value: Any, index: int) -> float:
    text = str(value or "").strip()
    if not text:
        raise ValueError(f'entry {index}: "at" is required (a date, "YYYY-MM-DD HH:MM" or ISO 8601)')
    try:
        if len(text) == 10:  # a bare date: 09:00 Paris time, a working hour
            day = datetime.fromisoformat(text)
            return (day.replace(tzinfo=PARIS) + timedelta(hours=9)).timestamp()
        return parse_moment(text)
    except ValueError as err:
        raise ValueError(f'entry {index}: "at" {text!r} is not a date or a date-time') from err


def parse_entries(entries: Any, now: float) -> list[tuple[str, float, str | None]]:
    """Check the entries; returns (status, timestamp, comment) tuples.

    :raises ValueError: with the entry's index and what is wrong.
    """
    if not isinstance(entries, list) or not entries:
        raise ValueError('expected {"entries": [{"status": CODE, "at": DATE, "comment": text}, ...]}')
    if len(entries) > MAX_ENTRIES:
        raise ValueError(f"at most {MAX_ENTRIES} entries at once")
    parsed: list[tuple[str, float, str | None]] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"entry {index}: expected an object with status, at and optionally comment")
        status = str(entry.get("status") or "").strip().upper()
        if status not in INVOICE_STATUSES:
            raise ValueError(f"entry {index}: unknown invoice status {status!r}")
        at = _moment(entry.get("at"), index)
        if at > now:
            raise ValueError(f"entry {index}: {entry.get('at')} is in the sandbox's future (the platform never "
                             "records a future status; advance the clock first)")
        if parsed and at < parsed[-1][1]:
            raise ValueError(f"entry {index}: entries must be in chronological order")
        comment = entry.get("comment") or (DEFAULT_REASON if status in REASON_REQUIRED else None)
        parsed.append((status, at, str(comment) if comment else None))
    return parsed


def write_history(engine: Any, invoice_id: int, entries: Any, replace: bool = False) -> dict[str, Any]:
    """Write a dated history for one invoice (see the module docstring); returns the invoice as the
    control API shows it.

    :raises KeyError: no such invoice. :raises ValueError: bad entries (the message says which and why).
    """
    engine.tick()
    parsed = parse_entries(entries, engine.now())
    with engine.store.transaction() as conn:
        row = conn.execute("SELECT id FROM invoices WHERE id = ?", (int(invoice_id),)).fetchone()
        if row is None:
            raise KeyError(f"no invoice with identifiantFactureCPP {invoice_id}")
        if replace:
            conn.execute("DELETE FROM history WHERE invoice_id = ?", (row["id"],))
        else:
            last = conn.execute("SELECT MAX(at) AS at FROM history WHERE invoice_id = ?", (row["id"],)).fetchone()
            if last["at"] is not None and parsed[0][1] < last["at"]:
                raise ValueError(
                    "the first entry is older than the invoice's last status: give later dates, "
                    'or "replace": true to write the whole history'
                )
        conn.executemany(
            "INSERT INTO history (invoice_id, status, at, comment, actor) VALUES (?, ?, ?, ?, 'recipient')",
            [(row["id"], status, at, comment) for status, at, comment in parsed],
        )
        status, at, comment = parsed[-1]
        conn.execute(
            "UPDATE invoices SET status = ?, status_at = ?, comment = ?, next_at = NULL WHERE id = ?",
            (status, at, comment, row["id"]),
        )
    return invoice(engine, row["id"])
