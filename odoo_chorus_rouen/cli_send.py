"""``chorus-rouen send``: the journal, scoped to one platform and account, and what a run deposits.

The journal (one SQLite file) keeps every invoice the command was asked to send, *per platform and
account*: the token URL, the API URL, the PISTE client id and the technical login
(:func:`~.core.outbox.journal_scope`). A deposit is only reported for the platform and account that
received it; the same invoice sent to another platform is deposited there.

On a platform other than production, each file is first prepared for the test data set
(:mod:`.cli_recipient_map`: ``--recipient-map``, ``--test-supplier``).

A run deposits the files it is given and nothing else; ``--pending`` deposits what earlier runs
left due on the same platform and account, after saying where. Naming a file again makes it due
now (the back-off is for unattended retries), except a deposit left without answer, for which
Chorus Pro is always asked first.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from .cli_recipient_map import MapRefusal, mapper_from
from .core.errors import InputError
from .core.sqlite_files import NotSQLiteError, sqlite_tables

__all__ = ["describe_scope", "open_journal", "run_send"]

#: Outbox states where the invoice is on Chorus Pro.
_DEPOSITED = ("sent", "delivered", "action", "paid", "rejected", "cancelled")

AUTH_FIX = (
    "check the PISTE client id and secret (CHORUS_PRO_CLIENT_ID, CHORUS_PRO_CLIENT_SECRET) and the technical "
    "account login and password (CHORUS_PRO_LOGIN, CHORUS_PRO_PASSWORD) of this platform, then run the same "
    "command again"
)


class JournalError(Exception):
    """The journal cannot be opened: one line for the user (exit status 2)."""


def describe_scope(settings: dict) -> str:
    """Where a run deposits, in words: platform, API URL, client id and login (never a secret)."""
    endpoints = _endpoints(settings)
    platform = settings["env"] if settings["env"] != "sandbox" else "sandbox"
    return (
        f"{platform} {endpoints.api_url} (client id {settings['client_id']}, technical login {settings['login']})"
    )


def _endpoints(settings: dict):
    from .core.auth import Endpoints, Environment

    if settings["env"] == "sandbox":
        return Endpoints.from_base_url(settings["base_url"])
    return Endpoints.for_environment(Environment(settings["env"]))


def open_journal(path: str, settings: dict, client_factory: Callable, settle_delay: float):
    """The :class:`~.core.outbox.Outbox` of ``path`` scoped to the settings' platform and account.

    :raises JournalError: the path is a folder, cannot be created, or is not a journal.
    """
    from .core.outbox import Outbox, journal_scope

    journal = Path(path)
    if journal.is_dir():
        raise JournalError(f"journal {path}: is a folder; give a file, e.g. --journal {journal / 'journal.sqlite3'}")
    try:
        journal.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise JournalError(f"journal {path}: its folder cannot be created ({err.strerror or err})") from None
    if journal.exists() and not os.access(journal, os.R_OK | os.W_OK):
        raise JournalError(f"journal {path}: cannot be read and written (permissions)")
    _refuse_foreign_database(path)
    endpoints = _endpoints(settings)
    scope = journal_scope(endpoints.token_url, endpoints.api_url, settings["client_id"], settings["login"])
    try:
        return Outbox(path, client_factory, settle_delay=settle_delay, scope=scope)
    except sqlite3.Error as err:
        raise JournalError(f"journal {path}: cannot be opened ({err}); give another --journal") from None


def _refuse_foreign_database(path: str) -> None:
    """A file that exists must be a journal (or empty): never write our tables into someone else's file."""
    try:
        tables = sqlite_tables(path)
    except NotSQLiteError:
        raise JournalError(f"journal {path}: is not a chorus-rouen journal (not an SQLite file); give another "
                           "--journal") from None
    except sqlite3.Error as err:
        raise JournalError(f"journal {path}: cannot be opened ({err}); give another --journal") from None
    if tables and "items" not in tables:
        raise JournalError(f"journal {path}: is an SQLite database but not a chorus-rouen journal; give another "
                           "--journal")


def run_send(args: argparse.Namespace, settings: dict, ui) -> int:
    """The ``send`` command; ``ui`` is :mod:`.cli` (its output, reading and error helpers)."""
    from .core.validation import validate

    if not args.files and not args.pending:
        raise ui.CliError("give the invoice files to send, or --pending for what earlier runs left due")
    try:
        mapper = mapper_from(args, settings, os.environ)
    except ValueError as err:
        raise ui.CliError(str(err)) from None
    files = [(path, ui._read_file(path)) for path in args.files]
    journal_path = args.journal or ui.default_journal()
    try:
        outbox = open_journal(journal_path, settings, lambda: ui.make_client(settings), args.settle_delay)
    except JournalError as err:
        raise ui.CliError(str(err)) from None
    checks = _CheckClient(lambda: ui.make_client(settings))
    try:
        return _send(args, files, outbox, settings, ui, validate, mapper, checks)
    finally:
        outbox.close()
        checks.close()


