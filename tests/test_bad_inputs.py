"""Bad input never makes ``chorus-rouen`` print a traceback: one clear line, a documented exit status.

Also: files are read through validation's size-checked path, and what is compressed (the XML
inside a Factur-X PDF, the members of a ``.tar.gz`` flow) is unpacked with a cap.
"""

import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tracemalloc
import zlib
from contextlib import closing
from pathlib import Path

import pytest

from odoo_chorus_rouen import cli
from odoo_chorus_rouen.core.errors import InputError
from odoo_chorus_rouen.core.limits import MAX_DEPOSIT_SIZE, MAX_UNPACKED_SIZE
from odoo_chorus_rouen.core.validation import Format, extract_xml, validate
from odoo_chorus_rouen.sandbox.archive import split_archive as _split_archive

ROOT = Path(__file__).resolve().parent.parent
CREDS = {
    "CHORUS_PRO_BASE_URL": "http://127.0.0.1:9",
    "CHORUS_PRO_CLIENT_ID": "id",
    "CHORUS_PRO_CLIENT_SECRET": "secret",
    "CHORUS_PRO_LOGIN": "TECH_1_x@cpro.fr",
    "CHORUS_PRO_PASSWORD": "password",
}


def bomb_pdf(unpacked: int) -> bytes:
    """A Factur-X-looking PDF whose factur-x.xml (FlateDecode) unpacks to ``unpacked`` bytes."""
    packer = zlib.compressobj(9)
    parts = [packer.compress(b'<?xml version="1.0"?><rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:'
                             b'data:standard:CrossIndustryInvoice:100"><!--')]
    parts.append(packer.flush(zlib.Z_FULL_FLUSH))
    # After a full flush nothing refers back: one compressed MB repeated is a valid stream (and quick).
    block = packer.compress(b" " * (1 << 20)) + packer.flush(zlib.Z_FULL_FLUSH)
    parts += [block] * (unpacked >> 20)
    parts += [packer.compress(b"--></rsm:CrossIndustryInvoice>"), packer.flush()]
    stream = b"".join(parts)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(factur-x.xml) 4 0 R] >> >> "
        b"/AF [4 0 R] >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /Type /Filespec /F (factur-x.xml) /UF (factur-x.xml) /AFRelationship /Data /EF << /F 5 0 R >> >>",
        b"<< /Type /EmbeddedFile /Subtype /text#2Fxml /Filter /FlateDecode /Length %d >>\nstream\n" % len(stream)
        + stream
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# --------------------------------------------------------------------------------------------
# Point 5: bounded decompression
# --------------------------------------------------------------------------------------------


def test_a_pdf_whose_xml_unpacks_to_1_5_gb_is_refused_in_bounded_memory():
    data = bomb_pdf(1536 << 20)
    assert len(data) < 2 * 1024 * 1024  # ~1.5 MB on disk
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as err:
            extract_xml(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.value.code == "file_too_large"
    assert "unpacks to more than 10.0 MB" in err.value.message
    assert peak < 4 * MAX_DEPOSIT_SIZE  # was 3 GB with pypdf 5.x
    report = validate(data)
    assert not report.ok
    assert any("unpacks to more than" in finding.message for finding in report.findings)


def test_a_small_embedded_xml_is_still_read():
    fmt, xml = extract_xml(bomb_pdf(1 << 20))
    assert fmt is Format.FACTURX_PDF
    assert len(xml) > 1 << 20 and xml.endswith(b"--></rsm:CrossIndustryInvoice>")


def test_validate_command_refuses_the_bomb_with_its_findings(tmp_path, capsys):
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(bomb_pdf(200 << 20))
    assert cli.main(["validate", str(bomb)]) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out and "unpacks to more than 10.0 MB" in out


def _tar_gz(members: list[tuple[str, int]]) -> bytes:
    """A .tar.gz whose members are ``size`` zero bytes each (streamed: never in memory)."""

    class Zeros(io.RawIOBase):
        def __init__(self, size):
            self.left = size

        def readable(self):
            return True

        def readinto(self, buffer):
            count = min(len(buffer), self.left)
            buffer[:count] = b"\0" * count
            self.left -= count
            return count

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=1) as archive:
        for name, size in members:
            info = tarfile.TarInfo(name)
            info.size = size
            archive.addfile(info, io.BufferedReader(Zeros(size)))
    return out.getvalue()


