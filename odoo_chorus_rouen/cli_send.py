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
from .cli_text import printable
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


def open_journal(
    path: str, settings: dict, client_factory: Callable, settle_delay: float, *, create_folder: bool = False
):
    """The :class:`~.core.outbox.Outbox` of ``path`` scoped to the settings' platform and account.

    :param create_folder: create the missing folders of ``path`` (the default journal only: a folder
        named by the user that does not exist is a typo, refused rather than created silently).
    :raises JournalError: the path is a folder, is in a missing folder, cannot be created, or is not a journal.
    """
    from .core.outbox import Outbox, journal_scope

    journal = Path(path)
    shown = printable(path)
    if journal.is_dir():
        raise JournalError(f"journal {shown}: is a folder; give a file, e.g. --journal "
                           f"{printable(journal / 'journal.sqlite3')}")
    folder = journal.parent
    if create_folder:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise JournalError(f"journal {shown}: its folder cannot be created ({err.strerror or err})") from None
    elif not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise JournalError(f"journal {shown}: the folder {printable(folder)} {what}; create it first, or give "
                           "another --journal")
    if journal.exists() and not os.access(journal, os.R_OK | os.W_OK):
        raise JournalError(f"journal {shown}: cannot be read and written (permissions)")
    _refuse_foreign_database(path)
    endpoints = _endpoints(settings)
    scope = journal_scope(endpoints.token_url, endpoints.api_url, settings["client_id"], settings["login"])
    try:
        return Outbox(path, client_factory, settle_delay=settle_delay, scope=scope)
    except sqlite3.Error as err:
        raise JournalError(journal_failure(path, err)) from None


def journal_failure(path: str, err: sqlite3.Error) -> str:
    """One line for a journal SQLite cannot use: busy (another process), damaged, or else unusable."""
    shown, reason = printable(path), printable(err)
    if isinstance(err, sqlite3.OperationalError) and "locked" in str(err):
        return (f"journal {shown}: another chorus-rouen process has kept it busy for 30 s ({reason}); run the "
                "command again once it is done")
    if isinstance(err, sqlite3.OperationalError) and "decode" not in str(err):
        return f"journal {shown}: cannot be used ({reason}); check the disk and its permissions"
    return (f"journal {shown}: is damaged ({reason}); keep it aside for what it recorded and give another "
            "--journal (before sending again an invoice it had deposited, check it: chorus-rouen track --invoice "
            "NUMBER)")


def _refuse_foreign_database(path: str) -> None:
    """A file that exists must be a journal (or empty): never write our tables into someone else's file."""
    shown = printable(path)
    try:
        tables = sqlite_tables(path)
    except NotSQLiteError:
        raise JournalError(f"journal {shown}: is not a chorus-rouen journal (not an SQLite file); give another "
                           "--journal") from None
    except sqlite3.Error as err:
        raise JournalError(journal_failure(path, err)) from None
    if tables and "items" not in tables:
        raise JournalError(f"journal {shown}: is an SQLite database but not a chorus-rouen journal; give another "
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
    named = bool(args.journal or os.environ.get("CHORUS_PRO_JOURNAL"))
    journal_path = args.journal or ui.default_journal()
    try:
        outbox = open_journal(journal_path, settings, lambda: ui.make_client(settings), args.settle_delay,
                              create_folder=not named)
    except JournalError as err:
        raise ui.CliError(str(err)) from None
    checks = _CheckClient(lambda: ui.make_client(settings))
    try:
        return _send(args, files, outbox, settings, ui, validate, mapper, checks)
    except sqlite3.Error as err:  # damaged while in use (a page or a text that cannot be read)
        raise ui.CliError(journal_failure(journal_path, err)) from None
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
        ui._out(f"{printable(path)}: not sent (fix the errors above, or --force to let Chorus Pro judge)")
        return ui.EXIT_FAILED, None, report, ""
    try:
        prepared = mapper.prepare(data, report.facts, checks)
    except MapRefusal as err:
        ui._err(f"{printable(path)}: not sent: {printable(str(err))}")
        return ui.EXIT_ERROR, None, report, ""
    if not prepared.note:
        return ui.EXIT_OK, data, report, ""
    report = validate(prepared.data, layout=args.layout)  # the deposited file is the mapped one: validated as usual
    if not report.ok and not args.force:
        ui._print_report(path, report)
        ui._out(f"{printable(path)}: not sent once mapped to the test data set (fix the errors above)")
        return ui.EXIT_FAILED, None, report, ""
    return ui.EXIT_OK, prepared.data, report, prepared.note


def _add_pending(outbox, numbers: dict[str, str], settings: dict, ui) -> None:
    """``--pending``: what earlier runs left due on this platform and account joins the run (said first)."""
    due = [item for item in outbox.due() if item.number not in numbers]
    where = describe_scope(settings)
    if due:
        ui._out(f"Sending {len(due)} pending invoice(s) to {where}: " + ", ".join(printable(i.number) for i in due))
    else:
        ui._out(f"No pending invoice for {where}")
    for item in outbox.items(("queued", "sending")):
        if item.number not in numbers and item not in due:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.next_try))
            ui._out(f"  {printable(item.number)} waits until {when} ({printable(item.error)}); name its file "
                    "to retry it now")
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
            ui._err(f"{printable(path)}: {printable(err.message)}")
            worst = ui.EXIT_ERROR
            continue
        outbox.retry_now(item.number)
        numbers[item.number] = path
        if note:
            notes[item.number] = note
    if args.pending:
        _add_pending(outbox, numbers, settings, ui)
    # Deposited by an earlier run and not integrated then: one look at each flow (a duplicate refusal
    # there confirms a deposit left without answer). What this run deposits is not looked at again.
    earlier = [number for number in numbers if outbox.get(number).state == "sent"]
    outbox.send_due(numbers=list(numbers))
    outbox.follow(earlier)
    auth_refused = False
    account_check = None  # the dedicated check, made once for the run when a call was answered 401
    for number, path in numbers.items():
        item = outbox.get(number)
        if number in notes:
            ui._out(f"{printable(path)}: {printable(notes[number])}")
        status, line, to_stderr = _outcome(outbox, item, printable(path), ui)
        if line is None:  # the gateway refused a call: the dedicated check says whether the credentials are wrong
            account_check = account_check or _check_account(settings, ui, item.supplier_siret)
            refused, reason = _authentication_line(item, account_check)
            auth_refused = auth_refused or refused
            line = f"{printable(path)}: invoice {printable(number)} not deposited: {printable(reason)}"
        (ui._err if to_stderr else ui._out)(line)
        worst = max(worst, status)
    if auth_refused:
        ui._err(f"configuration: Chorus Pro ({describe_scope(settings)}) refused the credentials: {AUTH_FIX}")
    return worst


