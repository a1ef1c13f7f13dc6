"""The sandbox as one object: ``SandboxServer`` starts it in a thread and is the Python side of the control API.

Start it from Python::

    with SandboxServer() as sandbox:
        print(sandbox.url, sandbox.credentials)

or from a shell: ``chorus-rouen sandbox --port 8765 --state sandbox.sqlite`` (or
``python -m odoo_chorus_rouen.sandbox``; :mod:`.command`). Its HTTP faces are :mod:`.gateway`
(PISTE token + ``/cpro`` API) and :mod:`.control` (``/sandbox`` control API), served by
:mod:`.handler`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import deposits, embedded, flows, invoice_status, invoices, seed
from . import directory as dirmod
from .access import DEFAULT_CREDENTIALS, SandboxCredentials
from .clock import format_datetime
from .duplicates import duplicate_report
from .engine import DEFAULT_MAX_FILE_SIZE, Engine
from .faults import FaultBox
from .gateway import TOKEN_PATH
from .handler import RequestHandler, SandboxHTTPServer
from .store import Store
from .technical_account import reset as reset_account

__all__ = ["SandboxServer"]

_logger = logging.getLogger(__name__)


class SandboxServer:
    """A local Chorus Pro (PISTE token + API gateway + control API) running in a background thread.

    :param host: interface to bind; keep the loopback default.
    :param port: TCP port; 0 picks a free one (read :attr:`url`).
    :param state_path: SQLite file of the state, or ``":memory:"``. A file survives restarts.
    :param directory_file: JSON file of extra structures (same shape as ``directory.json``).
    :param processing_delay: seconds per flow processing step (3 steps to the final state);
        0 makes a flow final on the next call after its deposit.
    :param functional_errors_http: HTTP status of answers with ``codeRetour != 0``: 200 or 400.
    :param routing_delay: seconds per automatic invoice step (DEPOSEE -> EN_COURS_ACHEMINEMENT ->
        MISE_A_DISPOSITION); defaults to ``processing_delay``.
    :param credentials: accepted PISTE client and technical account (defaults of CONTRACTS.md).
    :param max_file_size: largest decoded deposit accepted (bytes); larger files get 413.
    :param validator: ``callable(bytes) -> report`` replacing ``core.validation.validate`` (tests).
    :param validation_layers: layers asked to ``core.validation.validate`` (``xsd``, ``schematron``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state_path: str | Path = ":memory:",
        directory_file: str | Path | None = None,
        processing_delay: float = 0.0,
        functional_errors_http: int = 200,
        *,
        routing_delay: float | None = None,
        credentials: SandboxCredentials | None = None,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        validator: Callable[[bytes], Any] | None = None,
        validation_layers: tuple[str, ...] = ("xsd",),
        keep_files: bool = True,
    ) -> None:
        self.host = host
        self.port = int(port)
        self.state_path = str(state_path)
        self.directory_file = directory_file
        self.store = Store(self.state_path)
        dirmod.narrow_wide_ids(self.store)  # a state file of an earlier sandbox: ids into 32 bits
        if not self.store.scalar("SELECT COUNT(*) FROM structures"):
            dirmod.load_structures(self.store, dirmod.load_directory_file())
        if directory_file:
            dirmod.load_structures(self.store, dirmod.load_directory_file(directory_file))
        self._credentials = credentials or DEFAULT_CREDENTIALS
        self.engine = Engine(
            self.store,
            credentials=self._credentials,
            processing_delay=processing_delay,
            routing_delay=routing_delay,
            functional_errors_http=functional_errors_http,
            max_file_size=max_file_size,
            validator=validator,
            validation_layers=validation_layers,
            keep_files=keep_files,
        )
        self.faults = FaultBox(self.store)
        self._httpd: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -----------------------------------------------------------------------------------
    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        httpd = SandboxHTTPServer((self.host, self.port), RequestHandler)
        httpd.sandbox = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"chorus-sandbox-{self.port}", daemon=True
        )
        self._thread.start()
        _logger.info("Chorus Pro sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.stopping.set()
            httpd.shutdown()
            httpd.close_connections()
            httpd.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
        self.store.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Start (if needed) and block until :meth:`stop` is called from another thread or a signal."""
        self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    # -- facts about the running sandbox --------------------------------------------------------------
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    @property
    def credentials(self) -> SandboxCredentials:
        return self.engine.credentials

    @property
    def max_request_size(self) -> int:
        return self.engine.max_file_size * 4 // 3 + 1024 * 1024

    # -- control API (Python side of /sandbox/...) ----------------------------------------------------
    def state(self) -> dict[str, Any]:
        self.engine.tick()
        return {
            "url": self.url if self._httpd else None,
            "state_path": self.state_path,
            "clock": self.clock(),
            "config": self.config(),
            "counts": self.engine.counts(),
            "calls": self.engine.calls(),
            "faults": self.faults.describe(),
        }

    def clock(self) -> dict[str, Any]:
        now = self.engine.now()
        return {"now": format_datetime(now), "timestamp": now, "offset": self.engine.clock.offset}

    def now(self) -> float:
        """Sandbox time (epoch seconds)."""
        return self.engine.now()

    def advance(self, seconds: float) -> float:
        """Move the sandbox clock forward and run what became due; returns the new sandbox time."""
        return self.engine.advance(seconds)

    def tick(self) -> None:
        self.engine.tick()

    def config(self) -> dict[str, Any]:
        engine = self.engine
        return {
            "processing_delay": engine.processing_delay,
            "routing_delay": engine.routing_delay,
            "functional_errors_http": engine.functional_errors_http,
            "max_file_size": engine.max_file_size,
            "validation_layers": list(getattr(engine.validator, "layers", ()) or []),
        }

    def configure(
        self,
        processing_delay: float | None = None,
        routing_delay: float | None = None,
        functional_errors_http: int | None = None,
        max_file_size: int | None = None,
    ) -> dict[str, Any]:
        """Change settings of a running sandbox (new deposits / new steps only)."""
        engine = self.engine
        if functional_errors_http is not None:
            if int(functional_errors_http) not in (200, 400):
                raise ValueError("functional_errors_http must be 200 or 400")
            engine.functional_errors_http = int(functional_errors_http)
        if processing_delay is not None:
            engine.processing_delay = max(0.0, float(processing_delay))
        if routing_delay is not None:
            engine.routing_delay = max(0.0, float(routing_delay))
        if max_file_size is not None:
            engine.max_file_size = int(max_file_size)
        return self.config()

    def reset(self, directory: bool = True) -> None:
        """Forget flows, invoices, deposits, tokens, faults, counters and the clock offset.

        With ``directory`` (default) the directory goes back to the shipped one (plus ``directory_file``).
        """
        with self.store.transaction():
            self.store.clear(directory=directory)
            if directory:
                dirmod.load_structures(self.store, dirmod.load_directory_file())
                if self.directory_file:
                    dirmod.load_structures(self.store, dirmod.load_directory_file(self.directory_file))
            self.engine.clock.offset = 0.0
            self.faults.reload()
            reset_account(self.engine, self._credentials.password)

    def inject_fault(
        self,
        kind: str,
        count: int = 1,
        operation: str | None = None,
        delay: float | None = None,
        retry_after: int | None = None,
    ) -> dict[str, Any]:
        """Queue a fault for the next ``count`` matching calls (see :mod:`.faults` for the kinds)."""
        return self.faults.inject(kind, count=count, operation=operation, delay=delay, retry_after=retry_after)

    def random_faults(
        self,
        probability: float,
        seed: int | None = None,
        kinds: list[str] | None = None,
        operation: str | None = None,
        delay: float | None = None,
        retry_after: int | None = None,
    ) -> dict[str, Any] | None:
        """Draw a fault on each matching call with this probability (0 turns random faults off)."""
        return self.faults.set_random(
            probability, seed=seed, kinds=kinds, operation=operation, delay=delay, retry_after=retry_after
        )

    def clear_faults(self) -> None:
        self.faults.clear()

    def structures(self, siret: str | None = None) -> list[dict[str, Any]]:
        if siret:
            found = dirmod.find_structure(self.store, siret)
            found_list = [found] if found else []
        else:
            rows = self.store.all("SELECT id FROM structures ORDER BY id")
            found_list = [dirmod.structure_by_id(self.store, row["id"]) for row in rows]
        for structure in found_list:
            structure["services"] = dirmod.services_of(self.store, structure["idStructureCPP"])
        return found_list

    def add_structure(self, structure: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Add or replace a directory structure, e.g. ``add_structure(siret="...", name="My company")``.

        A structure is PRIVEE (a supplier attached to the technical account) unless ``typeStructure`` /
        ``type`` says PUBLIQUE. Returns the stored structure with its ``idStructureCPP``.
        """
        return dirmod.upsert_structure(self.store, {**(structure or {}), **fields})

    def add_service(self, structure_id: int, service: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        return dirmod.add_service(self.store, structure_id, {**(service or {}), **fields})

    def deposits(self, invoice: str | None = None) -> list[dict[str, Any]]:
        """Every deposit received (accepted or refused), optionally only those holding this invoice number."""
        return deposits.deposits(self.engine, invoice)

    def deposits_of(self, invoice_number: str) -> int:
        """How many deposits (accepted or refused) carried this invoice number."""
        return deposits.deposits_of(self.engine, invoice_number)

    def duplicate_report(self, numbers: list[str] | None = None) -> dict[str, Any]:
        """Flows refused as duplicates (allowed after an uncertain deposit) and numbers received twice (never)."""
        self.engine.tick()
        return duplicate_report(self.store, numbers)

    def flow(self, number: str) -> dict[str, Any]:
        self.engine.tick()
        return flows.flow(self.engine, number)

    def flow_file(self, number: str) -> bytes | None:
        """The deposited bytes of flow ``number``, or None (unknown flow, or ``keep_files=False``)."""
        return flows.flow_file(self.engine, number)

    def flow_embedded(self, number: str) -> dict[str, Any]:
        """The files embedded in each invoice file of flow ``number`` (``embedded.flow_embedded``)."""
        return embedded.flow_embedded(self, number)

    def invoices(self, number: str | None = None, flow_number: str | None = None) -> list[dict[str, Any]]:
        self.engine.tick()
        return invoices.invoices(self.engine, number=number, flow_number=flow_number)

    def invoice(self, chorus_id: int) -> dict[str, Any]:
        self.engine.tick()
        return invoices.invoice(self.engine, chorus_id)

    def invoice_id(self, number: str) -> int | None:
        """``identifiantFactureCPP`` of the latest invoice with this number, or None."""
        found = self.invoices(number=number)
        return found[-1]["identifiantFactureCPP"] if found else None

    def set_invoice_status(self, chorus_id: int, status: str, comment: str | None = None) -> dict[str, Any]:
        """Act as the recipient: move the invoice to ``status`` (e.g. A_RECYCLER, SUSPENDUE, REJETEE, MANDATEE)."""
        return invoice_status.set_invoice_status(self.engine, chorus_id, status, comment)

    def seed_invoices(self, count: int, **options: Any) -> dict[str, Any]:
        """Create integrated invoices in bulk (no deposit): see :func:`.seed.seed_invoices`."""
        return seed.seed_invoices(self.engine, count, **options)

    def calls(self) -> dict[str, int]:
        """Calls received per operation (AIFE names, plus ``token``), faults included."""
        return self.engine.calls()

    def reset_calls(self) -> None:
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM calls")