def test_sandbox_refuses_a_flow_member_over_the_limit_before_unpacking_it():
    data = _tar_gz([("invoice.xml", 200 << 20)])
    tracemalloc.start()
    try:
        members, problem = _split_archive("flow.tar.gz", data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert members == [] and "dépasse les limites" in problem
    assert peak < 2 * MAX_DEPOSIT_SIZE


def test_sandbox_caps_the_total_unpacked_size_of_a_flow():
    count = MAX_UNPACKED_SIZE // (9 << 20) + 1
    members, problem = _split_archive("flow.tgz", _tar_gz([(f"f{n}.xml", 9 << 20) for n in range(count)]))
    assert members == [] and f"{MAX_UNPACKED_SIZE // 2**20} Mo décompressés" in problem
    members, problem = _split_archive("flow.tgz", _tar_gz([("a.xml", 1000), ("b.xml", 2000)]))
    assert problem is None and [(name, len(data)) for name, data in members] == [("a.xml", 1000), ("b.xml", 2000)]


def test_the_sandbox_and_validation_share_one_limit():
    from odoo_chorus_rouen.core import validation_input
    from odoo_chorus_rouen.sandbox import engine

    assert validation_input.DEFAULT_MAX_SIZE == engine.DEFAULT_MAX_FILE_SIZE == MAX_DEPOSIT_SIZE == 10 * 1024 * 1024


def test_a_doctype_after_the_first_64_kb_gets_the_doctype_message():
    from odoo_chorus_rouen.core.validation_input import parse_xml

    for xml in (
        b"<?xml version='1.0'?>\n<!--" + b"a" * 70000 + b"--><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;&b;</x>",
        b"<!--" + b"a" * 70000 + b'--><!DOCTYPE x SYSTEM "http://example.org/x.dtd"><x/>',
    ):
        with pytest.raises(InputError) as err:
            parse_xml(xml)
        assert err.value.code in ("xml_doctype", "xml_entities"), err.value.message
        assert "DOCTYPE" in err.value.message and "damaged" not in err.value.message


# --------------------------------------------------------------------------------------------
# Point 4: every bad input through the real entry point
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def entry_point():
    script = shutil.which("chorus-rouen") or shutil.which("chorus-rouen", path=os.path.dirname(sys.executable))
    if not script:
        pytest.skip("the chorus-rouen script is not installed (pip install -e .)")
    return script


def _bad_inputs(tmp: Path) -> list[tuple[str, list[str], int, str]]:
    huge = tmp / "huge_invoice.pdf"
    with open(huge, "wb") as handle:
        handle.truncate(2 * 1024**3)  # sparse: 2 GB that take no disk space
    not_a_db = tmp / "notes.txt"
    not_a_db.write_text("not a database\n")
    foreign = tmp / "other_program.sqlite3"
    with closing(sqlite3.connect(foreign)) as db:
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT)")
        db.commit()
    invoice = str(ROOT / "data" / "invoices" / "cii_eau_invoice.xml")
    readme = str(ROOT / "README.rst")
    return [
        ("validate a huge sparse file", ["validate", str(huge)], 2, "at most 10.0 MB is accepted"),
        ("send a huge sparse file", ["send", str(huge)], 2, "at most 10.0 MB is accepted"),
        ("sandbox --port 99999", ["sandbox", "--port", "99999"], 2, "--port must be between 0 and 65535"),
        ("sandbox --port -1", ["sandbox", "--port", "-1"], 2, "--port must be between 0 and 65535"),
        ("sandbox --state README.rst", ["sandbox", "--state", readme], 2, "is not a sandbox state file"),
        ("sandbox --state a folder", ["sandbox", "--state", str(tmp)], 2, "is a folder"),
        ("demo --state README.rst", ["demo", "--state", readme], 2, "is not a sandbox state file"),
        ("send --journal a folder", ["send", "--journal", str(tmp), invoice], 2, "is a folder"),
        ("send --journal a non-database file", ["send", "--journal", str(not_a_db), invoice], 2,
         "is not a chorus-rouen journal"),
        ("send --journal another program's SQLite file", ["send", "--journal", str(foreign), invoice], 2,
         "is not an outbox journal"),
        ("send --journal an impossible path", ["send", "--journal", str(not_a_db / "sub" / "j.sqlite3"), invoice],
         2, "its folder cannot be created"),
        ("track --timeout -1", ["track", "CPP1", "--timeout", "-1"], 2, "more than 0 and at most 3600 seconds"),
        ("track --timeout 0", ["track", "CPP1", "--timeout", "0"], 2, "more than 0 and at most 3600 seconds"),
        ("track --timeout inf", ["track", "CPP1", "--timeout", "inf"], 2, "more than 0 and at most 3600 seconds"),
    ]


def test_every_bad_input_is_one_line_and_a_documented_exit_status(entry_point, tmp_path):
    env = {**CREDS, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
           "HOME": str(tmp_path), "CHORUS_PRO_JOURNAL": str(tmp_path / "journal.sqlite3")}
    failures = []
    for label, argv, status, words in _bad_inputs(tmp_path):
        result = subprocess.run([entry_point, *argv], capture_output=True, text=True, timeout=120, env=env)
        lines = result.stderr.strip().splitlines()
        if "Traceback" in result.stderr + result.stdout:
            failures.append(f"{label}: traceback\n{result.stderr}")
        elif result.returncode != status:
            failures.append(f"{label}: exit {result.returncode}, expected {status}: {result.stderr}")
        elif len(lines) != 1 or words not in lines[0]:
            failures.append(f"{label}: expected one line with {words!r}, got {lines!r}")
    assert not failures, "\n".join(failures)


def test_the_timeout_option_is_no_longer_silently_replaced():
    args = cli.build_parser().parse_args(["track", "F", "--timeout", "0.5"])
    assert cli.platform_settings(args, environ=CREDS)["timeout"] == 0.5
    args = cli.build_parser().parse_args(["track", "F", "--timeout", "0"])
    with pytest.raises(cli.CliError, match="more than 0"):
        cli.platform_settings(args, environ=CREDS)


# --------------------------------------------------------------------------------------------
# Point 6: the sandbox's control API refuses what a web page of another site can send
# --------------------------------------------------------------------------------------------


def test_control_api_refuses_cross_site_form_posts():
    import requests

    from odoo_chorus_rouen.sandbox import SandboxServer

    with SandboxServer() as sandbox:
        seeded = sandbox.seed_invoices(1)
        before = sandbox.state()["counts"]
        forms = ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", None)
        for content_type in forms:
            headers = {"Content-Type": content_type} if content_type else {}
            answer = requests.post(sandbox.url + "/sandbox/reset", data=b'{"directory": true}', headers=headers,
                                   timeout=5)
            assert answer.status_code == 415, content_type
            assert "application/json" in answer.json()["error"]
        assert sandbox.state()["counts"] == before  # nothing was reset
        assert requests.post(sandbox.url + "/sandbox/reset", json={}, timeout=5).status_code == 200
        assert seeded["count"] == 1