def _outcome(outbox, item, path: str, ui) -> tuple[int, str | None, bool]:
    """``(exit status, line, to stderr)``: what became of one named invoice in this run.

    The line is None for a call the gateway refused: the caller words it after the dedicated check.
    """
    number = printable(item.number)
    error = printable(item.error) if item.error else ""
    holder = outbox.claim_holder(item.number) if item.state in ("queued", "sending") else None
    if holder is not None:
        worker, until = holder
        when = time.strftime("%H:%M:%S", time.localtime(until))
        return ui.EXIT_ERROR, (
            f"{path}: invoice {number} not sent by this run: another chorus-rouen process (pid "
            f"{worker.split('-')[0]}) is sending it from the same journal, and holds it until {when} at the latest. "
            "Run the same command again after that: it deposits the invoice only if that process did not."
        ), False
    if item.refused_flow and item.chorus_id:
        return ui.EXIT_OK, (
            f"{path}: invoice {number}: Chorus Pro already had it from an earlier deposit (flow "
            f"{printable(item.flow_number)}, Chorus Pro ID {item.chorus_id}); the new deposit (flow "
            f"{printable(item.refused_flow)}) was refused as a duplicate, as expected. Nothing to do: it is "
            f"followed through flow {printable(item.flow_number)}."
        ), False
    if item.refused_flow and item.state == "sent":
        return ui.EXIT_OK, (
            f"{path}: invoice {number}: the new deposit (flow {printable(item.refused_flow)}) was refused as a "
            "duplicate: Chorus Pro already has this invoice from the earlier deposit that got no answer, and does "
            "not list it yet. Nothing to do; name the file again later to see it followed."
        ), False
    if item.state == "rejected" and not item.chorus_id:
        flow = printable(item.flow_number)
        return ui.EXIT_FAILED, f"{path}: invoice {number}: Chorus Pro rejected flow {flow}: {error}", False
    if item.state in _DEPOSITED and item.flow_number:
        return ui.EXIT_OK, f"{path}: invoice {number} deposited as flow {printable(item.flow_number)}", False
    if item.error_code == "authentication_error":
        return ui.EXIT_ERROR, None, True
    if item.state == "sending":
        return ui.EXIT_ERROR, (
            f"{path}: invoice {number}: no answer from Chorus Pro, which may have recorded it"
            + (f" ({error})" if error else "")
            + ". Run the same command again later: it asks Chorus Pro before depositing again."
        ), False
    if item.state == "queued":
        return ui.EXIT_ERROR, (
            f"{path}: invoice {number} not deposited: {error or 'not sent yet'}. Name the file again to retry now "
            "(send --pending retries what is left due)"
        ), False
    return ui.EXIT_ERROR, f"{path}: invoice {number} not deposited: {error}", True


def _check_account(settings: dict, ui, siret: str | None):
    """The dedicated check of the credentials (``core.technical_account.check_account``): a new token, then a
    cheap read with the technical account. A call answered 401 is never taken alone for refused credentials."""
    from .core.technical_account import check_account

    client = ui.make_client(settings)
    try:
        return check_account(client, siret)
    finally:
        client.close()


def _authentication_line(item, check) -> tuple[bool, str]:
    """``(credentials refused, what to tell)`` for an invoice whose deposit the gateway refused.

    ``item.error`` (the client's words, "refused the credentials twice") is shown only when the check confirms it.
    """
    if check.refused:
        return True, (f"Chorus Pro refused the technical account: a check with a new access token "
                      f"({check.operation}) was answered {check.answer}")
    if check.operation == "token":
        return True, f"Chorus Pro refused the credentials ({item.error})"  # PISTE refused the application itself
    retry = "Name the file again to retry now (send --pending retries what is left due)"
    if check.passed:
        return False, ("the gateway refused the deposit, but a check of the credentials right after, with a new "
                       f"access token, passed. {retry}")
    return False, (f"the gateway refused the deposit, and the credentials could not be checked right after "
                   f"({check.answer}). {retry}")
