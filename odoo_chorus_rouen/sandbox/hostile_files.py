"""Hostile Factur-X files made to order, for the tests and benches of the bad-input limits.

Each is small on disk and built here (nothing multi-MB is committed):

* :func:`looping_name_tree_pdf`: about 9 KB; its ``/EmbeddedFiles`` name tree lists itself three
  times in its ``/Kids`` (a walk without a visited set never ends and grows without bound);
* :func:`many_attachments_pdf`: a valid ``factur-x.xml`` and ``count`` attachments that each unpack
  to just under the 10 MB a file (2.5 MB on disk for 250 of them, 2.5 GB unpacked);
* :func:`looping_pages_pdf`: a page tree whose ``/Kids`` refers back to the root.

>>> data = looping_name_tree_pdf(b"<x/>")
>>> data.startswith(b"%PDF-1.7") and b"/Kids [6 0 R 6 0 R 6 0 R]" in data
True
"""

from __future__ import annotations

import zlib

from ..core.limits import MAX_DEPOSIT_SIZE
from .pdf import pdf_file
from .sample_invoices import make_cii

__all__ = ["looping_name_tree_pdf", "looping_pages_pdf", "many_attachments_pdf"]

_XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
    b'xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" '
    b'xmlns:fx="urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" pdfaid:part="3" pdfaid:conformance="B" '
    b'fx:DocumentType="INVOICE" fx:DocumentFileName="factur-x.xml" fx:Version="1.0" '
    b'fx:ConformanceLevel="EN 16931"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def _stream(dictionary: bytes, data: bytes) -> bytes:
    return dictionary[:-2] + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _zeros_deflated(size: int) -> bytes:
    """``size`` zero bytes deflated, without ever holding them (about 1 KB per MB)."""
    packer = zlib.compressobj(9)
    block = 1 << 20
    parts = [packer.compress(b"\0" * block) for _ in range(size // block)]
    parts += [packer.compress(b"\0" * (size % block)), packer.flush()]
    return b"".join(parts)


def _facturx_objects(xml: bytes, names: bytes, extra_af: bytes = b"") -> list[bytes]:
    """Objects 1-7 of a Factur-X: catalog, pages, page, factur-x.xml file spec and stream, name tree, XMP."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles 6 0 R >> /AF [4 0 R" + extra_af + b"] "
        b"/Metadata 7 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /Type /Filespec /F (factur-x.xml) /UF (factur-x.xml) /AFRelationship /Data /EF << /F 5 0 R >> >>",
        _stream(b"<< /Type /EmbeddedFile /Subtype /text#2Fxml /Filter /FlateDecode >>", zlib.compress(xml, 9)),
        names,
        _stream(b"<< /Type /Metadata /Subtype /XML >>", _XMP),
    ]


def _with_id(objects: list[bytes]) -> bytes:
    return pdf_file(objects, trailer=b"/ID [<00> <00>]")


def looping_name_tree_pdf(xml: bytes | None = None) -> bytes:
    """A Factur-X whose ``/EmbeddedFiles`` name tree node lists itself three times in its ``/Kids``."""
    xml = make_cii("LOOP-0001") if xml is None else xml
    return _with_id(_facturx_objects(xml, b"<< /Kids [6 0 R 6 0 R 6 0 R] /Names [(factur-x.xml) 4 0 R] >>"))


def many_attachments_pdf(count: int = 250, size: int = MAX_DEPOSIT_SIZE - 1024, xml: bytes | None = None) -> bytes:
    """A Factur-X with a valid ``factur-x.xml`` and ``count`` attachments of ``size`` bytes each once unpacked.

    The attachments share one compressed stream body (written ``count`` times), so the file is
    built in a fraction of a second: 250 attachments of just under 10 MB make a 2.5 MB PDF.
    """
    xml = make_cii("MANY-0001") if xml is None else xml
    body = _zeros_deflated(size)
    first = 8
    pairs, af, extra = [b"(factur-x.xml) 4 0 R"], [], []
    for index in range(count):
        spec, stream = first + 2 * index, first + 2 * index + 1
        name = b"annexe-%04d.txt" % (index + 1)
        pairs.append(b"(%s) %d 0 R" % (name, spec))
        af.append(b" %d 0 R" % spec)
        extra += [
            b"<< /Type /Filespec /F (%s) /UF (%s) /AFRelationship /Supplement /EF << /F %d 0 R >> >>"
            % (name, name, stream),
            _stream(b"<< /Type /EmbeddedFile /Subtype /text#2Fplain /Filter /FlateDecode >>", body),
        ]
    names = b"<< /Names [" + b" ".join(sorted(pairs)) + b"] >>"
    return _with_id(_facturx_objects(xml, names, b"".join(af)) + extra)


def looping_pages_pdf(xml: bytes | None = None) -> bytes:
    """A Factur-X whose page tree lists its own root among its ``/Kids``."""
    xml = make_cii("LOOP-0002") if xml is None else xml
    objects = _facturx_objects(xml, b"<< /Names [(factur-x.xml) 4 0 R] >>")
    objects[1] = b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>"
    return _with_id(objects)
