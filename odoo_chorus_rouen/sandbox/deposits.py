"""``deposerFluxFacture``: a file read and checked at once, then refused or accepted as a flow; every deposit kept.

At deposit time the sandbox refuses (``codeRetour`` != 0, no flow) a missing field, an unknown or
unsimulated syntax, content that is not base64, a file over ``max_file_size`` (413), an unreadable
archive and a single file of another format than its syntax. Otherwise each file is analysed
(:mod:`.analysis`) and the flow starts its processing (:mod:`.flows`). Every deposit, accepted or
refused, is recorded with the invoice numbers it carried (control API ``/sandbox/deposits``).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .analysis import analyse
from .archive import split_archive as _split_archive
from .clock import format_date, format_datetime
from .flows import FIRST_FLOW_SEQUENCE, FLOW_STAGES
from .replies import OK_GCU, Reply
from .replies import text as _text
from .rules import KNOWN_SYNTAXES, SUPPORTED_SYNTAXES

__all__ = ["deposits", "deposits_of", "op_deposer_flux"]


def op_deposer_flux(engine: Any, body: dict[str, Any], *, incident: bool = False) -> Reply:
    """``deposerFluxFacture``; ``incident`` (fault) makes the accepted flow end ``IN_INCIDENTE``."""
    file_name = _text(body, "nomFichier")
    syntax = _text(body, "syntaxeFlux")
    content = body.get("fichierFlux")
    if not content or not isinstance(content, str) or not file_name or not syntax:
        missing = [key for key in ("fichierFlux", "nomFichier", "syntaxeFlux") if not body.get(key)]
        return _refuse(engine, file_name, syntax, 20004, f"Champ(s) obligatoire(s) absent(s) : {', '.join(missing)}")
    if syntax not in KNOWN_SYNTAXES:
        return _refuse(engine, file_name, syntax, 20002, f"La syntaxe du flux {syntax} n'est pas reconnue.")
    try:
        data = base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError):
        return _refuse(
            engine, file_name, syntax, 20005, "Le contenu du fichier (fichierFlux) n'est pas encode en base 64."
        )
    if len(data) > engine.max_file_size:
        return _refuse(engine, file_name, syntax, 20001, "GDP_MSG_11.022", http_status=413)
    if syntax not in SUPPORTED_SYNTAXES:
        return _refuse(
            engine, file_name, syntax, 20006, f"La syntaxe du flux {syntax} n'est pas simulee par le bac a sable."
        )
    expected, _interface = SUPPORTED_SYNTAXES[syntax]
    members, problem = _split_archive(file_name, data)
    if problem:
        return _refuse(engine, file_name, syntax, 20003, problem)
    analysis = [analyse(engine.validator, name, member, expected) for name, member in members]
    if len(analysis) == 1 and analysis[0].get("mismatch"):
        numbers = [analysis[0]["facts"]["number"]] if (analysis[0].get("facts") or {}).get("number") else []
        return _refuse(engine, file_name, syntax, 20003, analysis[0]["mismatch"], numbers=numbers)
    return _accept(engine, file_name, syntax, data, analysis, incident)


def _refuse(
    engine: Any,
    file_name: str | None,
    syntax: str | None,
    code: int,
    label: str,
    *,
    http_status: int | None = None,
    numbers: list[str] | None = None,
) -> Reply:
    _record_deposit(
        engine,
        None,
        file_name,
        syntax,
        "refused",
        http_status or engine.functional_errors_http,
        code,
        label,
        numbers or [],
    )
    return Reply({"codeRetour": code, "libelle": label}, status=http_status)


def _record_deposit(
    engine: Any,
    flow_number: str | None,
    file_name: str | None,
    syntax: str | None,
    outcome: str,
    http_status: int,
    code: int,
    label: str,
    numbers: list[str],
) -> int:
    with engine.store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO deposits (at, flow_number, file_name, syntax, outcome, http_status, code, label, numbers)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (engine.now(), flow_number, file_name, syntax, outcome, http_status, code, label, json.dumps(numbers)),
        )
        conn.executemany(
            "INSERT INTO deposit_numbers (deposit_id, number) VALUES (?, ?)",
            [(cursor.lastrowid, number) for number in dict.fromkeys(numbers)],
        )
        return cursor.lastrowid


def _accept(
    engine: Any, file_name: str, syntax: str, data: bytes, analysis: list[dict[str, Any]], incident: bool
) -> Reply:
    _fmt, interface = SUPPORTED_SYNTAXES[syntax]
    numbers = [entry["facts"]["number"] for entry in analysis if (entry.get("facts") or {}).get("number")]
    with engine.store.transaction() as conn:
        now = engine.now()
        seq = engine.store.next_sequence("flow", FIRST_FLOW_SEQUENCE)
        number = f"CPP001{interface[3:7]}{seq:015d}"
        delay = engine.processing_delay
        conn.execute(
            "INSERT INTO flows (number, seq, syntax, file_name, deposited_at, delay, final_at, forced_state, "
            "state, state_at, size, analysis) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                number,
                seq,
                syntax,
                file_name,
                now,
                delay,
                now + len(FLOW_STAGES) * delay,
                "IN_INCIDENTE" if incident else None,
                FLOW_STAGES[0],
                now,
                len(data),
                json.dumps(analysis),
            ),
        )
        if engine.keep_files:
            conn.execute("INSERT INTO flow_files (number, data) VALUES (?, ?)", (number, data))
        _record_deposit(engine, number, file_name, syntax, "accepted", 200, 0, OK_GCU, numbers)
    return Reply(
        {
            "codeRetour": 0,
            "libelle": OK_GCU,
            "numeroFluxDepot": number,
            "dateDepot": format_date(now),
            "syntaxeFlux": syntax,
        }
    )


def deposits(engine: Any, invoice: str | None = None) -> list[dict[str, Any]]:
    """Every deposit received (accepted or refused), optionally only those holding this invoice number."""
    if invoice is None:
        rows = engine.store.all("SELECT * FROM deposits ORDER BY id")
    else:
        rows = engine.store.all(
            "SELECT d.* FROM deposits d WHERE d.id IN (SELECT deposit_id FROM deposit_numbers WHERE number = ?) "
            "ORDER BY d.id",
            (invoice,),
        )
    return [
        {
            "id": r["id"],
            "at": format_datetime(r["at"]),
            "numeroFluxDepot": r["flow_number"],
            "nomFichier": r["file_name"],
            "syntaxeFlux": r["syntax"],
            "outcome": r["outcome"],
            "http_status": r["http_status"],
            "codeRetour": r["code"],
            "libelle": r["label"],
            "numbers": json.loads(r["numbers"]),
        }
        for r in rows
    ]


def deposits_of(engine: Any, invoice_number: str) -> int:
    """How many deposits (accepted or refused) carried this invoice number."""
    return int(
        engine.store.scalar(
            "SELECT COUNT(DISTINCT deposit_id) FROM deposit_numbers WHERE number = ?", (invoice_number,)
        )
        or 0
    )
