"""Chorus Pro's limits for attached files: every problem at once, in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from odoo_chorus_rouen.core.attachments import (
    ALLOWED_EXTENSIONS,
    MAX_FILE_SIZE,
    MAX_NAME_LENGTH,
    MAX_TOTAL_SIZE,
    AttachmentProblem,
    check_attachment,
    check_attachments,
    mime_type,
)

MB = 1024 * 1024
SANDBOX_README = Path(__file__).resolve().parent.parent / "odoo_chorus_rouen" / "sandbox" / "README.rst"


def codes(problems: list[AttachmentProblem]) -> list[str]:
    return [problem.code for problem in problems]


def test_usual_supporting_documents_pass():
    for name in ("bon-de-livraison.pdf", "Attestation service fait.PDF", "heures.xlsx", "photo.JPG", "pv.odt"):
        assert check_attachment(name, 300_000) == [], name


def test_a_12_mb_file_is_refused_in_words():
    (problem,) = check_attachment("releve-travaux.pdf", 12 * MB)
    assert problem.code == "file_too_large"
    assert problem.filename == "releve-travaux.pdf"
    assert str(problem) == "releve-travaux.pdf: the file weighs 12.0 MB; Chorus Pro accepts at most 10.0 MB per file."


def test_size_limit_is_inclusive():
    assert check_attachment("a.pdf", MAX_FILE_SIZE) == []
    assert codes(check_attachment("a.pdf", MAX_FILE_SIZE + 1)) == ["file_too_large"]


def test_an_exe_is_refused_naming_the_accepted_extensions():
    (problem,) = check_attachment("setup.exe", 1000)
    assert problem.code == "extension_not_allowed"
    assert problem.params["extension"] == "exe"
    assert ".pdf" in str(problem) and ".xlsx" in str(problem) and "setup.exe" in str(problem)


def test_a_name_without_extension_is_refused():
    assert codes(check_attachment("README", 10)) == ["extension_missing"]
    assert codes(check_attachment(".pdf", 10)) == ["extension_missing"]
    assert codes(check_attachment("  ", 10)) == ["name_missing"]


def test_name_length_counts_the_extension():
    assert check_attachment("x" * (MAX_NAME_LENGTH - 4) + ".pdf", 1) == []
    (problem,) = check_attachment("x" * (MAX_NAME_LENGTH - 3) + ".pdf", 1)
    assert problem.code == "name_too_long" and problem.params["length"] == 51


def test_every_problem_of_one_file_at_once():
    name = "y" * 60 + ".exe"
    assert codes(check_attachment(name, 11 * MB)) == ["extension_not_allowed", "name_too_long", "file_too_large"]


def test_every_problem_of_a_set_each_file_then_the_total():
    files = [("ok.pdf", 9 * MB)] * 13 + [("bad.exe", 2 * MB), ("big.pdf", 11 * MB)]
    problems = check_attachments(files)
    assert codes(problems) == ["extension_not_allowed", "file_too_large", "total_too_large"]
    assert [p.filename for p in problems] == ["bad.exe", "big.pdf", ""]
    assert problems[-1].params["count"] == 15
    assert "Together the 15 files weigh 130.0 MB" in str(problems[-1])


def test_total_limit_is_inclusive():
    assert check_attachments([("a.pdf", MAX_TOTAL_SIZE)]) != []  # over the per-file limit only
    assert codes(check_attachments([("a.pdf", MAX_TOTAL_SIZE)])) == ["file_too_large"]
    exact = [("a.pdf", MAX_FILE_SIZE)] * 11 + [("b.pdf", MAX_TOTAL_SIZE - 11 * MAX_FILE_SIZE)]
    assert check_attachments(exact) == []
    assert codes(check_attachments([*exact, ("c.txt", 1)])) == ["total_too_large"]


def test_no_files_no_problem():
    assert check_attachments([]) == []
    assert check_attachments(iter([("a.pdf", 1)])) == []


def test_problems_are_frozen_and_messages_are_percent_style():
    (problem,) = check_attachment("a.exe", 1)
    with pytest.raises(AttributeError):
        problem.code = "other"  # type: ignore[misc]
    assert problem.message % problem.params == str(problem)
    assert "%(" in problem.message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.pdf", "application/pdf"),
        ("A.PNG", "image/png"),
        ("b.jpeg", "image/jpeg"),
        ("c.csv", "text/csv"),
        ("d.xml", "application/xml"),
        ("e.zip", "application/zip"),
        ("f.ods", "application/vnd.oasis.opendocument.spreadsheet"),
        ("g.exe", "application/octet-stream"),
        ("noext", "application/octet-stream"),
    ],
)
def test_mime_type(name, expected):
    assert mime_type(name) == expected


def test_every_allowed_extension_has_a_real_mime_type():
    assert len(ALLOWED_EXTENSIONS) == 35
    for extension in ALLOWED_EXTENSIONS:
        assert mime_type(f"file.{extension}") != "application/octet-stream", extension


def test_limits_are_sourced_in_the_sandbox_readme():
    text = SANDBOX_README.read_text(encoding="utf-8")
    section = text.split("Attached files", 1)[1]
    for needle in ("50 characters", "10 MB", "118 MB", "CHORUS_ALLOWED_FORMATS", "[S]"):
        assert needle in section, needle
