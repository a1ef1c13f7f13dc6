"""The sandbox's Chorus Pro: its state, its clock and its API operations; no HTTP here.

Every public ``op_*`` method takes the decoded JSON body of one API call and returns a
:class:`.replies.Reply`; each is written in the module of its concern (:mod:`.deposits`,
:mod:`.flows`, :mod:`.invoice_search`, :mod:`.invoices`, :mod:`.invoice_status`, :mod:`.completion`,
:mod:`.structures`) and takes the engine as its first argument. The HTTP layer (:mod:`.gateway`)
adds the gateway behaviour (auth, 401/403/415, faults) and turns replies into HTTP answers.

Time is the sandbox clock (:class:`.clock.Clock`). Work that the platform does asynchronously
(processing a flow, routing an invoice to its recipient) is due at a given sandbox time and is
materialised by :meth:`Engine.tick`, which runs at the start of every call: history entries carry
the time the step was due, not the time it was noticed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.limits import MAX_DEPOSIT_SIZE
from . import completion, deposits, flows, invoice_search, invoice_status, invoices, structures
from .access import DEFAULT_CREDENTIALS, SandboxCredentials
from .analysis import CoreValidator
from .clock import Clock
from .replies import OK_TRA, Reply
from .store import Store
from .technical_account import load as load_account

__all__ = ["DEFAULT_MAX_FILE_SIZE", "Engine"]

DEFAULT_MAX_FILE_SIZE = MAX_DEPOSIT_SIZE  # one documented limit: core/limits.py


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
            flows.finalize_due(self, conn, now)
            invoice_status.run_due_steps(self, conn, now)

    # ------------------------------------------------------------------------------------------------
    # calls and counts
    # ------------------------------------------------------------------------------------------------
    def count_call(self, operation: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO calls (operation, count) VALUES (?, 1) "
                "ON CONFLICT(operation) DO UPDATE SET count = count + 1",
                (operation,),
            )

    def calls(self) -> dict[str, int]:
        return {row["operation"]: row["count"] for row in self.store.all("SELECT * FROM calls ORDER BY operation")}

    def counts(self) -> dict[str, int]:
        return {
            table: int(self.store.scalar(f"SELECT COUNT(*) FROM {table}"))  # noqa: S608
            for table in ("structures", "services", "flows", "invoices", "deposits", "tokens")
        }

    # ------------------------------------------------------------------------------------------------
    # the API operations (``gateway.ROUTES`` names them), each in the module of its concern
    # ------------------------------------------------------------------------------------------------
    def op_deposer_flux(self, body: dict[str, Any], *, incident: bool = False) -> Reply:
        return deposits.op_deposer_flux(self, body, incident=incident)

    def op_consulter_cr_detaille(self, body: dict[str, Any]) -> Reply:
        return flows.op_consulter_cr_detaille(self, body)

    def op_consulter_cr(self, body: dict[str, Any]) -> Reply:
        return flows.op_consulter_cr(self, body)

    def op_rechercher_factures(self, body: dict[str, Any]) -> Reply:
        return invoice_search.op_rechercher_factures(self, body)

    def op_consulter_facture(self, body: dict[str, Any]) -> Reply:
        return invoices.op_consulter_facture(self, body)

    def op_historique(self, body: dict[str, Any]) -> Reply:
        return invoices.op_historique(self, body)

    def op_recycler(self, body: dict[str, Any]) -> Reply:
        return invoice_status.op_recycler(self, body)

    def op_completer(self, body: dict[str, Any]) -> Reply:
        return completion.op_completer(self, body)

    def op_ajouter_fichier(self, body: dict[str, Any]) -> Reply:
        return completion.op_ajouter_fichier(self, body)

    def op_rechercher_structure(self, body: dict[str, Any]) -> Reply:
        return structures.op_rechercher_structure(self, body)

    def op_consulter_structure(self, body: dict[str, Any]) -> Reply:
        return structures.op_consulter_structure(self, body)

    def op_rechercher_services(self, body: dict[str, Any]) -> Reply:
        return structures.op_rechercher_services(self, body)

    def op_consulter_service(self, body: dict[str, Any]) -> Reply:
        return structures.op_consulter_service(self, body)

    def op_health_check(self, body: dict[str, Any]) -> Reply:
        return Reply({"codeRetour": 0, "libelle": OK_TRA, "body": "OK", "statusCodeValue": 200, "statusCode": "OK"})
