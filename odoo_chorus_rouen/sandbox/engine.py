"""The sandbox's Chorus Pro: tokens, deposits, flows, invoices, directory; no HTTP here.

Every public ``op_*`` method takes the decoded JSON body of one API call and returns a
:class:`Reply`. The HTTP layer (:mod:`.server`) adds the gateway behaviour (auth, 401/403/415,
faults) and turns replies into HTTP answers.

Time is the sandbox clock (:class:`.clock.Clock`). Work that the platform does asynchronously
(processing a flow, routing an invoice to its recipient) is due at a given sandbox time and is
materialised by :meth:`Engine.tick`, which runs at the start of every call: history entries carry
the time the step was due, not the time it was noticed.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from ..core.budgets import compact_siret
from ..core.limits import MAX_DEPOSIT_SIZE
from ..core.status import INVOICE_STATUSES
from . import completion as _completion
from . import directory as dirmod
from . import embedded
from .archive import split_archive as _split_archive
from .clock import Clock, format_date, format_datetime, format_minutes, parse_moment
from .pdf import simple_pdf
from .replies import OK_GCU, OK_TRA, Reply
from .replies import error as _error
from .replies import integer as _int
from .replies import text as _text
from .rules import (
    KNOWN_SYNTAXES,
    MESSAGES,
    SUPPORTED_SYNTAXES,
    balise,
    cadre_facturation,
    credit_note_problem,
    number_problem,
)
from .store import Store
from .technical_account import expiry as account_expiry
from .technical_account import load as load_account
from .technical_account import usable as account_usable

__all__ = ["DEFAULT_CREDENTIALS", "Engine", "Reply", "SandboxCredentials"]

_logger = logging.getLogger(__name__)

TOKEN_LIFETIME = 3600
DEFAULT_MAX_FILE_SIZE = MAX_DEPOSIT_SIZE  # one documented limit: core/limits.py
FLOW_STAGES = ("IN_DEPOT_PORTAIL_EN_ATTENTE_TRAITEMENT_SE_CPP", "IN_RECU", "IN_EN_COURS_TRAITEMENT_CPP")
FINAL_FLOW_STATES = ("IN_INTEGRE", "IN_INTEGRE_PARTIEL", "IN_REJETE", "IN_INCIDENTE")
AUTO_NEXT = {"DEPOSEE": "EN_COURS_ACHEMINEMENT", "EN_COURS_ACHEMINEMENT": "MISE_A_DISPOSITION"}
REASON_REQUIRED = ("REJETEE", "SUSPENDUE")
FIRST_INVOICE_ID = 3200001
FIRST_FLOW_SEQUENCE = 300001
CREDIT_NOTE_CODES = {"381", "261", "262", "396", "502", "503", "532"}
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
HISTORY_PAGE_SIZE = 50
MODE_DEPOT = "UPLOAD_API"
MAX_TECHNICAL_ERRORS = 50
NO_RESULT = (20000, "TRA_MSG_00.015")


@dataclass(frozen=True)
class SandboxCredentials:
    """PISTE application + technical account of the sandbox; same field order as ``core.auth.Credentials``."""

    client_id: str
    client_secret: str
    login: str
    password: str

    def __iter__(self):
        return iter((self.client_id, self.client_secret, self.login, self.password))

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)

    @property
    def cpro_account(self) -> str:
        """The ``cpro-account`` header value: base64 of ``login:password``."""
        return base64.b64encode(f"{self.login}:{self.password}".encode()).decode("ascii")


DEFAULT_CREDENTIALS = SandboxCredentials(
    "sandbox-client-id", "sandbox-client-secret", "TECH_1_sandbox@cpro.fr", "sandbox-password"
)


def _page_info(size: int, page: int, total: int) -> dict[str, int]:
    """``parametresRetour`` of a paged search."""
    return {"nbResultatsParPage": size, "pageCourante": page, "pages": math.ceil(total / size), "total": total}


def _plain(value: Any) -> Any:
    """JSON-friendly copy of validation facts (Decimal -> str, date -> ISO, Enum -> value)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def facts_to_dict(facts: Any) -> dict[str, Any] | None:
    if facts is None:
        return None
    if dataclasses.is_dataclass(facts):
        data = {f.name: getattr(facts, f.name) for f in dataclasses.fields(facts)}
    elif isinstance(facts, dict):
        data = dict(facts)
    else:
        data = {key: value for key, value in vars(facts).items() if not key.startswith("_")}
    credit = getattr(facts, "is_credit_note", None)
    if credit is None:
        credit = str(data.get("type_code") or "").strip() in CREDIT_NOTE_CODES
    data["is_credit_note"] = bool(credit)
    for key in ("seller_siret", "buyer_siret"):
        if data.get(key):
            data[key] = compact_siret(str(data[key]))
    for key in ("number", "service_code", "engagement"):
        if isinstance(data.get(key), str):
            data[key] = data[key].strip() or None
    return _plain(data)


