"""A durable outbox for invoice files: exactly-once deposits and batch status sync, without Odoo.

The command line (``chorus-rouen send``) and the reliability tests use it; the Odoo addon applies
the same rules (:mod:`.delivery`) to its invoices. State lives in one SQLite file shared by any
number of worker processes: a worker *claims* an invoice with a lease (the equivalent of Odoo's
``FOR UPDATE SKIP LOCKED``), so two workers never take the same one, and a worker killed at any
point leaves the invoice in a state the next worker knows how to finish.

Life of an invoice in the outbox::

    queued --claim--> sending (committed before the deposit) --answer--> sent --sync--> delivered/paid/...
                         |  no answer / worker killed: the outcome is unknown
                         '--> settle: search Chorus Pro; found -> adopt; not found -> wait, then deposit again
                              (a second flow refused as a duplicate confirms the first one: adopt the original)
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from . import delivery
from .errors import ChorusError, InputError
from .payload import SYNTAX_BY_FORMAT, deposit_filename
from .status import ChorusState, flow_status, invoice_status
from .validation_facts import read_facts
from .validation_input import extract_xml
from .validation_report import InvoiceFacts

__all__ = ["Outbox", "OutboxItem", "journal_scope"]

#: States where the send job has work to do.
QUEUED = ("queued", "sending")
#: States the sync job follows.
TRACKED = ("sent", "delivered", "action")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    scope TEXT NOT NULL DEFAULT '',
    number TEXT NOT NULL,
    filename TEXT NOT NULL,
    syntax TEXT NOT NULL,
    data BLOB NOT NULL,
    buyer_siret TEXT,
    supplier_siret TEXT,
    invoice_type TEXT,
    state TEXT NOT NULL,
    flow_number TEXT,
    flow_state TEXT,
    chorus_id INTEGER,
    status TEXT,
    status_date TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    send_started REAL,
    lease_owner TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    error TEXT,
    uncertain INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (scope, number)
);
CREATE INDEX IF NOT EXISTS items_state ON items (state, next_try);
CREATE INDEX IF NOT EXISTS items_chorus ON items (chorus_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""

_COLUMNS = (
    "number, filename, syntax, buyer_siret, supplier_siret, invoice_type, state, flow_number, flow_state, "
    "chorus_id, status, status_date, attempts, next_try, send_started, error, uncertain, error_code"
)


@dataclass(frozen=True)
class OutboxItem:
    """One invoice in the outbox (without its file)."""

    number: str
    filename: str
    syntax: str
    buyer_siret: str | None
    supplier_siret: str | None
    invoice_type: str | None
    state: str  # queued, sending, sent, delivered, action, rejected, paid, cancelled, error
    flow_number: str | None
    flow_state: str | None
    chorus_id: int | None
    status: str | None
    status_date: str | None
    attempts: int
    next_try: float
    send_started: float | None
    error: str | None
    uncertain: int = 0  # an earlier deposit got no answer: a duplicate refusal then confirms it
    error_code: str | None = None  # stable code of the last failure (e.g. authentication_error)

    @property
    def final(self) -> bool:
        if self.state == "rejected" and self.status:
            # REFUSEE_* (buyer refusals) are not final on Chorus Pro: the invoice may still move.
            return invoice_status(self.status).final
        return self.state in ("rejected", "paid", "cancelled", "error")


#: Flow states after which Chorus Pro no longer processes a flow.
_FINAL_FLOW_STATES = ("IN_INTEGRE", "IN_INTEGRE_PARTIEL", "IN_REJETE", "IN_INCIDENTE", "QP_IRRECEVABLE")

#: Our short state for a Chorus status (see :class:`.status.ChorusState`).
_STATE_BY_CORE = {
    ChorusState.DELIVERED: "delivered",
    ChorusState.ACTION: "action",
    ChorusState.REJECTED: "rejected",
    ChorusState.PAID: "paid",
    ChorusState.CANCELLED: "cancelled",
}


class Outbox:
    """Durable queue of invoice files for one Chorus Pro account.

    :param path: SQLite file (``":memory:"`` for one process only).
    :param client_factory: returns a :class:`~.client.ChorusClient` (called once per job run).
    :param settle_delay: seconds an uncertain deposit is given to show up before a new deposit.
    :param lease: seconds a claim lasts; a worker killed while holding one delays that invoice by at most this.
    :param scope: the platform and account this outbox deposits to (see :func:`journal_scope`). One
        SQLite file holds any number of scopes; an entry, its state and its flow number belong to
        one scope only, so a deposit on one platform or account never counts for another.
    """

    def __init__(
        self,
        path: str = ":memory:",
        client_factory: Callable[[], object] | None = None,
        *,
        settle_delay: float = delivery.DEFAULT_SETTLE_DELAY,
        max_attempts: int = 8,
        backoff_base: float = delivery.DEFAULT_BACKOFF_BASE,
        backoff_max: float = delivery.DEFAULT_BACKOFF_MAX,
        lease: float = 120.0,
        sync_margin: float = 300.0,
        page_size: int = 100,
        clock: Callable[[], float] = time.time,
        scope: str = "",
    ) -> None:
        self.path = path
        self.client_factory = client_factory
        self.settle_delay = settle_delay
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.lease = lease
        self.sync_margin = sync_margin
        self.page_size = page_size
        self.clock = clock
        self.scope = scope
        self.worker = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 30000")
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        _migrate(self._db)
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(items)")}
        if "uncertain" not in columns:  # a journal written by an older version
            self._db.execute("ALTER TABLE items ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0")

    def close(self) -> None:
        self._db.close()

    # -- transactions -------------------------------------------------------------------------------------
    @contextmanager
    def _tx(self):
        """One committed transaction (``BEGIN IMMEDIATE``: writers queue up instead of failing)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _update(self, number: str, **values) -> None:
        values["updated"] = self.clock()
        assignments = ", ".join(f"{key} = ?" for key in values)
        with self._tx() as db:
            db.execute(f"UPDATE items SET {assignments} WHERE scope = ? AND number = ?",  # noqa: S608
                       [*values.values(), self.scope, number])

    # -- adding -------------------------------------------------------------------------------------------
    def add(self, data: bytes, *, facts: InvoiceFacts | None = None) -> OutboxItem:
        """Queue an invoice file (Factur-X PDF, CII or UBL). Adding the same file again changes nothing.

        A corrected file for an invoice that ended in error, or whose flow Chorus Pro rejected,
        replaces the old one and is queued again (nothing of it is on the platform).

        :raises InputError: unreadable file, no invoice number, or another file for an invoice that
            is (or may be) on Chorus Pro.
        """
        fmt, xml = extract_xml(data)
        facts = facts or read_facts(xml, fmt)
        if not facts.number:
            raise InputError("The invoice has no number (BT-1)", code="input_error", params={"reason": "no BT-1"})
        now = self.clock()
        values = {
            "filename": deposit_filename(facts.number, fmt),
            "syntax": SYNTAX_BY_FORMAT[fmt],
            "data": data,
            "buyer_siret": facts.buyer_siret,
            "supplier_siret": facts.seller_siret,
            "invoice_type": "AVOIR" if facts.is_credit_note else "FACTURE",
        }
        with self._tx() as db:
            row = db.execute("SELECT data, state, chorus_id, error FROM items WHERE scope = ? AND number = ?",
                             (self.scope, facts.number)).fetchone()
            if row is None:
                state, started, error = "queued", None, None
                if self.scope and _legacy_deposit(db, facts.number):
                    # An earlier version deposited it without recording where: ask this platform first.
                    state, started, error = "sending", 0.0, _LEGACY_NOTE
                db.execute(
                    "INSERT INTO items (scope, number, filename, syntax, data, buyer_siret, supplier_siret,"
                    " invoice_type, state, send_started, error, created, updated)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.scope, facts.number, *values.values(), state, started, error, now, now),
                )
            elif bytes(row[0]) != data:
                if _number_used_elsewhere(row[1], row[3]):
                    raise _number_used_error(facts.number)
                if not (row[1] == "error" or (row[1] == "rejected" and not row[2])):
                    raise InputError(
                        f"Invoice {facts.number} is already in the outbox with another file ({row[1]})",
                        code="duplicate_invoice_number",
                        params={"invoice": facts.number, "state": row[1]},
                    )
                assignments = ", ".join(f"{key} = ?" for key in values)
                db.execute(
                    f"UPDATE items SET {assignments}, state = 'queued', attempts = 0, next_try = 0, error = NULL,"  # noqa: S608
                    " error_code = NULL, flow_number = NULL, flow_state = NULL, updated = ?"
                    " WHERE scope = ? AND number = ?",
                    (*values.values(), now, self.scope, facts.number),
                )
        return self.get(facts.number)

    def requeue(self, number: str) -> OutboxItem:
        """Resend after an error or a rejected flow (the data were fixed): only from ``error``/``rejected`` flows."""
        item = self.get(number)
        if _number_used_elsewhere(item.state, item.error):
            raise _number_used_error(number)
        if item.state not in ("error", "rejected") or (item.state == "rejected" and item.chorus_id):
            raise InputError(
                f"Invoice {number} cannot be sent again from state {item.state}",
                code="cannot_resend",
                params={"invoice": number, "state": item.state},
            )
        self._update(number, state="queued", attempts=0, next_try=0, error=None, error_code=None, flow_number=None,
                     flow_state=None)
        return self.get(number)

    def retry_now(self, number: str) -> OutboxItem:
        """A person asks for this invoice again: make it due now, whatever its back-off.

        The back-off is for unattended retries; a person who fixed a URL or a password should not
        wait for it. ``error`` (nothing on the platform) is queued again; an uncertain deposit
        (``sending``) stays uncertain: it is only made due, so Chorus Pro is asked before any new
        deposit. Other states are left alone.
        """
        item = self.get(number)
        if item.state in ("error", "rejected") and not item.chorus_id:
            return self.requeue(number)
        if item.state == "queued":
            self._update(number, next_try=0, attempts=0)
        elif item.state == "sending":
            self._update(number, next_try=0)
        return self.get(number)

    # -- reading ------------------------------------------------------------------------------------------
    def get(self, number: str) -> OutboxItem:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM items WHERE scope = ? AND number = ?",  # noqa: S608
                               (self.scope, number)).fetchone()
        if row is None:
            raise InputError(f"Invoice {number} is not in the outbox", params={"reason": "unknown invoice"})
        return OutboxItem(*row)

    def items(self, states: Iterable[str] | None = None) -> list[OutboxItem]:
        sql = f"SELECT {_COLUMNS} FROM items WHERE scope = ?"  # noqa: S608
        args: list = [self.scope]
        if states:
            states = list(states)
            sql += f" AND state IN ({', '.join('?' * len(states))})"
            args += states
        return [OutboxItem(*row) for row in self._db.execute(sql + " ORDER BY number", args)]

    def counts(self) -> Counter:
        return Counter(dict(self._db.execute("SELECT state, COUNT(*) FROM items WHERE scope = ? GROUP BY state",
                                             (self.scope,)).fetchall()))

    def due(self) -> list[OutboxItem]:
        """What :meth:`send_due` would take now (queued or uncertain, back-off over)."""
        now = self.clock()
        return [item for item in self.items(QUEUED) if item.next_try <= now]

    # -- send job -----------------------------------------------------------------------------------------
    def _claim(self, numbers: list[str] | None = None) -> tuple[str, bytes] | None:
        now = self.clock()
        only = ""
        if numbers is not None:
            only = f" AND number IN ({', '.join('?' * len(numbers))})"
        with self._tx() as db:
            row = db.execute(
                "SELECT number, data FROM items WHERE scope = ? AND state IN ('queued', 'sending') AND next_try <= ?"
                f" AND lease_until < ?{only} ORDER BY next_try, number LIMIT 1",
                (self.scope, now, now, *(numbers or ())),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE items SET lease_owner = ?, lease_until = ? WHERE scope = ? AND number = ?",
                (self.worker, now + self.lease, self.scope, row[0]),
            )
        return row[0], bytes(row[1])

    def _release(self, number: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE items SET lease_owner = NULL, lease_until = 0"
                " WHERE scope = ? AND number = ? AND lease_owner = ?",
                (self.scope, number, self.worker),
            )

    def send_due(
        self,
        limit: int | None = None,
        progress: Callable[[str, str], None] | None = None,
        numbers: Iterable[str] | None = None,
    ) -> Counter:
        """Deposit every due invoice (or ``limit`` of them, or only ``numbers``); return the outcomes counted."""
        wanted = None if numbers is None else list(numbers)
        if wanted == []:
            return Counter()
        outcomes: Counter = Counter()
        client = self.client_factory() if self.client_factory else None
        if client is None:
            raise ChorusError("The outbox has no Chorus Pro client", code="configuration_error")
        # Named invoices are claimed 500 at a time (SQLite's limit on query parameters).
        chunks = [None] if wanted is None else [wanted[i:i + 500] for i in range(0, len(wanted), 500)]
        for chunk in chunks:
            while limit is None or sum(outcomes.values()) < limit:
                claimed = self._claim(chunk)
                if claimed is None:
                    break
                number, data = claimed
                try:
                    outcome = self._send_one(client, number, data)
                finally:
                    self._release(number)
                outcomes[outcome] += 1
                if progress:
                    progress(number, outcome)
        return outcomes

    def _send_one(self, client, number: str, data: bytes) -> str:
        item = self.get(number)
        if item.state == "sending":
            outcome = self._settle(client, item)
            if outcome != "deposit_again":
                return outcome
        # The point of no return: committed before the request leaves.
        started = self.clock()
        self._update(number, state="sending", send_started=started, attempts=item.attempts + 1)
        try:
            result = client.deposit_flow(data, item.filename, item.syntax)
        except ChorusError as err:
            return self._fail(self.get(number), err)
        self._update(
            number, state="sent", flow_number=result.flow_number, flow_state=None, next_try=0, attempts=0, error=None,
            error_code=None,
        )
        return "sent"

    def _fail(self, item: OutboxItem, err: ChorusError) -> str:
        failure = delivery.classify_failure(err)
        now = self.clock()
        backoff = delivery.next_attempt_delay(item.attempts, failure.retry_after, self.backoff_base, self.backoff_max)
        if failure.kind == "uncertain":
            # Never "error": a resend could deposit twice. Chorus Pro is asked first.
            settle_at = (item.send_started or now) + self.settle_delay
            self._update(item.number, state="sending", next_try=max(now, min(settle_at, now + backoff)),
                         error=err.message, error_code=err.code, uncertain=1)
            return "uncertain"
        if failure.kind == "retry" and item.attempts < self.max_attempts:
            self._update(item.number, state="queued", next_try=now + backoff, error=err.message, error_code=err.code)
            return "retry"
        self._update(item.number, state="error", next_try=0, error=err.message, error_code=err.code)
        return "error"

    def _settle(self, client, item: OutboxItem) -> str:
        try:
            found = delivery.find_deposited(
                client.search_invoices(invoice_number=item.number),
                item.number,
                item.buyer_siret,
                item.supplier_siret,
                item.invoice_type,
            )
        except ChorusError as err:
            # Still uncertain while the platform cannot be asked: stay "sending", whatever the error.
            failure = delivery.classify_failure(err)
            delay = delivery.next_attempt_delay(item.attempts, failure.retry_after, self.backoff_base, self.backoff_max)
            self._update(item.number, next_try=self.clock() + delay, error=err.message, error_code=err.code)
            return "waiting"
        elapsed = self.clock() - (item.send_started or 0)
        decision = delivery.settle_decision(found is not None, elapsed, self.settle_delay)
        if decision == "deposit_again" and self._flow_pending(client, item):
            decision = "wait"  # the earlier flow is known and still being processed: never a second deposit
        if not item.uncertain:
            self._update(item.number, uncertain=1)  # e.g. a worker killed during the deposit
        if decision == "adopt":
            self._update(
                item.number,
                state=_STATE_BY_CORE.get(invoice_status(found.status).state, "delivered"),
                chorus_id=found.chorus_id,
                flow_number=found.flow_number or item.flow_number,
                flow_state="IN_INTEGRE",
                status=found.status,
                status_date=_iso(found.status_date),
                next_try=0,
                attempts=0,
                error=None,
                error_code=None,
            )
            return "settled"
        if decision == "wait":
            self._update(item.number, next_try=self.clock() + delivery.settle_poll_delay(elapsed, self.settle_delay))
            return "waiting"
        return "deposit_again"

    def _flow_pending(self, client, item: OutboxItem) -> bool:
        """Whether the flow of the earlier deposit is known and Chorus Pro still shows it in processing."""
        if not item.flow_number or item.flow_state in _FINAL_FLOW_STATES:
            return False
        try:
            return client.flow_report(item.flow_number).state not in _FINAL_FLOW_STATES
        except ChorusError:
            return True  # cannot be asked now: wait

    # -- sync job -----------------------------------------------------------------------------------------
    def sync(self) -> Counter:
        """Bring flow states and invoice statuses back: one paged search, flow reports only where needed."""
        outcomes: Counter = Counter()
        tracked = {item.number: item for item in self.items((*TRACKED, "rejected")) if not item.final}
        if not tracked:
            return outcomes
        client = self.client_factory()
        started = datetime.now(timezone.utc)
        last = self._db.execute("SELECT value FROM meta WHERE key = ?", (self._sync_key,)).fetchone()
        if last:
            since = datetime.fromisoformat(last[0]) - timedelta(seconds=self.sync_margin)
        else:
            oldest = self._db.execute("SELECT MIN(created) FROM items WHERE scope = ?", (self.scope,)).fetchone()[0]
            since = datetime.fromtimestamp(oldest, timezone.utc) - timedelta(days=1)
        by_id = {item.chorus_id: item for item in tracked.values() if item.chorus_id}
        seen: set[str] = set()
        for summary in client.search_invoices(changed_since=since, page_size=self.page_size):
            item = by_id.get(summary.chorus_id) or tracked.get(summary.number)
            if item is None or item.number in seen:
                continue
            if item.flow_number and summary.flow_number and summary.flow_number != item.flow_number:
                continue  # an older deposit of the same number (rejected, then sent again)
            seen.add(item.number)
            outcomes[self._apply(item, summary)] += 1
        for item in tracked.values():
            if item.number in seen or item.state != "sent" or item.chorus_id or not item.flow_number:
                continue
            outcomes[self._follow_flow(client, item)] += 1
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (self._sync_key, started.isoformat()))
        return outcomes

    @property
    def _sync_key(self) -> str:
        return f"last_sync {self.scope}" if self.scope else "last_sync"

    def _apply(self, item: OutboxItem, summary) -> str:
        info = invoice_status(summary.status)
        state = _STATE_BY_CORE.get(info.state, item.state if item.state != "sent" else "delivered")
        if summary.status == item.status and item.chorus_id:
            return "unchanged"
        self._update(
            item.number,
            chorus_id=summary.chorus_id,
            flow_state="IN_INTEGRE",
            status=summary.status,
            status_date=_iso(summary.status_date),
            state=state,
            error=summary.comment if info.action_needed else None,
        )
        return "updated"

    def _follow_flow(self, client, item: OutboxItem) -> str:
        report = client.flow_report(item.flow_number)
        info = flow_status(report.state)
        ours = [e for e in report.dp_errors if not e.invoice_number or e.invoice_number == item.number]
        if (info.state is ChorusState.REJECTED or (report.state == "IN_INTEGRE_PARTIEL" and ours)) and ours \
                and not report.technical_errors and all(delivery.is_duplicate_refusal(e.message) for e in ours):
            return self._duplicate_refused(client, item, report.state, ours[0].message)
        if info.state is ChorusState.REJECTED:
            errors = [e.message for e in report.dp_errors if e.message] + [
                " ".join(filter(None, [e.code, e.label])) for e in report.technical_errors
            ]
            message = "\n".join(errors) or info.label_en
            self._update(item.number, flow_state=report.state, state="rejected", error=message)
            return "rejected"
        if info.state is ChorusState.DELIVERED:
            # Integrated but not seen by the batch search (e.g. older than its window): one look-up by flow.
            for summary in client.search_invoices(flow_number=item.flow_number):
                if summary.number == item.number:
                    return self._apply(item, summary)
        if report.state != item.flow_state:
            self._update(item.number, flow_state=report.state)
            return "flow_updated"
        return "unchanged"


    def _duplicate_refused(self, client, item: OutboxItem, flow_state: str, reason: str | None) -> str:
        """Chorus Pro refused the flow as a duplicate of an invoice number it already holds.

        After an uncertain deposit this confirms that the first deposit went through: the original is
        adopted (found by supplier + number, amount and date checked) and followed. Otherwise the number
        is used on Chorus Pro by an invoice that did not come from this outbox: a person must act.
        """
        fmt, xml = extract_xml(self._data(item.number))
        facts = read_facts(xml, fmt)
        original, is_ours = delivery.find_original(
            client.search_invoices(invoice_number=item.number),
            item.number,
            buyer_siret=item.buyer_siret,
            supplier_siret=item.supplier_siret,
            invoice_type=item.invoice_type,
            amount_ttc=facts.total_with_tax,
            invoice_date=facts.issue_date,
        )
        decision = delivery.duplicate_decision(bool(item.uncertain), original, is_ours)
        if decision == "adopt":  # followed from now on through the original's flow
            self._update(item.number, flow_number=original.flow_number or item.flow_number, error=None)
            self._apply(self.get(item.number), original)
            return "duplicate_confirmed"
        if decision == "confirmed":  # not found yet: the next sync looks again
            self._update(item.number, flow_state=flow_state, error=None)
            return "duplicate_confirmed"
        if original is not None and item.uncertain:
            why = (f"Chorus Pro refused the deposit as a duplicate, but the invoice it holds under number "
                   f"{item.number} is not this one (Chorus Pro ID {original.chorus_id}: other amount, date or "
                   "buyer): it was not adopted. Issue a credit note or a new invoice with a new number.")
        else:
            why = (f"The number {item.number} is already used on Chorus Pro by an invoice that was not deposited "
                   "from this outbox (another tool or the Chorus Pro portal): issue a credit note, or a new invoice "
                   "with a new number.")
        self._update(item.number, flow_state=flow_state, state="rejected", error=f"{why}\n{reason or ''}".strip())
        return "duplicate_conflict"

    def _data(self, number: str) -> bytes:
        row = self._db.execute("SELECT data FROM items WHERE scope = ? AND number = ?", (self.scope, number)).fetchone()
        return bytes(row[0])