class _CheckClient:
    """The client of the checks made before the deposits (created on first use only)."""

    def __init__(self, factory: Callable) -> None:
        self._factory = factory
        self._client = None

    def __getattr__(self, name: str):
        if self._client is None:
            self._client = self._factory()
        return getattr(self._client, name)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _prepare(args, path, data, mapper, checks, ui, validate):
    """Validate one file and prepare it for the platform: ``(exit status, bytes or None, report, note)``."""
    report = validate(data, layout=args.layout)
    if not report.ok and not args.force:
        ui._print_report(path, report)
        ui._out(f"{path}: not sent (fix the errors above, or --force to let Chorus Pro judge)")
        return ui.EXIT_FAILED, None, report, ""
    try:
        prepared = mapper.prepare(data, report.facts, checks)
    except MapRefusal as err:
        ui._err(f"{path}: not sent: {err}")
        return ui.EXIT_ERROR, None, report, ""
    if not prepared.note:
        return ui.EXIT_OK, data, report, ""
    report = validate(prepared.data, layout=args.layout)  # the deposited file is the mapped one: validated as usual
    if not report.ok and not args.force:
        ui._print_report(path, report)
        ui._out(f"{path}: not sent once mapped to the test data set (fix the errors above)")
        return ui.EXIT_FAILED, None, report, ""
    return ui.EXIT_OK, prepared.data, report, prepared.note


def _add_pending(outbox, numbers: dict[str, str], settings: dict, ui) -> None:
    """``--pending``: what earlier runs left due on this platform and account joins the run (said first)."""
    due = [item for item in outbox.due() if item.number not in numbers]
    where = describe_scope(settings)
    if due:
        ui._out(f"Sending {len(due)} pending invoice(s) to {where}: " + ", ".join(i.number for i in due))
    else:
        ui._out(f"No pending invoice for {where}")
    for item in outbox.items(("queued", "sending")):
        if item.number not in numbers and item not in due:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.next_try))
            ui._out(f"  {item.number} waits until {when} ({item.error}); name its file to retry it now")
    for item in due:
        numbers[item.number] = f"(pending) {item.filename}"


def _send(args, files, outbox, settings, ui, validate, mapper, checks) -> int:
    worst = ui.EXIT_OK
    numbers: dict[str, str] = {}
    notes: dict[str, str] = {}
    if mapper.production_note():
        ui._out(mapper.production_note())
    for path, data in files:
        status, data, report, note = _prepare(args, path, data, mapper, checks, ui, validate)
        worst = max(worst, status)
        if data is None:
            continue
        try:
            item = outbox.add(data, facts=report.facts)
        except InputError as err:
            ui._err(f"{path}: {err.message}")
            worst = ui.EXIT_ERROR
            continue
        outbox.retry_now(item.number)
        numbers[item.number] = path
        if note:
            notes[item.number] = note
    if args.pending:
        _add_pending(outbox, numbers, settings, ui)
    outbox.send_due(numbers=list(numbers))
    auth_refused = False
    for number, path in numbers.items():
        item = outbox.get(number)
        if number in notes:
            ui._out(f"{path}: {notes[number]}")
        if item.state in _DEPOSITED and item.flow_number:
            ui._out(f"{path}: invoice {number} deposited as flow {item.flow_number}")
        elif item.error_code == "authentication_error":
            auth_refused = True
            ui._err(f"{path}: invoice {number} not deposited: Chorus Pro refused the credentials ({item.error})")
            worst = max(worst, ui.EXIT_ERROR)
        elif item.state == "sending":
            ui._out(
                f"{path}: invoice {number}: no answer from Chorus Pro, which may have recorded it "
                f"({item.error}). Run the same command again later: it asks Chorus Pro before depositing again."
            )
            worst = max(worst, ui.EXIT_ERROR)
        elif item.state == "queued":
            ui._out(
                f"{path}: invoice {number} not deposited: {item.error}. Name the file again to retry now "
                "(send --pending retries what is left due)"
            )
            worst = max(worst, ui.EXIT_ERROR)
        else:
            ui._err(f"{path}: invoice {number} not deposited: {item.error}")
            worst = max(worst, ui.EXIT_ERROR)
    if auth_refused:
        ui._err(f"configuration: Chorus Pro ({describe_scope(settings)}) refused the credentials: {AUTH_FIX}")
    return worst