def _amount(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


class CoreValidator:
    """Adapter over ``odoo_chorus_rouen.core.validation.validate`` (imported on first use).

    The sandbox routes with its own directory, so the ``chorus`` layer is never asked for.
    """

    def __init__(self, layers: tuple[str, ...] = ("xsd",)) -> None:
        unknown = set(layers) - {"xsd", "schematron", "chorus"}
        if unknown:
            raise ValueError(f"unknown validation layer(s) {sorted(unknown)}: use xsd and/or schematron")
        self.layers = tuple(layer for layer in layers if layer != "chorus")
        self._module: Any = None

    @property
    def module(self) -> Any:
        if self._module is None:
            from ..core import validation  # heavy: imported on first deposit

            self._module = validation
        return self._module

    def __call__(self, data: bytes) -> Any:
        return self.module.validate(data, layers=self.layers)

    def detect(self, data: bytes) -> str | None:
        """The format of a file the validator could not open (a PDF without XML is still a PDF)."""
        try:
            return self.module.detect_format(data).value
        except Exception:  # InputError: neither PDF nor a known XML
            return None


class Engine:
    """State and behaviour of the simulated platform (thread-safe through the store's lock)."""

    def __init__(
        self,
        store: Store,
        *,
        credentials: SandboxCredentials = DEFAULT_CREDENTIALS,
        processing_delay: float = 0.0,
        routing_delay: float | None = None,
        functional_errors_http: int = 200,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        validator: Callable[[bytes], Any] | None = None,
        validation_layers: tuple[str, ...] = ("xsd",),
        keep_files: bool = True,
    ) -> None:
        self.store = store
        self.credentials = credentials
        self.clock = Clock(store.get_meta("clock_offset", 0.0))
        self.processing_delay = float(processing_delay)
        self.routing_delay = float(processing_delay if routing_delay is None else routing_delay)
        if functional_errors_http not in (200, 400):
            raise ValueError("functional_errors_http must be 200 or 400")
        self.functional_errors_http = functional_errors_http
        self.max_file_size = int(max_file_size)
        self.validator = validator or CoreValidator(tuple(validation_layers))
        self.keep_files = keep_files
        load_account(self)

    # ------------------------------------------------------------------------------------------------
    # clock
    # ------------------------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.now()

    def advance(self, seconds: float) -> float:
        with self.store.transaction():
            now = self.clock.advance(seconds)
            self.store.set_meta("clock_offset", self.clock.offset)
            self.tick()
        return now

    def tick(self) -> None:
        """Materialise every flow result and invoice routing step that is due by now."""
        now = self.now()
        with self.store.transaction() as conn:
            due = conn.execute(
                "SELECT * FROM flows WHERE finalized = 0 AND final_at <= ? ORDER BY final_at, seq", (now,)
            ).fetchall()
            for row in due:
                self._finalize_flow(conn, row)
            while True:
                rows = conn.execute(
                    "SELECT id, status, next_at FROM invoices WHERE next_at IS NOT NULL AND next_at <= ? "
                    "ORDER BY next_at, id LIMIT 500",
                    (now,),
                ).fetchall()
                if not rows:
                    break
                for row in rows:
                    self._auto_steps(conn, row["id"], row["status"], row["next_at"], now)

    def _auto_steps(self, conn: Any, invoice_id: int, status: str, next_at: float, now: float) -> None:
        at = next_at
        while at is not None and at <= now and status in AUTO_NEXT:
            status = AUTO_NEXT[status]
            conn.execute(
                "INSERT INTO history (invoice_id, status, at, comment, actor) VALUES (?, ?, ?, NULL, 'platform')",
                (invoice_id, status, at),
            )
            conn.execute("UPDATE invoices SET status = ?, status_at = ? WHERE id = ?", (status, at, invoice_id))
            at = at + self.routing_delay if status in AUTO_NEXT else None
        conn.execute("UPDATE invoices SET next_at = ? WHERE id = ?", (at, invoice_id))

    # ------------------------------------------------------------------------------------------------
    # tokens and accounts
    # ------------------------------------------------------------------------------------------------
    def check_client(self, client_id: str | None, client_secret: str | None) -> bool:
        return secrets.compare_digest(client_id or "", self.credentials.client_id) and secrets.compare_digest(
            client_secret or "", self.credentials.client_secret
        )

    def issue_token(self, client_id: str) -> dict[str, Any]:
        now = self.now()
        token = secrets.token_urlsafe(32)
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM tokens WHERE expires_at < ?", (now - 86400,))
            conn.execute(
                "INSERT INTO tokens (token, client_id, issued_at, expires_at) VALUES (?, ?, ?, ?)",
                (token, client_id, now, now + TOKEN_LIFETIME),
            )
        return {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "scope": "openid"}

    def token_state(self, token: str | None) -> str:
        """``valid``, ``expired`` or ``invalid``."""
        if not token:
            return "invalid"
        row = self.store.one("SELECT expires_at FROM tokens WHERE token = ?", (token,))
        if row is None:
            return "invalid"
        return "valid" if row["expires_at"] > self.now() else "expired"

    def expire_token(self, token: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("UPDATE tokens SET expires_at = ? WHERE token = ?", (self.now(), token))

    def check_account(self, header: str | None) -> bool:
        """Whether a ``cpro-account`` header holds the technical account's ``login:password``."""
        if not header:
            return False
        try:
            decoded = base64.b64decode(header.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        login, _, password = decoded.partition(":")
        return (
            secrets.compare_digest(login, self.credentials.login)
            and secrets.compare_digest(password, self.credentials.password)
            and account_usable(self)  # an expired or locked password is refused like a wrong one [U]
        )

    def count_call(self, operation: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO calls (operation, count) VALUES (?, 1) "
                "ON CONFLICT(operation) DO UPDATE SET count = count + 1",
                (operation,),
            )

    def calls(self) -> dict[str, int]:
        return {row["operation"]: row["count"] for row in self.store.all("SELECT * FROM calls ORDER BY operation")}

    # ------------------------------------------------------------------------------------------------
    # deposerFluxFacture
    # ------------------------------------------------------------------------------------------------
    def op_deposer_flux(self, body: dict[str, Any], *, incident: bool = False) -> Reply:
        file_name = _text(body, "nomFichier")
        syntax = _text(body, "syntaxeFlux")
        content = body.get("fichierFlux")
        if not content or not isinstance(content, str) or not file_name or not syntax:
            missing = [key for key in ("fichierFlux", "nomFichier", "syntaxeFlux") if not body.get(key)]
            return self._refuse(file_name, syntax, 20004, f"Champ(s) obligatoire(s) absent(s) : {', '.join(missing)}")
        if syntax not in KNOWN_SYNTAXES:
            return self._refuse(file_name, syntax, 20002, f"La syntaxe du flux {syntax} n'est pas reconnue.")
        try:
            data = base64.b64decode("".join(content.split()), validate=True)
        except (binascii.Error, ValueError):
            return self._refuse(
                file_name, syntax, 20005, "Le contenu du fichier (fichierFlux) n'est pas encode en base 64."
            )
        if len(data) > self.max_file_size:
            return self._refuse(file_name, syntax, 20001, "GDP_MSG_11.022", http_status=413)
        if syntax not in SUPPORTED_SYNTAXES:
            return self._refuse(
                file_name, syntax, 20006, f"La syntaxe du flux {syntax} n'est pas simulee par le bac a sable."
            )
        expected, _interface = SUPPORTED_SYNTAXES[syntax]
        members, problem = _split_archive(file_name, data)
        if problem:
            return self._refuse(file_name, syntax, 20003, problem)
        analysis = [self._analyse(name, member, expected) for name, member in members]
        if len(analysis) == 1 and analysis[0].get("mismatch"):
            numbers = [analysis[0]["facts"]["number"]] if (analysis[0].get("facts") or {}).get("number") else []
            return self._refuse(file_name, syntax, 20003, analysis[0]["mismatch"], numbers=numbers)
        return self._accept(file_name, syntax, data, analysis, incident)

    def _analyse(self, name: str, data: bytes, expected: str) -> dict[str, Any]:
        try:
            report = self.validator(data)
        except Exception as err:  # the validator must never raise; a sandbox must not crash if it does
            _logger.exception("The invoice validator failed on %s", name)
            return {
                "name": name,
                "format": None,
                "facts": None,
                "business": [],
                "technical": [_technical("REJ_FICHIER", f"Le fichier {name} n'a pas pu etre lu : {err}")],
            }
        fmt = _plain(getattr(report, "format", None))
        if fmt is None and hasattr(self.validator, "detect"):
            fmt = self.validator.detect(data)
        facts = facts_to_dict(getattr(report, "facts", None))
        entry: dict[str, Any] = {"name": name, "format": fmt, "facts": facts, "technical": [], "business": []}
        if fmt != expected:
            entry["mismatch"] = (
                f"Le fichier {name} ne correspond pas a la syntaxe du flux "
                f"(format attendu : {expected}, format lu : {fmt or 'illisible'})."
            )
            entry["technical"].append(_technical("REJ_FORMAT", entry["mismatch"]))
            return entry
        for finding in getattr(report, "findings", None) or []:
            if getattr(finding, "severity", "error") != "error":
                continue
            layer = getattr(finding, "layer", "xsd")
            text = str(getattr(finding, "message", finding))
            location = getattr(finding, "location", None)
            if layer in ("input", "xsd"):
                code = "REJ_FICHIER" if layer == "input" else "REJ_XSD"
                entry["technical"].append(_technical(code, f"{location} : {text}" if location else text))
            elif layer != "chorus":
                rule = getattr(finding, "rule", None)
                entry["business"].append(f"[{rule}] {text}" if rule else text)
        entry["technical"] += [_technical(code, label) for code, label in embedded.problems(data)]
        del entry["technical"][MAX_TECHNICAL_ERRORS:]
        if not entry["technical"] and not facts:
            entry["technical"].append(_technical("REJ_FICHIER", f"Le fichier {name} n'a pas pu etre lu."))
        return entry

    def _refuse(
        self,
        file_name: str | None,
        syntax: str | None,
        code: int,
        label: str,
        *,
        http_status: int | None = None,
        numbers: list[str] | None = None,
    ) -> Reply:
        self._record_deposit(
            None, file_name, syntax, "refused", http_status or self.functional_errors_http, code, label, numbers or []
        )
        return Reply({"codeRetour": code, "libelle": label}, status=http_status)

    def _record_deposit(
        self,
        flow_number: str | None,
        file_name: str | None,
        syntax: str | None,
        outcome: str,
        http_status: int,
        code: int,
        label: str,
        numbers: list[str],
    ) -> int:
        with self.store.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO deposits (at, flow_number, file_name, syntax, outcome, http_status, code, label, numbers)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.now(), flow_number, file_name, syntax, outcome, http_status, code, label, json.dumps(numbers)),
            )
            conn.executemany(
                "INSERT INTO deposit_numbers (deposit_id, number) VALUES (?, ?)",
                [(cursor.lastrowid, number) for number in dict.fromkeys(numbers)],
            )
            return cursor.lastrowid

    def _accept(
        self, file_name: str, syntax: str, data: bytes, analysis: list[dict[str, Any]], incident: bool
    ) -> Reply:
        _fmt, interface = SUPPORTED_SYNTAXES[syntax]
        numbers = [entry["facts"]["number"] for entry in analysis if (entry.get("facts") or {}).get("number")]
        with self.store.transaction() as conn:
            now = self.now()
            seq = self.store.next_sequence("flow", FIRST_FLOW_SEQUENCE)
            number = f"CPP001{interface[3:7]}{seq:015d}"
            delay = self.processing_delay
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
            if self.keep_files:
                conn.execute("INSERT INTO flow_files (number, data) VALUES (?, ?)", (number, data))
            self._record_deposit(number, file_name, syntax, "accepted", 200, 0, OK_GCU, numbers)
        return Reply(
            {
                "codeRetour": 0,
                "libelle": OK_GCU,
                "numeroFluxDepot": number,
                "dateDepot": format_date(now),
                "syntaxeFlux": syntax,
            }
        )

    # ------------------------------------------------------------------------------------------------
    # flow processing
    # ------------------------------------------------------------------------------------------------
    def _finalize_flow(self, conn: Any, row: Any) -> None:
        at = row["final_at"]
        analysis = json.loads(row["analysis"])
        dp_errors: list[dict[str, Any]] = []
        technical: list[dict[str, Any]] = []
        created = rejected = 0
        if row["forced_state"]:
            state = row["forced_state"]
            technical.append(_technical("INCIDENT", "Le flux n'a pas pu etre traite : il doit etre depose a nouveau."))
        else:
            for entry in analysis:
                if entry["technical"]:
                    technical.extend(entry["technical"])
                    rejected += 1
                    continue
                facts = entry["facts"]
                messages = list(entry["business"]) + self._routing_messages(facts, entry["format"])
                if not messages:
                    messages = self._duplicate_messages(conn, facts)
                if messages:
                    dp_errors.extend(_dp_error(facts, message) for message in messages)
                    rejected += 1
                    continue
                self._create_invoice(conn, facts, entry["format"], row["number"], row["deposited_at"], at)
                created += 1
            state = "IN_INTEGRE" if not rejected else "IN_REJETE" if not created else "IN_INTEGRE_PARTIEL"
        result = {
            "listeErreurDP": dp_errors,
            "listeErreurTechnique": technical[:MAX_TECHNICAL_ERRORS],
            "created": created,
            "rejected": rejected,
        }
        conn.execute(
            "UPDATE flows SET finalized = 1, state = ?, state_at = ?, result = ? WHERE number = ?",
            (state, at, json.dumps(result), row["number"]),
        )

    def _routing_messages(self, facts: dict[str, Any], fmt: str | None) -> list[str]:
        messages: list[str] = []
        problem = number_problem(facts.get("number"), fmt)
        if problem:
            messages.append(problem)
        problem = credit_note_problem(facts, fmt)
        if problem:
            messages.append(problem)
        messages.extend(self._supplier_messages(facts, fmt))
        messages.extend(
            self.recipient_messages(
                facts.get("buyer_siret"),
                facts.get("service_code"),
                facts.get("engagement"),
                fmt,
                supplier_siret=facts.get("seller_siret"),
            )
        )
        ht, tva, ttc = (_amount(facts.get(key)) for key in ("total_without_tax", "tax_total", "total_with_tax"))
        if None not in (ht, tva, ttc) and abs(ht + tva - ttc) > 0.005:
            messages.append(
                MESSAGES["totals"].format(
                    ttc=facts["total_with_tax"], ht=facts["total_without_tax"], tva=facts["tax_total"]
                )
            )
        return messages

    def _supplier_messages(self, facts: dict[str, Any], fmt: str | None) -> list[str]:
        siret = facts.get("seller_siret")
        if not siret:
            return [MESSAGES["supplier_missing"].format(balise=balise(fmt, "supplier"))]
        supplier = dirmod.find_structure(self.store, siret)
        if supplier is None:
            return [MESSAGES["supplier_unknown"].format(balise=balise(fmt, "supplier"))]
        if supplier["statut"] != "ACTIVE":
            return [MESSAGES["supplier_inactive"].format(siret=siret)]
        return []

    def recipient_messages(
        self,
        siret: str | None,
        service_code: str | None,
        engagement: str | None,
        fmt: str | None,
        *,
        supplier_siret: str | None = None,
    ) -> list[str]:
        """Routing problems of (recipient, service code, engagement) against the sandbox directory."""
        if not siret:
            return [MESSAGES["recipient_missing"].format(balise=balise(fmt, "recipient"))]
        recipient = dirmod.find_structure(self.store, siret)
        if recipient is None:
            return [MESSAGES["recipient_unknown"].format(balise=balise(fmt, "recipient"))]
        siret = recipient["identifiantStructure"]
        if recipient["statut"] != "ACTIVE":
            return [MESSAGES["recipient_inactive"].format(siret=siret)]
        if recipient["typeStructure"] != "PUBLIQUE":
            return [MESSAGES["recipient_not_public"].format(siret=siret)]
        params = recipient["parametres"]
        messages = []
        if params.get("codeServiceDoitEtreRenseigne") and not service_code:
            messages.append(MESSAGES["service_required"].format(siret=siret, balise=balise(fmt, "service")))
        if params.get("numeroEJDoitEtreRenseigne") and not engagement:
            messages.append(MESSAGES["engagement_required"].format(siret=siret, balise=balise(fmt, "engagement")))
        if params.get("gestionNumeroEJOuCodeService") and not service_code and not engagement:
            messages.append(MESSAGES["service_or_engagement"].format(siret=siret))
        if engagement and len(engagement) > 50:
            messages.append(MESSAGES["engagement_too_long"].format(engagement=engagement))
        if service_code:
            messages.extend(self._service_messages(recipient, service_code, engagement, fmt, supplier_siret))
        return messages

    def _service_messages(
        self, recipient: dict[str, Any], code: str, engagement: str | None, fmt: str | None, supplier_siret: str | None
    ) -> list[str]:
        siret = recipient["identifiantStructure"]
        service = dirmod.find_service(self.store, recipient["idStructureCPP"], code=code)
        if service is None:
            return [MESSAGES["service_unknown"].format(code=code, siret=siret, balise=balise(fmt, "service"))]
        if not service["estActif"]:
            return [MESSAGES["service_inactive"].format(code=code, siret=siret)]
        if code == "FACTURES_PUBLIQUES":
            supplier = dirmod.find_structure(self.store, supplier_siret)
            if supplier is None or supplier["typeStructure"] != "PUBLIQUE":
                return [MESSAGES["service_reserved"].format(siret=siret)]
        if service.get("numeroEngagement") and not engagement:
            return [
                MESSAGES["service_engagement_required"].format(code=code, siret=siret, balise=balise(fmt, "engagement"))
            ]
        return []

    def _duplicate_messages(self, conn: Any, facts: dict[str, Any]) -> list[str]:
        row = conn.execute(
            "SELECT id FROM invoices WHERE number = ? AND supplier_siret = ? AND status != 'REJETEE' LIMIT 1",
            (facts["number"], facts["seller_siret"]),
        ).fetchone()
        if row is None:
            return []
        return [MESSAGES["duplicate"].format(number=facts["number"], siret=facts["seller_siret"])]

    def _create_invoice(
        self, conn: Any, facts: dict[str, Any], fmt: str | None, flow_number: str, deposited_at: float, at: float
    ) -> int:
        supplier = dirmod.find_structure(self.store, facts.get("seller_siret")) or {}
        recipient = dirmod.find_structure(self.store, facts.get("buyer_siret")) or {}
        service = None
        if facts.get("service_code") and recipient:
            service = dirmod.find_service(self.store, recipient["idStructureCPP"], code=facts["service_code"])
        invoice_id = self.store.next_sequence("invoice", FIRST_INVOICE_ID)
        data = {
            "facts": facts,
            "format": fmt,
            "supplier_name": supplier.get("designationStructure") or facts.get("seller_name"),
            "recipient_name": recipient.get("designationStructure") or facts.get("buyer_name"),
            "service_name": service["libelleService"] if service else None,
            "cadre": cadre_facturation(facts.get("business_process")),
        }
        conn.execute(
            "INSERT INTO invoices (id, number, supplier_siret, supplier_id, recipient_siret, recipient_id, "
            "service_code, service_id, engagement, flow_number, invoice_type, invoice_date, deposited_at, status, "
            "status_at, comment, amount_ht, amount_ttc, amount_due, next_at, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'DEPOSEE', ?, NULL, ?, ?, ?, ?, ?)",
            (
                invoice_id,
                facts["number"],
                facts.get("seller_siret"),
                supplier.get("idStructureCPP"),
                recipient.get("identifiantStructure") or facts.get("buyer_siret"),
                recipient.get("idStructureCPP"),
                facts.get("service_code"),
                service["idService"] if service else None,
                facts.get("engagement"),
                flow_number,
                "AVOIR" if facts.get("is_credit_note") else "FACTURE",
                facts.get("issue_date"),
                deposited_at,
                at,
                _amount(facts.get("total_without_tax")),
                _amount(facts.get("total_with_tax")),
                _amount(facts.get("amount_due")),
                at + self.routing_delay,
                json.dumps(data),
            ),
        )
        conn.execute(
            "INSERT INTO history (invoice_id, status, at, comment, actor) VALUES (?, 'DEPOSEE', ?, NULL, 'platform')",
            (invoice_id, at),
        )
        return invoice_id

    # ------------------------------------------------------------------------------------------------
    # consulterCRDetaille / consulterCR
    # ------------------------------------------------------------------------------------------------
    def _flow(self, body: dict[str, Any]) -> tuple[Any, Reply | None]:
        number = _text(body, "numeroFluxDepot")
        if not number:
            return None, _error(20004, "Le numero de flux (numeroFluxDepot) est obligatoire.")
        row = self.store.one("SELECT * FROM flows WHERE number = ?", (number,))
        if row is None:
            return None, _error(20000, f"Le flux {number} n'existe pas.")
        syntax = _text(body, "syntaxeFlux")
        if syntax and syntax != row["syntax"]:
            return None, _error(20001, f"La syntaxe {syntax} ne correspond pas au flux {number}.")
        return row, None

    def flow_state(self, row: Any) -> tuple[str, float]:
        if row["finalized"]:
            return row["state"], row["state_at"]
        delay = row["delay"]
        stage = 0 if delay <= 0 else min(len(FLOW_STAGES) - 1, int((self.now() - row["deposited_at"]) // delay))
        return FLOW_STAGES[max(stage, 0)], row["deposited_at"] + max(stage, 0) * delay

    def op_consulter_cr_detaille(self, body: dict[str, Any]) -> Reply:
        row, problem = self._flow(body)
        if problem:
            return problem
        state, state_at = self.flow_state(row)
        result = json.loads(row["result"]) if row["result"] else {}
        interface = SUPPORTED_SYNTAXES[row["syntax"]][1]
        return Reply(
            {
                "codeRetour": 0,
                "libelle": OK_TRA,
                "codeInterfaceDepotFlux": interface,
                "dateDepotFlux": format_datetime(row["deposited_at"]),
                "dateHeureEtatCourantFlux": format_datetime(state_at),
                "etatCourantDepotFlux": state,
                "nomFichier": f"{interface}_CPP001_{row['number']}",
                "listeErreurDP": result.get("listeErreurDP", []),
                "listeErreurTechnique": result.get("listeErreurTechnique", []),
            }
        )

    def op_consulter_cr(self, body: dict[str, Any]) -> Reply:
        row, problem = self._flow(body)
        if problem:
            return problem
        state, state_at = self.flow_state(row)
        result = json.loads(row["result"]) if row["result"] else {}
        interface = SUPPORTED_SYNTAXES[row["syntax"]][1]
        lines = [
            "Chorus Pro (bac a sable odoo_chorus_rouen) - compte rendu de depot",
            f"Flux : {row['number']}",
            f"Fichier : {row['file_name']}",
            f"Syntaxe : {row['syntax']}",
            f"Depose le : {format_datetime(row['deposited_at'])}",
            f"Etat : {state} ({format_datetime(state_at)})",
        ]
        lines += [f"Erreur {e['numeroDP']} : {e['libelleErreurDP']}"[:110] for e in result.get("listeErreurDP", [])]
        lines += [
            f"Erreur {e['codeErreur']} : {e['libelleErreur']}"[:110] for e in result.get("listeErreurTechnique", [])
        ]
        report = simple_pdf(lines[:55], title=f"CR {row['number']}")
        return Reply(
            {
                "codeRetour": 0,
                "libelle": OK_TRA,
                "codeAppliPartenaire": "CPP001",
                "codeInterfaceFlux": interface,
                "dateDepotFlux": format_datetime(row["deposited_at"]),
                "dateHeureEtatCourantFlux": format_datetime(state_at),
                "designationPartenaire": "Compte technique du bac a sable",
                "etatCourantFlux": state,
                "fichierCR": base64.b64encode(report).decode("ascii"),
                "nomFichierFlux": row["file_name"],
                "numeroFluxDepot": row["number"],
            }
        )

    # ------------------------------------------------------------------------------------------------
    # invoices: search, read, history
    # ------------------------------------------------------------------------------------------------
    def op_rechercher_factures(self, body: dict[str, Any]) -> Reply:
        try:
            where, params = _invoice_criteria(body)
        except ValueError as err:
            return _error(20003, f"Critere de recherche invalide : {err}")
        paging = body.get("rechercheFactureParFournisseur") or {}
        page, size = _paging(paging.get("pageResultatDemandee"), paging.get("nbResultatsParPage"), DEFAULT_PAGE_SIZE)
        order = _invoice_order(paging.get("triColonne"), paging.get("triSens"))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        total = self.store.scalar(f"SELECT COUNT(*) FROM invoices{clause}", params)  # noqa: S608
        rows = self.store.all(
            f"SELECT * FROM invoices{clause} ORDER BY {order} LIMIT ? OFFSET ?",  # noqa: S608
            [*params, size, (page - 1) * size],
        )
        code, label = (0, OK_TRA) if total else NO_RESULT
        return Reply(
            {
                "codeRetour": code,
                "libelle": label,
                "listeFactures": [self._invoice_summary(row) for row in rows],
                "parametresRetour": _page_info(size, page, total),
            },
            no_result=not total,
        )

    def _invoice_summary(self, row: Any) -> dict[str, Any]:
        data = json.loads(row["data"])
        facts = data.get("facts") or {}
        return {
            "identifiantFactureCPP": row["id"],
            "numeroFacture": row["number"],
            "statut": row["status"],
            "dateHeureEtatCourant": format_datetime(row["status_at"]),
            "commentaireEtatCourant": row["comment"],
            "numeroFluxDepot": row["flow_number"],
            "modeDepot": MODE_DEPOT,
            "dateDepot": format_date(row["deposited_at"]),
            "dateFacture": row["invoice_date"],
            "typeFacture": row["invoice_type"],
            "typeDemandePaiement": "FACTURE",
            "cadreFacturation": data.get("cadre"),
            "montantHT": row["amount_ht"],
            "montantTTC": row["amount_ttc"],
            "montantAPayer": row["amount_due"],
            "devise": facts.get("currency") or "EUR",
            "codeFournisseur": row["supplier_siret"],
            "typeIdentifiantFournisseur": "SIRET",
            "designationFournisseur": data.get("supplier_name"),
            "idFournisseur": row["supplier_id"],
            "codeServiceFournisseur": None,
            "nomServiceFournisseur": None,
            "idDestinataire": row["recipient_id"],
            "codeDestinataire": row["recipient_siret"],
            "designationDestinataire": data.get("recipient_name"),
            "idServiceExecutant": row["service_id"],
            "codeServiceExecutant": row["service_code"],
            "nomServiceExecutant": data.get("service_name"),
            "numeroBonCommande": row["engagement"],
            "numeroMarche": facts.get("contract"),
            "numeroFactureOrigine": facts.get("preceding_invoice"),
            "rejetTraite": False,
        }

    def _invoice_row(self, body: dict[str, Any], *keys: str) -> tuple[Any, Reply | None]:
        value = next((body.get(key) for key in keys if body.get(key) not in (None, "")), None)
        invoice_id = _int(value)
        if invoice_id is None:
            return None, _error(20004, f"L'identifiant de la facture ({keys[0]}) est obligatoire.")
        row = self.store.one("SELECT * FROM invoices WHERE id = ?", (invoice_id,))
        if row is None:
            return None, _error(20000, "GDP_MSG_11.008")
        return row, None

    def op_consulter_facture(self, body: dict[str, Any]) -> Reply:
        row, problem = self._invoice_row(body, "identifiantFactureCPP", "idFacture")
        if problem:
            return problem
        summary = self._invoice_summary(row)
        data = json.loads(row["data"])
        facts = data.get("facts") or {}
        recipient = dirmod.find_structure(self.store, row["recipient_siret"]) or {}
        supplier = dirmod.find_structure(self.store, row["supplier_siret"]) or {}
        facture = {
            "identifiantFactureCPP": row["id"],
            "numeroFacture": row["number"],
            "statutFacture": row["status"],
            "modeDepot": MODE_DEPOT,
            "commentaire": row["comment"],
            "cadreDeFacturation": {"codeCadreFacturation": data.get("cadre"), "codeStructureValideur": None},
            "destinataire": {
                "codeDestinataire": row["recipient_siret"],
                "idDestinataire": row["recipient_id"],
                "libelleDestinataire": summary["designationDestinataire"],
                "codeServiceExecutant": row["service_code"],
                "idServiceExecutant": row["service_id"],
                "libelleServiceExecutant": summary["nomServiceExecutant"],
                "destinataireEtat": recipient.get("statut"),
            },
            "fournisseur": {
                "codeFournisseur": row["supplier_siret"],
                "idFournisseur": row["supplier_id"],
                "typeIdentifiantFournisseur": "SIRET",
                "raisonSocialeFournisseur": supplier.get("raisonSocialeStructure") or summary["designationFournisseur"],
                "codeServiceFournisseur": None,
            },
            "references": {
                "codeDeviseFacture": summary["devise"],
                "dateFacture": row["invoice_date"],
                "dateDepot": summary["dateDepot"],
                "typeFacture": row["invoice_type"],
                "typeTva": "TVA_SUR_DEBIT",
                "modePaiement": "VIREMENT"
                if str(facts.get("payment_means_code") or "") in ("30", "31", "42", "58")
                else None,
                "numeroBonCommande": row["engagement"],
                "numeroMarche": facts.get("contract"),
                "numeroFactureOrigine": facts.get("preceding_invoice"),
            },
            "montantTotal": {
                "montantHtTotal": row["amount_ht"],
                "montantTVA": _amount(facts.get("tax_total")),
                "montantTtcTotal": row["amount_ttc"],
                "montantTtcAvantRemiseGlobalTTC": row["amount_ttc"],
                "montantRemiseGlobaleTTC": 0,
                "motifRemiseGlobaleTTC": None,
                "montantAPayer": row["amount_due"],
            },
        }
        return Reply({"codeRetour": 0, "libelle": OK_GCU, "facture": facture})

    def op_historique(self, body: dict[str, Any]) -> Reply:
        row, problem = self._invoice_row(body, "idFacture", "identifiantFactureCPP")
        if problem:
            return problem
        paging = body.get("paramRechercheHistoStatuts") or {}
        page, size = _paging(
            paging.get("pageResultatDemandeeListeHistoStatut"),
            paging.get("nbResultatsParPageListeHistoStatut"),
            HISTORY_PAGE_SIZE,
        )
        direction = "ASC" if str(paging.get("triSensListeHistoStatut") or "").strip() == "Ascendant" else "DESC"
        total = self.store.scalar("SELECT COUNT(*) FROM history WHERE invoice_id = ?", (row["id"],))
        entries = self.store.all(
            f"SELECT * FROM history WHERE invoice_id = ? ORDER BY at {direction}, id {direction} LIMIT ? OFFSET ?",  # noqa: S608
            (row["id"], size, (page - 1) * size),
        )
        return Reply(
            {
                "codeRetour": 0,
                "libelle": OK_TRA,
                "idFacture": row["id"],
                "numeroFacture": row["number"],
                "modeDepot": MODE_DEPOT,
                "statutCourantCode": row["status"],
                "historiquesDesStatuts": {
                    "histoStatut": [_history_entry(entry) for entry in entries],
                    "nbResultatsParPageHistoStatut": size,
                    "pageCouranteHistoStatut": page,
                    "pagesHistoStatut": math.ceil(total / size),
                    "totalHistoStatut": total,
                },
                "historiquesDesActionsUtilisateurs": {
                    "histoAction": [],
                    "nbResultatsParPageHistoAction": size,
                    "pageCouranteHistoAction": 1,
                    "pagesHistoAction": 0,
                    "totalHistoAction": 0,
                },
                "historiquesDesEvenementsComplementaires": {
                    "evenement": [],
                    "nbResultatsParPageHistoEvenement": size,
                    "pageCouranteHistoEvenement": 1,
                    "pagesHistoEvenement": 0,
                    "totalHistoEvenement": 0,
                },
                "derniereAction": {"derniereActionId": None, "derniereActionCode": None},
            }
        )

    # ------------------------------------------------------------------------------------------------
    # recyclerFacture / completerFacture / recipient actions
    # ------------------------------------------------------------------------------------------------
    def op_recycler(self, body: dict[str, Any]) -> Reply:
        with self.store.transaction() as conn:
            row, problem = self._invoice_row(body, "identifiantFactureCPP", "idFacture")
            if problem:
                return problem
            if row["status"] != "A_RECYCLER":
                return _error(
                    20002, f"La facture {row['number']} n'est pas au statut A_RECYCLER (statut {row['status']})."
                )
            destinataire = body.get("destinataire") or {}
            reference = body.get("reference") or body.get("references") or {}
            siret = compact_siret(str(destinataire.get("codeDestinataire") or row["recipient_siret"] or ""))
            service = (
                (str(destinataire["codeServiceExecutant"]).strip() or None)
                if destinataire.get("codeServiceExecutant") is not None
                else row["service_code"]
            )
            engagement = (
                (str(reference["numeroBonCommande"]).strip() or None)
                if reference.get("numeroBonCommande") is not None
                else row["engagement"]
            )
            data = json.loads(row["data"])
            messages = self.recipient_messages(
                siret, service, engagement, data.get("format"), supplier_siret=row["supplier_siret"]
            )
            if messages:
                return _error(20003, " ".join(messages))
            recipient = dirmod.find_structure(self.store, siret)
            service_row = (
                dirmod.find_service(self.store, recipient["idStructureCPP"], code=service) if service else None
            )
            data.update(
                recipient_name=recipient["designationStructure"],
                service_name=service_row["libelleService"] if service_row else None,
            )
            now = self.now()
            comment = _text(body, "commentaire")
            conn.execute(
                "UPDATE invoices SET recipient_siret = ?, recipient_id = ?, service_code = ?, service_id = ?, "
                "engagement = ?, status = 'DEPOSEE', status_at = ?, comment = ?, next_at = ?, data = ? WHERE id = ?",
                (
                    siret,
                    recipient["idStructureCPP"],
                    service,
                    service_row["idService"] if service_row else None,
                    engagement,
                    now,
                    comment,
                    now + self.routing_delay,
                    json.dumps(data),
                    row["id"],
                ),
            )
            conn.execute(
                "INSERT INTO history (invoice_id, status, at, comment, actor) VALUES (?, 'DEPOSEE', ?, ?, 'supplier')",
                (row["id"], now, comment),
            )
        return Reply(
            {
                "codeRetour": 0,
                "libelle": "CODE PAR DEFAUT",
                "dateDepot": format_minutes(now),
                "identifiantFactureCPP": row["id"],
                "numeroFacture": row["number"],
                "statutFacture": "DEPOSEE",
            }
        )

    def op_completer(self, body: dict[str, Any]) -> Reply:
        return _completion.op_completer(self, body)

    def op_ajouter_fichier(self, body: dict[str, Any]) -> Reply:
        return _completion.op_ajouter_fichier(self, body)

    def set_invoice_status(self, invoice_id: int, status: str, comment: str | None = None) -> dict[str, Any]:
        """A recipient (or the platform) moves an invoice to ``status``; the automatic routing stops.

        :raises KeyError: no such invoice. :raises ValueError: unknown status code.
        """
        status = str(status or "").strip().upper()
        if status not in INVOICE_STATUSES:
            raise ValueError(f"unknown invoice status {status!r}")
        if status in REASON_REQUIRED and not comment:
            comment = "Motif de test (bac a sable)"
        with self.store.transaction() as conn:
            self.tick()
            row = conn.execute("SELECT id FROM invoices WHERE id = ?", (int(invoice_id),)).fetchone()
            if row is None:
                raise KeyError(f"no invoice with identifiantFactureCPP {invoice_id}")
            now = self.now()
            conn.execute(
                "UPDATE invoices SET status = ?, status_at = ?, comment = ?, next_at = NULL WHERE id = ?",
                (status, now, comment, row["id"]),
            )
            conn.execute(
                "INSERT INTO history (invoice_id, status, at, comment, actor) VALUES (?, ?, ?, ?, 'recipient')",
                (row["id"], status, now, comment),
            )
        return self.invoice(row["id"])

    # ------------------------------------------------------------------------------------------------
    # structures
    # ------------------------------------------------------------------------------------------------
    def op_rechercher_structure(self, body: dict[str, Any]) -> Reply:
        criteria = body.get("structure") or {}
        where, params = [], []
        identifier = _text(criteria, "identifiantStructure")
        if identifier:
            where.append("identifier IN (?, ?)")
            params += [identifier, compact_siret(identifier)]
        kind = _text(criteria, "typeStructure")
        if kind:
            where.append("kind = ?")
            params.append(kind.upper())
        status = _text(criteria, "statutStructure")
        if status:
            where.append("active = ?")
            params.append(int(status.upper() in ("ACTIF", "ACTIVE")))
        if body.get("restreindreStructuresPrivees", True) is not False:
            where.append("(kind = 'PUBLIQUE' OR json_extract(data, '$.rattacheCompteTechnique') = 1)")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.store.all(f"SELECT id, data FROM structures{clause} ORDER BY id", params)  # noqa: S608
        structures = [dirmod.structure_by_id(self.store, row["id"]) for row in rows]
        structures = [s for s in structures if _structure_matches(s, criteria)]
        paging = body.get("parametres") or {}
        page, size = _paging(paging.get("pageResultatDemandee"), paging.get("nbResultatsParPage"), DEFAULT_PAGE_SIZE)
        columns = {
            "DesignationStructure": "designationStructure",
            "Statut": "statut",
            "TypeIdentifiantStructure": "typeIdentifiantStructure",
        }
        column = columns.get(str(paging.get("triColonne") or ""), "identifiantStructure")
        structures.sort(key=lambda s: str(s.get(column)), reverse=str(paging.get("triSens")).strip() == "Descendant")
        total = len(structures)
        chosen = structures[(page - 1) * size : page * size]
        code, label = (0, OK_TRA) if total else NO_RESULT
        return Reply(
            {
                "codeRetour": code,
                "libelle": label,
                "listeStructures": [
                    {
                        "idStructureCPP": s["idStructureCPP"],
                        "identifiantStructure": s["identifiantStructure"],
                        "designationStructure": s["designationStructure"],
                        "typeIdentifiantStructure": s["typeIdentifiantStructure"],
                        "statut": s["statut"],
                    }
                    for s in chosen
                ],
                "parametresRetour": _page_info(size, page, total),
            },
            no_result=not total,
        )

    def op_consulter_structure(self, body: dict[str, Any]) -> Reply:
        structure = dirmod.structure_by_id(self.store, body.get("idStructureCPP", body.get("idStructure")))
        if structure is None:
            return _error(20001, "La structure demandee n'existe pas.")
        address = structure.get("adresse") or {}
        params = structure["parametres"]
        return Reply(
            {
                "codeRetour": 0,
                "libelle": OK_GCU,
                "adressePostaleDuSiege": {
                    "adresse": address.get("adresse"),
                    "codePostal": address.get("codePostal"),
                    "complementAdresse1": address.get("complementAdresse1"),
                    "complementAdresse2": address.get("complementAdresse2"),
                    "fax": None,
                    "indicatifFax": None,
                    "indicatifTelephone": None,
                    "pays": address.get("pays", "FR"),
                    "telephone": None,
                    "ville": address.get("ville"),
                },
                "informationGenerales": {
                    "idStructureCPP": structure["idStructureCPP"],
                    "idStructureOrigine": None,
                    "identifiantStructure": structure["identifiantStructure"],
                    "typeIdentifiantStructure": structure["typeIdentifiantStructure"],
                    "libelleStructure": structure["designationStructure"],
                    "raisonSocialeStructure": structure["raisonSocialeStructure"],
                    "nomStructure": None,
                    "prenomStructure": None,
                    "emailStructure": structure.get("email"),
                    "numeroRcsStructure": None,
                    "numeroTVA": structure.get("numeroTVA"),
                    "structurePriveePublique": structure["typeStructure"],
                    "estValideurDeleguee": False,
                    "dateExpirationMotPasseCompteTech": format_datetime(account_expiry(self))
                    if structure["typeStructure"] == "PRIVEE"
                    else None,
                    "listeStructureDupliquees": [],
                },
                "parametres": {
                    "codeServiceDoitEtreRenseigne": bool(params.get("codeServiceDoitEtreRenseigne")),
                    "numeroEJDoitEtreRenseigne": bool(params.get("numeroEJDoitEtreRenseigne")),
                    "gestionNumeroEJOuCodeService": bool(params.get("gestionNumeroEJOuCodeService")),
                    "estMoaUniquement": False,
                    "getaMoa": False,
                    "estValideurDelegue": False,
                    "connexionEDI": False,
                    "recevoirDonneesViaEDI": False,
                    "nonDiffusibleInsee": False,
                    "statutMiseEnPaiementNestPasRemonte": False,
                },
            }
        )

    def op_rechercher_services(self, body: dict[str, Any]) -> Reply:
        structure = dirmod.structure_by_id(self.store, body.get("idStructure", body.get("idStructureCPP")))
        if structure is None:
            return _error(20001, "La structure demandee n'existe pas.")
        services = dirmod.services_of(self.store, structure["idStructureCPP"])
        paging = body.get("parametresRechercherServicesStructure") or {}
        page, size = _paging(paging.get("pageResultatDemandee"), paging.get("nbResultatsParPage"), DEFAULT_PAGE_SIZE)
        column = {"LibelleService": "libelleService", "EstActif": "estActif"}.get(
            str(paging.get("triColonne") or ""), "codeService"
        )
        services.sort(key=lambda s: str(s.get(column)), reverse=str(paging.get("triSens")).strip() == "Descendant")
        total = len(services)
        created = format_minutes(self.store.get_meta("created_at", self.now()))
        chosen = services[(page - 1) * size : page * size]
        code, label = (0, OK_TRA) if total else NO_RESULT
        return Reply(
            {
                "codeRetour": code,
                "libelle": label,
                "listeServices": [
                    {
                        "idService": s["idService"],
                        "codeService": s["codeService"],
                        "libelleService": s["libelleService"],
                        "estActif": s["estActif"],
                        "statutService": "ACTIF" if s["estActif"] else "INACTIF",
                        "dateDbtService": created,
                        "dateFinService": None if s["estActif"] else created,
                    }
                    for s in chosen
                ],
                "parametresRetour": _page_info(size, page, total),
            },
            no_result=not total,
        )

    def op_consulter_service(self, body: dict[str, Any]) -> Reply:
        structure = dirmod.structure_by_id(self.store, body.get("idStructure", body.get("idStructureCPP")))
        if structure is None:
            return _error(20001, "La structure demandee n'existe pas.")
        service = dirmod.find_service(self.store, structure["idStructureCPP"], service_id=body.get("idService"))
        if service is None:
            return _error(20002, "Le service demande n'existe pas pour cette structure.")
        created = format_datetime(self.store.get_meta("created_at", self.now()))
        address = structure.get("adresse") or {}
        return Reply(
            {
                "codeRetour": 0,
                "libelle": OK_GCU,
                "adressePostale": {
                    "adresse": address.get("adresse"),
                    "codePostal": address.get("codePostal"),
                    "ville": address.get("ville"),
                    "pays": address.get("pays", "FR"),
                },
                "informationsGenerales": {
                    "codeService": service["codeService"],
                    "descriptionService": service["libelleService"],
                    "nomService": service["libelleService"],
                },
                "parametres": {
                    "dateCreation": created,
                    "dateDebutValidite": created,
                    "dateFinValidite": None if service["estActif"] else created,
                    "dateModification": created,
                    "miseEnPaiement": False,
                    "numeroEngagement": bool(service.get("numeroEngagement")),
                },
                "nbResultatsParPage": 1,
                "pageCourante": 1,
                "pages": 1,
                "total": 1,
            }
        )

    def op_health_check(self, body: dict[str, Any]) -> Reply:
        return Reply({"codeRetour": 0, "libelle": OK_TRA, "body": "OK", "statusCodeValue": 200, "statusCode": "OK"})

    # ------------------------------------------------------------------------------------------------
    # sandbox-only helpers (control endpoint and Python API)
    # ------------------------------------------------------------------------------------------------
    def invoice(self, invoice_id: int) -> dict[str, Any]:
        row = self.store.one("SELECT * FROM invoices WHERE id = ?", (int(invoice_id),))
        if row is None:
            raise KeyError(f"no invoice with identifiantFactureCPP {invoice_id}")
        summary = self._invoice_summary(row)
        history = self.store.all("SELECT * FROM history WHERE invoice_id = ? ORDER BY at, id", (row["id"],))
        summary["history"] = [
            {"status": h["status"], "at": format_datetime(h["at"]), "comment": h["comment"], "actor": h["actor"]}
            for h in history
        ]
        return summary

    def invoices(self, number: str | None = None, flow_number: str | None = None) -> list[dict[str, Any]]:
        where, params = [], []
        if number:
            where.append("number = ?")
            params.append(number)
        if flow_number:
            where.append("flow_number = ?")
            params.append(flow_number)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return [
            self._invoice_summary(row)
            for row in self.store.all(
                f"SELECT * FROM invoices{clause} ORDER BY id",  # noqa: S608
                params,
            )
        ]

    def flow(self, number: str) -> dict[str, Any]:
        row = self.store.one("SELECT * FROM flows WHERE number = ?", (number,))
        if row is None:
            raise KeyError(f"no flow {number}")
        state, state_at = self.flow_state(row)
        result = json.loads(row["result"]) if row["result"] else {}
        analysis = json.loads(row["analysis"])
        return {
            "numeroFluxDepot": row["number"],
            "syntaxeFlux": row["syntax"],
            "nomFichier": row["file_name"],
            "size": row["size"],
            "dateDepotFlux": format_datetime(row["deposited_at"]),
            "etatCourantDepotFlux": state,
            "dateHeureEtatCourantFlux": format_datetime(state_at),
            "final": bool(row["finalized"]),
            "final_at": format_datetime(row["final_at"]),
            "invoices": [
                {
                    "name": e["name"],
                    "format": e["format"],
                    "number": (e.get("facts") or {}).get("number"),
                    "technical": e["technical"],
                    "business": e["business"],
                }
                for e in analysis
            ],
            "listeErreurDP": result.get("listeErreurDP", []),
            "listeErreurTechnique": result.get("listeErreurTechnique", []),
            "identifiantsFactureCPP": [
                r["id"] for r in self.store.all("SELECT id FROM invoices WHERE flow_number = ? ORDER BY id", (number,))
            ],
        }

    def flow_file(self, number: str) -> bytes | None:
        row = self.store.one("SELECT data FROM flow_files WHERE number = ?", (number,))
        return None if row is None else bytes(row["data"])

    def force_flow_incident(self, number: str) -> dict[str, Any]:
        with self.store.transaction() as conn:
            row = conn.execute("SELECT finalized FROM flows WHERE number = ?", (number,)).fetchone()
            if row is None:
                raise KeyError(f"no flow {number}")
            if row["finalized"]:
                raise ValueError(f"flow {number} is already processed")
            conn.execute("UPDATE flows SET forced_state = 'IN_INCIDENTE' WHERE number = ?", (number,))
        return self.flow(number)

    def deposits(self, invoice: str | None = None) -> list[dict[str, Any]]:
        if invoice is None:
            rows = self.store.all("SELECT * FROM deposits ORDER BY id")
        else:
            rows = self.store.all(
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

    def deposits_of(self, invoice_number: str) -> int:
        return int(
            self.store.scalar(
                "SELECT COUNT(DISTINCT deposit_id) FROM deposit_numbers WHERE number = ?", (invoice_number,)
            )
            or 0
        )

    def seed_invoices(
        self,
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
        supplier = dirmod.find_structure(self.store, supplier_siret)
        recipient = dirmod.find_structure(self.store, recipient_siret)
        if supplier is None or recipient is None:
            raise ValueError("supplier and recipient must be structures of the directory")
        ht = Decimal(amount_ht)
        tva = (ht * Decimal("0.2")).quantize(Decimal("0.01"))
        with self.store.transaction() as conn:
            now = self.now()
            seq = self.store.next_sequence("flow", FIRST_FLOW_SEQUENCE)
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
            first_id = self.store.next_sequence("invoice", FIRST_INVOICE_ID)
            self.store.set_meta("seq.invoice", first_id + count - 1)
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

    def counts(self) -> dict[str, int]:
        return {
            table: int(self.store.scalar(f"SELECT COUNT(*) FROM {table}"))  # noqa: S608
            for table in ("structures", "services", "flows", "invoices", "deposits", "tokens")
        }


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def _technical(code: str, label: str) -> dict[str, str]:
    return {"codeErreur": code, "libelleErreur": label, "natureErreur": "TECHNIQUE"}


def _dp_error(facts: dict[str, Any] | None, message: str) -> dict[str, Any]:
    facts = facts or {}
    return {
        "identifiantFournisseur": facts.get("seller_siret"),
        "identifiantDestinataire": facts.get("buyer_siret"),
        "numeroDP": facts.get("number"),
        "libelleErreurDP": message,
    }


def _history_entry(row: Any) -> dict[str, Any]:
    return {
        "histoStatutId": row["id"],
        "histoStatutCode": row["status"],
        "histoStatutDatePassage": format_minutes(row["at"]),
        "histoStatutCommentaire": row["comment"],
        "histoStatutUtilisateurNom": "SANDBOX" if row["actor"] != "platform" else None,
        "histoStatutUtilisateurPrenom": row["actor"] if row["actor"] != "platform" else None,
        "histoStatutUtilisateurEmail": None,
        "histoStatutUtilisateurTelephone": None,
    }


def _paging(page: Any, size: Any, default_size: int) -> tuple[int, int]:
    page = _int(page) or 1
    size = _int(size) or default_size
    return max(page, 1), min(max(size, 1), MAX_PAGE_SIZE)


_ORDER_COLUMNS = {
    "identifiantfacturecpp": "id",
    "idfacture": "id",
    "numerofacture": "number",
    "datedepot": "deposited_at",
    "dateheureetatcourant": "status_at",
    "datestatut": "status_at",
    "statutcourant": "status",
    "statut": "status",
    "montantttc": "amount_ttc",
    "datefacture": "invoice_date",
}


def _invoice_order(column: Any, direction: Any) -> str:
    sql_column = _ORDER_COLUMNS.get(str(column or "").strip().lower(), "id")
    sql_direction = "DESC" if str(direction or "").strip() == "Descendant" else "ASC"
    return f"{sql_column} {sql_direction}, id {sql_direction}"


def _invoice_criteria(body: dict[str, Any]) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    simple = {
        "numeroFluxDepot": "flow_number",
        "numeroFacture": "number",
        "numeroBonCommande": "engagement",
        "typeFacture": "invoice_type",
    }
    for key, column in simple.items():
        value = _text(body, key)
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    statuses = body.get("statutCourant")
    if isinstance(statuses, str):
        statuses = [statuses]
    statuses = [str(s).strip() for s in statuses or [] if str(s).strip()]
    if statuses:
        where.append(f"status IN ({', '.join('?' * len(statuses))})")
        params += statuses
    if _int(body.get("idFournisseur")):
        where.append("supplier_id = ?")
        params.append(_int(body["idFournisseur"]))
    recipients = [_int(d.get("idDestinataire")) for d in body.get("listeDestinataire") or [] if isinstance(d, dict)]
    recipients = [r for r in recipients if r]
    if recipients:
        where.append(f"recipient_id IN ({', '.join('?' * len(recipients))})")
        params += recipients
    ranges = (("periodeDateHeureEtatCourant", "status_at"), ("periodeDateDepot", "deposited_at"))
    for prefix, column in ranges:
        for suffix, operator, end in (("Du", ">=", False), ("Au", "<=", True)):
            value = _text(body, prefix + suffix)
            if value:
                where.append(f"{column} {operator} ?")
                params.append(parse_moment(value, end_of_day=end))
    for suffix, operator in (("Du", ">="), ("Au", "<=")):
        value = _text(body, "periodeDateFacture" + suffix)
        if value:
            where.append(f"invoice_date {operator} ?")
            params.append(date.fromisoformat(value[:10]).isoformat())
    for key, column, operator in (("montantTTCMin", "amount_ttc", ">="), ("montantTTCMax", "amount_ttc", "<=")):
        if body.get(key) not in (None, ""):
            where.append(f"{column} {operator} ?")
            params.append(float(body[key]))
    return where, params


def _structure_matches(structure: dict[str, Any], criteria: dict[str, Any]) -> bool:
    for key, field_name in (
        ("raisonSocialeStructure", "raisonSocialeStructure"),
        ("libelleStructure", "designationStructure"),
    ):
        wanted = _text(criteria, key)
        if wanted and wanted.lower() not in str(structure.get(field_name, "")).lower():
            return False
    id_type = _text(criteria, "typeIdentifiantStructure")
    if id_type and id_type.upper() != structure["typeIdentifiantStructure"]:
        return False
    postal = _text(criteria, "adresseCodePostal")
    return not (postal and postal != (structure.get("adresse") or {}).get("codePostal"))