def _number_used_elsewhere(state: str, error: str | None) -> bool:
    """Rejected because Chorus Pro holds another invoice under this number: sending it again is refused again."""
    return state == "rejected" and delivery.is_duplicate_refusal(error)


def _number_used_error(number: str) -> InputError:
    return InputError(
        f"Invoice {number} cannot be sent again: its number is already used on Chorus Pro by another invoice. "
        "Issue a credit note, or a new invoice with a new number.",
        code="duplicate_invoice_number",
        params={"invoice": number, "state": "rejected"},
    )
def journal_scope(token_url: str, api_url: str, client_id: str, login: str) -> str:
    """The key of one platform and account in a shared journal: token and API URLs, client id, login.

    Secrets are not part of it: fixing a password keeps the entries (and what they deposited).

    >>> journal_scope("https://x/api/oauth/token", "https://x/", "app", "TECH_1@cpro.fr")
    'https://x/api/oauth/token https://x client_id=app login=TECH_1@cpro.fr'
    """
    return f"{token_url.strip()} {api_url.strip().rstrip('/')} client_id={client_id.strip()} login={login.strip()}"


_LEGACY_NOTE = (
    "recorded by an earlier version of the journal without its platform: Chorus Pro is searched before any deposit"
)


def _legacy_deposit(db, number: str) -> bool:
    """Whether an entry written before journals were scoped may have deposited this invoice somewhere."""
    row = db.execute(
        "SELECT 1 FROM items WHERE scope = '' AND number = ? AND (flow_number IS NOT NULL OR chorus_id IS NOT NULL"
        " OR state NOT IN ('queued', 'error'))",
        (number,),
    ).fetchone()
    return row is not None


def _migrate(db) -> None:
    """Bring a journal written before scopes existed to the current schema; its entries get the empty scope.

    Checked again inside the write transaction: two processes opening the same old journal migrate it once.
    """
    if not _needs_migration(db):
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        columns = _needs_migration(db)
        if columns:
            old = ", ".join(columns)
            db.execute("ALTER TABLE items RENAME TO items_unscoped")
            db.execute("DROP INDEX IF EXISTS items_state")
            db.execute("DROP INDEX IF EXISTS items_chorus")
            create = next(part for part in _SCHEMA.split(";") if "TABLE IF NOT EXISTS items" in part)
            db.execute(create)
            db.execute(f"INSERT INTO items ({old}) SELECT {old} FROM items_unscoped")  # noqa: S608
            db.execute("DROP TABLE items_unscoped")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _needs_migration(db) -> list[str]:
    """The columns of an unscoped ``items`` table (nothing to do: empty list)."""
    columns = [row[1] for row in db.execute("PRAGMA table_info(items)")]
    if not columns or "scope" in columns:
        return []
    if not {"number", "filename", "data", "state"} <= set(columns):
        raise sqlite3.DatabaseError("its items table is not an outbox journal's")
    return columns


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value
