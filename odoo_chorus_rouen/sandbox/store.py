"""SQLite state of the sandbox: one connection, one lock, committed after every change.

Everything the platform would remember lives here (directory, tokens, flows, invoices and their
history, deposits, the clock offset, pending faults, call counters), so a sandbox restarted on the
same file loses nothing. ``":memory:"`` keeps the state for the life of the process only.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Store"]

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, issued_at REAL NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS structures (
    id INTEGER PRIMARY KEY, identifier TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, active INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS services (
    id INTEGER PRIMARY KEY, structure_id INTEGER NOT NULL, code TEXT NOT NULL, active INTEGER NOT NULL,
    data TEXT NOT NULL, UNIQUE (structure_id, code)
);
CREATE TABLE IF NOT EXISTS flows (
    number TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, syntax TEXT NOT NULL, file_name TEXT NOT NULL,
    deposited_at REAL NOT NULL, delay REAL NOT NULL, final_at REAL NOT NULL, finalized INTEGER NOT NULL DEFAULT 0,
    forced_state TEXT, state TEXT, state_at REAL, size INTEGER NOT NULL, analysis TEXT NOT NULL,
    result TEXT
);
CREATE INDEX IF NOT EXISTS flows_pending ON flows (finalized, final_at, seq);
CREATE TABLE IF NOT EXISTS flow_files (number TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS deposits (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, flow_number TEXT, file_name TEXT, syntax TEXT,
    outcome TEXT NOT NULL, http_status INTEGER NOT NULL, code INTEGER NOT NULL, label TEXT NOT NULL,
    numbers TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deposit_numbers (deposit_id INTEGER NOT NULL, number TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS deposit_numbers_number ON deposit_numbers (number);
CREATE TABLE IF NOT EXISTS invoices (
    id INTEGER PRIMARY KEY, number TEXT NOT NULL, supplier_siret TEXT, supplier_id INTEGER,
    recipient_siret TEXT, recipient_id INTEGER, service_code TEXT, service_id INTEGER, engagement TEXT,
    flow_number TEXT, invoice_type TEXT NOT NULL, invoice_date TEXT, deposited_at REAL NOT NULL,
    status TEXT NOT NULL, status_at REAL NOT NULL, comment TEXT, amount_ht REAL, amount_ttc REAL,
    amount_due REAL, next_at REAL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS invoices_flow ON invoices (flow_number, id);
CREATE INDEX IF NOT EXISTS invoices_number ON invoices (number, supplier_siret);
CREATE INDEX IF NOT EXISTS invoices_status ON invoices (status, id);
CREATE INDEX IF NOT EXISTS invoices_status_at ON invoices (status_at, id);
CREATE INDEX IF NOT EXISTS invoices_next ON invoices (next_at);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, invoice_id INTEGER NOT NULL, status TEXT NOT NULL, at REAL NOT NULL,
    comment TEXT, actor TEXT
);
CREATE INDEX IF NOT EXISTS history_invoice ON history (invoice_id, at);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, remaining INTEGER NOT NULL, operation TEXT,
    delay REAL, retry_after INTEGER
);
CREATE TABLE IF NOT EXISTS calls (operation TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS attachments (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, mime TEXT, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
    at REAL NOT NULL, data BLOB NOT NULL, invoice_id INTEGER, history_id INTEGER
);
"""

_DATA_TABLES = (
    "tokens",
    "flows",
    "flow_files",
    "deposits",
    "deposit_numbers",
    "invoices",
    "history",
    "faults",
    "calls",
    "attachments",
)


class Store:
    """Thread-safe access to the sandbox database.

    Use :meth:`transaction` for every read or write: it holds the (re-entrant) lock and commits
    on success, rolls back on error.
    """

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._depth = 0
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        with self.transaction():
            if self.get_meta("schema_version") is None:
                self.set_meta("schema_version", SCHEMA_VERSION)
                self.set_meta("created_at", time.time())

    # -- plumbing -----------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._conn.rollback()
                raise
            self._depth -= 1
            if self._depth == 0:
                self._conn.commit()

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        with self.lock:
            return self._conn.execute(sql, params)

    def one(self, sql: str, params: Any = ()) -> sqlite3.Row | None:
        with self.lock:
            return self._conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self._conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def close(self, timeout: float | None = None) -> bool:
        """Commit and close; with ``timeout``, give up after that many seconds if a request holds the store.

        A request stopped in the middle of a transaction (the sandbox is stopping) leaves it
        uncommitted: SQLite rolls it back, the state file keeps what was committed before.

        :return: whether the store was closed.
        """
        if not self.lock.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            return False
        try:
            self._conn.commit()
        finally:
            self._conn.close()
            self.lock.release()
        return True

    # -- meta ---------------------------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return default if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        self.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def next_sequence(self, name: str, start: int) -> int:
        """Next value of a persistent counter (the first value returned is ``start``)."""
        with self.transaction():
            value = int(self.get_meta(f"seq.{name}", start - 1)) + 1
            self.set_meta(f"seq.{name}", value)
            return value

    def clear(self, *, directory: bool) -> None:
        """Forget everything the API created (and the directory too when asked)."""
        with self.transaction() as conn:
            for table in _DATA_TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            conn.execute("DELETE FROM meta WHERE key LIKE 'seq.%' OR key IN ('clock_offset', 'random_faults')")
            if directory:
                conn.execute("DELETE FROM services")
                conn.execute("DELETE FROM structures")
