"""A tiny PDF writer (deposit reports of consulterCR, visual part of sample Factur-X files, hostile files)."""

from __future__ import annotations

__all__ = ["pdf_file", "simple_pdf"]


def _escape(text: str) -> str:
    raw = text.encode("cp1252", "replace").decode("latin-1")
    return raw.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def simple_pdf(lines: list[str], title: str = "") -> bytes:
    """One A4 page with the given lines in Helvetica, as valid PDF 1.4 bytes."""
    text_ops = ["BT", "/F1 11 Tf", "14 TL", "50 800 Td"]
    for line in lines:
        text_ops.append(f"({_escape(line)}) Tj T*")
    text_ops.append("ET")
    stream = "\n".join(text_ops).encode("latin-1")
    info = f"<< /Title ({_escape(title)}) /Producer (odoo_chorus_rouen sandbox) >>" if title else "<< >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        info.encode("latin-1"),
    ]
    return pdf_file(objects, version=b"1.4", trailer=b"/Info %d 0 R" % len(objects))


def pdf_file(objects: list[bytes], *, version: bytes = b"1.7", trailer: bytes = b"") -> bytes:
    """A PDF of these object bodies (object 1 is the catalog) with its cross-reference table.

    :param trailer: more trailer entries (e.g. ``b"/Info 6 0 R"``).
    """
    out = bytearray(b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    return bytes(out)
