"""The files embedded in a PDF, unpacked with a size cap (a decompression bomb never reaches memory).

A 1.5 MB PDF can carry a ``factur-x.xml`` that inflates to 1.5 GB, or 250 attachments that inflate
to 10 MB each. pypdf (6.0 and later) stops FlateDecode at 75 MB a stream; we stop earlier: each
file at the caller's ``max_size``, and all of them together at the file's total
(:data:`.limits.MAX_INFLATED_SIZE`), unpacking chunk by chunk (:class:`.pdf_graph.PdfGraph`).

Only embedded files are unpacked here (the name tree ``/Names /EmbeddedFiles`` and the catalog's
``/AF`` array, PDF/A-3 §6.8), walked with a visited set and a node budget; nothing else of the PDF
is decoded but its XMP packet.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

from .limits import MAX_DEPOSIT_SIZE
from .pdf_graph import PdfGraph, PdfStructureError, TooLarge

__all__ = [
    "INVOICE_XML_NAMES",
    "PdfGraph",
    "PdfStructureError",
    "TooLarge",
    "embedded_files",
    "file_specs",
    "name_tree_pairs",
    "read_pdf",
    "stream_bytes",
]

#: Names of the invoice XML inside a Factur-X (and its German twins), lower case.
INVOICE_XML_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml")
EMBEDDED_FILES = "list of embedded files"


def read_pdf(data: bytes) -> Any:
    """A pypdf reader of ``data`` (lenient: real-world PDFs are often slightly broken)."""
    from pypdf import PdfReader

    return PdfReader(io.BytesIO(bytes(data)), strict=False)


def name_tree_pairs(graph: PdfGraph, tree: Any, what: str = EMBEDDED_FILES) -> Iterator[tuple[str, Any]]:
    """``(name, value)`` pairs of a PDF name tree, ``/Kids`` included, each node once (a loop is refused)."""
    if tree is None:
        return

    def kids(node: Any, _context: Any) -> list[tuple[Any, Any]]:
        return [(kid, None) for kid in graph.array(node.get("/Kids"), what)] if hasattr(node, "get") else []

    for node, _context in graph.walk(tree, kids, what):
        if not hasattr(node, "get"):
            continue
        pairs = graph.array(node.get("/Names"), what)
        for index in range(0, len(pairs) - 1, 2):
            yield str(graph.resolve(pairs[index], what)[0]), pairs[index + 1]


def _embedded_tree(root: Any) -> Any:
    names = root.get("/Names")
    return names.get_object().get("/EmbeddedFiles") if names is not None else None


def file_specs(graph: PdfGraph, reader: Any) -> list[tuple[str, Any]]:
    """``(name in the tree, file specification)`` of the catalog: the EmbeddedFiles name tree, then ``/AF``."""
    root = reader.trailer["/Root"].get_object()
    specs = list(name_tree_pairs(graph, _embedded_tree(root)))
    specs += [("", spec) for spec in graph.array(root.get("/AF"), "list of associated files (/AF)")]
    return specs


def embedded_files(
    data: bytes, max_size: int = MAX_DEPOSIT_SIZE, graph: PdfGraph | None = None,
    keep: Callable[[str], bool] | None = None,
) -> tuple[dict[str, bytes], bytes | None]:
    """The embedded files of a PDF (name -> bytes, none over ``max_size``) and its XMP packet (or None).

    Only the files whose name ``keep(name)`` accepts (by default the invoice XML, :data:`INVOICE_XML_NAMES`)
    are kept; the others are unpacked to be counted against the caps, and listed with empty contents.

    :raises TooLarge: an embedded file unpacks to more than ``max_size``, or all of them to more than
        the file's total.
    :raises PdfStructureError: the name tree loops or has absurdly many objects.
    :raises Exception: whatever pypdf raises on a damaged file (the caller words it).
    """
    graph = graph or PdfGraph()
    reader = read_pdf(data)
    found: dict[str, bytes] = {}
    for key_name, spec in file_specs(graph, reader):
        spec, _key = graph.resolve(spec, EMBEDDED_FILES)
        if not hasattr(spec, "get"):
            continue
        name = str(spec.get("/UF") or spec.get("/F") or key_name or "")
        streams = spec.get("/EF")
        if not name or name in found or streams is None:
            continue
        streams = streams.get_object()
        stream = streams.get("/UF") or streams.get("/F")
        if stream is None:
            continue
        stream, _key = graph.resolve(stream, EMBEDDED_FILES)
        if (keep or _is_invoice_xml)(name):
            content = graph.stream_data(stream, name, max_size, "invoice XML")
            if content:
                found[name] = content
        else:  # an attachment: unpacked only to be counted (its size against the caps), never kept
            graph.stream_size(stream, name, max_size, "attachment")
            found[name] = b""
    try:
        metadata = reader.trailer["/Root"].get("/Metadata")
        xmp = graph.stream_data(metadata.get_object(), "XMP metadata", max_size) if metadata is not None else None
    except (TooLarge, PdfStructureError):
        raise
    except Exception:  # noqa: BLE001 - a damaged XMP is reported by the XMP check, not here
        xmp = None
    return found, xmp


def _is_invoice_xml(name: str) -> bool:
    return name.lower() in INVOICE_XML_NAMES


def stream_bytes(stream: Any, name: str, max_size: int, graph: PdfGraph | None = None) -> bytes:
    """The decoded bytes of any PDF stream object, at most ``max_size`` (FlateDecode unpacked chunk by chunk).

    Pass the ``graph`` of the file to count the stream against the whole file's total too.

    :raises TooLarge: the stream decodes to more than ``max_size``.
    """
    return (graph or PdfGraph()).stream_data(stream, name, max_size)
