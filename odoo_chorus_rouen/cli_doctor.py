"""``chorus-rouen doctor``: everything a first real deposit needs, checked, one sentence each with its fix.

Checks, in the order a new user meets them: the settings; the PISTE token (client id and secret);
the platform and the technical account (``recupererStructuresActivesPourFournisseur`` needs it);
the supplier structure found in the directory **and attached to this account**; each recipient known
on this platform, with its engagement and service-code rules and its active services (on
qualification: the test recipients the map names, each for its real recipient); the technical
account's password expiry (``consulterStructure`` of the supplier; Chorus Pro's guidance is a new
password every 424 days).

The platform's raw answers are kept as evidence, one JSON line per answer, in a log file (``--log``,
by default ``doctor.log`` beside the journal); secrets never reach it (the client masks them, and
files are replaced by their size). Exit status: 0 every check passed (warnings allowed), 1 a check
failed, 2 the doctor could not run (usage: a bad SIRET or map, missing settings).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date

from .core import recipient_map
from .core.budgets import BUDGETS, compact_siret, is_valid_siret
from .core.errors import AuthenticationError, ChorusError
from .core.platform_checks import check_recipient, check_supplier
from .core.recipient_map import shown_siret
from .core.technical_account import PASSWORD_PERIOD_DAYS, REMINDER_DAYS, days_left

__all__ = ["Doctor", "add_parser", "cmd_doctor"]

OK, WARN, FAIL = "ok", "warning", "FAILED"


def add_parser(sub, add_platform_options, env_help: str) -> None:
    p = sub.add_parser(
        "doctor",
        help="check everything a first deposit needs (token, account, supplier attached, recipients, password)",
        epilog=env_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--supplier", metavar="SIRET",
                   help="your supplier SIRET (on qualification: the test supplier of your data set; default "
                        "CHORUS_PRO_TEST_SUPPLIER there)")
    p.add_argument("--recipient", action="append", metavar="SIRET",
                   help="a recipient to check (repeatable; default: the eight budgets, or on qualification the "
                        "test recipients of the map)")
    p.add_argument("--recipient-map", action="append", metavar="REAL=TEST[:SERVICE]",
                   help="as for send (default CHORUS_PRO_RECIPIENT_MAP): the test recipients to check")
    p.add_argument("--log", metavar="FILE", help="where the raw answers go (default: doctor.log beside the journal)")
    add_platform_options(p)
    p.set_defaults(func=cmd_doctor)


def _siret_arg(raw: str, option: str) -> str:
    siret = compact_siret(raw)
    if not is_valid_siret(siret):
        from .cli import CliError

        raise CliError(f"{option} {raw}: not a valid SIRET (14 digits with a valid check digit)")
    return siret


def default_log(environ) -> str:
    from .cli import default_journal

    return os.path.join(os.path.dirname(default_journal(environ)), "doctor.log")


def cmd_doctor(args: argparse.Namespace) -> int:
    from . import cli

    environ = os.environ
    try:
        settings = cli.platform_settings(args, environ)
    except cli.CliError as err:
        cli._out(f"{FAIL:<8}settings: {err}; set them (chorus-rouen doctor --help lists the variables)")
        return cli.EXIT_ERROR
    entries = list(args.recipient_map or []) or recipient_map.split_variable(environ.get("CHORUS_PRO_RECIPIENT_MAP"))
    try:
        mapping = recipient_map.parse_map(entries)
    except ValueError as err:
        raise cli.CliError(str(err)) from None
    qualification = settings["env"] != "production"
    supplier_raw = args.supplier or (environ.get("CHORUS_PRO_TEST_SUPPLIER", "") if qualification else "")
    supplier = _siret_arg(supplier_raw, "--supplier") if supplier_raw.strip() else None
    recipients = [_siret_arg(raw, "--recipient") for raw in args.recipient or []]
    log_path = args.log or default_log(environ)
    doctor = Doctor(settings, cli.make_client(settings), mapping if qualification else None, log_path)
    try:
        doctor.run(supplier, recipients)
    finally:
        doctor.close()
    for status, text in doctor.lines:
        cli._out(f"{status:<8}{text}")
    if doctor.logged:
        cli._out(f"Raw answers of the platform: {log_path}")
    elif doctor.log_error:
        cli._out(f"{WARN:<8}the raw answers could not be kept in {log_path} ({doctor.log_error}); give --log FILE")
    return cli.EXIT_FAILED if any(status == FAIL for status, _text in doctor.lines) else cli.EXIT_OK


class Doctor:
    """The checks of one run; ``lines`` holds ``(status, sentence)`` in order."""

    def __init__(self, settings: dict, client, mapping: recipient_map.RecipientMap | None, log_path: str) -> None:
        self.settings = settings
        self.client = client
        self.mapping = mapping
        self.log_path = log_path
        self.lines: list[tuple[str, str]] = []
        self.logged = 0
        self.log_error = ""
        self._log = None
        client.on_answer = self._keep

    # -- evidence -------------------------------------------------------------------------------------
    def _keep(self, operation: str, status: int, body: dict) -> None:
        if self.log_error:
            return
        try:
            if self._log is None:
                os.makedirs(os.path.dirname(os.path.abspath(self.log_path)), exist_ok=True)
                self._log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
            record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "platform": self.settings["env"],
                      "operation": operation, "http_status": status, "answer": body}
            self._log.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.logged += 1
        except OSError as err:
            self.log_error = err.strerror or str(err)

    def close(self) -> None:
        self.client.close()
        if self._log is not None:
            self._log.close()

    def add(self, status: str, text: str) -> None:
        self.lines.append((status, text))

    # -- the checks ------------------------------------------------------------------------------------
    def run(self, supplier: str | None, recipients: list[str]) -> None:
        env = self.settings["env"]
        where = self.settings["base_url"] or env
        self.add(OK, f"settings: platform {env} ({where}), client id {self.settings['client_id']}, technical "
                     f"account {self.settings['login']}")
        attached = self._account()
        if attached is None:
            return
        structure = self._supplier(supplier, attached) or (attached[0] if attached else None)
        for siret, target in self._recipients(recipients):
            self._recipient(siret, target)
        self._password(structure)

    def _account(self):
        """Token, platform and technical account; the attached structures, or None when the run must stop."""
        login = self.settings["login"]
        try:
            attached = self.client.supplier_structures()
        except ChorusError as err:
            operation = err.params.get("operation")
            if err.code == "transport_error":
                self.add(FAIL, f"platform: cannot be reached ({err.params.get('reason') or err.message}): check "
                               "the network, or the URL of the sandbox (CHORUS_PRO_BASE_URL)")
            elif operation == "token":
                self.add(FAIL, f"access token: {err.message}: check the client id and secret "
                               "(CHORUS_PRO_CLIENT_ID, CHORUS_PRO_CLIENT_SECRET) of this platform")
            elif isinstance(err, AuthenticationError) and err.params.get("http_status") == 401:
                self.add(OK, "access token: obtained, the client id and secret are accepted")
                self.add(FAIL, f"technical account {login}: refused by Chorus Pro (wrong, expired or locked "
                               "password): check CHORUS_PRO_LOGIN and CHORUS_PRO_PASSWORD; change the password on "
                               "the Chorus Pro portal if it expired")
            elif isinstance(err, AuthenticationError):
                self.add(OK, "access token: obtained, the client id and secret are accepted")
                self.add(FAIL, f"platform: access refused ({err.message}): subscribe the PISTE application to the "
                               "Chorus Pro APIs (Factures, Structures, Transverses) on the PISTE portal")
            else:
                self.add(FAIL, f"platform: the technical account's structures could not be read ({err.message})")
            return None
        self.add(OK, "access token: obtained, the client id and secret are accepted")
        self.add(OK, f"technical account {login}: accepted by Chorus Pro")
        return attached

    def _supplier(self, supplier: str | None, attached):
        """The supplier's structure when it can be used for the password check, else None."""
        listed = ", ".join(f"{shown_siret(s.identifier)} ({s.name})" for s in attached) or "none"
        if supplier is None:
            if attached:
                self.add(WARN, f"supplier: not given; the technical account is attached to {listed}: give "
                               "--supplier SIRET to check yours")
                return attached[0]
            self.add(FAIL, "supplier: the technical account is attached to no structure: attach your company's "
                           "structure (on qualification, the test supplier of your data set) on the Chorus Pro portal")
            return None
        try:
            check = check_supplier(self.client, supplier, tuple(attached))
        except ChorusError as err:
            self.add(FAIL, f"supplier {shown_siret(supplier)}: the directory search failed ({err.message})")
            return None
        if check.structure is None and not check.attached:
            hint = ("use the test supplier of your data set (--supplier, CHORUS_PRO_TEST_SUPPLIER)"
                    if self.settings["env"] != "production"
                    else "register the company on the Chorus Pro portal and attach the technical account to it")
            self.add(FAIL, f"supplier {shown_siret(supplier)}: not on this platform: {hint}; attached to the account: "
                           f"{listed}")
            return None
        if not check.attached:
            self.add(FAIL, f"supplier {shown_siret(supplier)} ({check.name}): on Chorus Pro but not attached to the "
                           f"technical account {self.settings['login']}: attach it on the Chorus Pro portal, or use "
                           f"the account attached to it (attached: {listed})")
            return check.structure
        self.add(OK, f"supplier {shown_siret(supplier)} ({check.name}): on Chorus Pro and attached to the technical "
                     "account")
        return check.structure or next(s for s in attached if compact_siret(s.identifier) == supplier)

    def _recipients(self, given: list[str]):
        """(SIRET to check, the test target or None); the map's test recipients on qualification."""
        if given:
            return [(siret, None) for siret in given]
        if self.mapping:
            return [(real, target) for real, target in self.mapping.targets.items()]
        if self.settings["env"] != "production":
            self.add(WARN, "recipients: no --recipient-map (CHORUS_PRO_RECIPIENT_MAP): on qualification your "
                           "invoices must go to the test recipients of your data set; the eight budgets are "
                           "checked as they are")
        return [(budget.siret, None) for budget in BUDGETS]

    def _recipient(self, real: str, target) -> None:
        siret = target.siret if target else real
        who = (f"test recipient {shown_siret(siret)} for {recipient_map.describe_recipient(real)}" if target
               else f"recipient {recipient_map.describe_recipient(real)}")
        try:
            check = check_recipient(self.client, siret)
        except ChorusError as err:
            self.add(FAIL, f"{who}: the directory could not be read ({err.message})")
            return
        if not check.found:
            fix = ("map it to a test recipient of your data set (--recipient-map REAL=TEST)"
                   if self.settings["env"] != "production" and not target
                   else "check the SIRET (the buyer's purchase order gives it)")
            self.add(FAIL, f"{who}: not on this platform: {fix}")
            return
        if not check.active:
            self.add(FAIL, f"{who}: inactive on Chorus Pro: invoices to it are refused; ask the buyer which SIRET "
                           "to invoice")
            return
        needs = check.requirements
        rules = [
            "engagement number required" if needs.engagement else "engagement number not required",
            "service code required" if needs.service_code else "service code not required",
        ]
        if needs.service_or_engagement:
            rules.append("a service code or an engagement number required")
        codes = list(check.services)
        shown = ", ".join(codes[:6]) + (", ..." if len(codes) > 6 else "")
        text = f"{who}: known, {', '.join(rules)}; {len(codes)} active service(s)" + (f" ({shown})" if codes else "")
        if target and target.service_code and not check.has_service(target.service_code):
            self.add(FAIL, f"{text}; the service code {target.service_code} of the map is not among them: fix the map")
            return
        if target and needs.service_code and not target.service_code:
            self.add(FAIL, f"{text}; it requires a service code: give it in the map (REAL=TEST:SERVICE)")
            return
        self.add(OK, text)

    def _password(self, structure) -> None:
        if structure is None or not getattr(structure, "structure_id", None):
            self.add(WARN, f"technical account password: its expiry could not be read without a supplier structure; "
                           f"Chorus Pro asks for a new password every {PASSWORD_PERIOD_DAYS} days")
            return
        try:
            expiry = self.client.get_structure(structure.structure_id).technical_password_expiry
        except ChorusError as err:
            self.add(WARN, f"technical account password: its expiry could not be read ({err.message})")
            return
        if expiry is None:
            self.add(WARN, f"technical account password: Chorus Pro gives no expiry date; change it every "
                           f"{PASSWORD_PERIOD_DAYS} days (Chorus Pro's guidance) and note the date")
            return
        left = days_left(expiry, date.today())
        when = expiry.date().isoformat()
        if left < 0:
            self.add(FAIL, f"technical account password: expired on {when}: change it on the Chorus Pro portal, "
                           "then set CHORUS_PRO_PASSWORD")
        elif left <= max(REMINDER_DAYS):
            self.add(WARN, f"technical account password: expires on {when}, in {left} day(s): change it on the "
                           "Chorus Pro portal soon")
        else:
            self.add(OK, f"technical account password: expires on {when} (in {left} days)")
