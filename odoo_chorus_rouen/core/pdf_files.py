"""The files embedded in a PDF, unpacked with a size cap (a decompression bomb never reaches memory).

A 1.5 MB PDF can carry a ``factur-x.xml`` that inflates to 1.5 GB. pypdf (6.0 and later) stops
FlateDecode at 75 MB; we stop earlier, at the caller's ``max_size``, and unpack each embedded file
ourselves, chunk by chunk, so memory stays bounded by that cap whatever the pypdf version.

Only embedded files are unpacked here (the name tree ``/Names /EmbeddedFiles`` and the catalog's
``/AF`` array, PDF/A-3 §6.8); nothing else of the PDF is decoded but its XMP packet.
"""

from __future__ import annotations

import io
import zlib
from typing import Any

from .errors import InputError

__all__ = ["TooLarge", "embedded_files", "stream_bytes"]

#: Name-tree nodes visited at most (a looping or absurd tree is refused, not walked forever).
MAX_TREE_NODES = 10_000
_CHUNK = 1 << 20


class TooLarge(Exception):
    """An embedded file unpacks to more than the cap: ``size`` is a lower bound."""

    def __init__(self, name: str, size: int) -> None:
        super().__init__(name, size)
        self.name = name
        self.size = size


def _inflate(raw: bytes, name: str, max_size: int) -> bytes:
    """zlib-decompress ``raw`` to at most ``max_size`` bytes, or raise :class:`TooLarge`."""
    decompressor = zlib.decompressobj()
    out = bytearray()
    pending = raw
    while pending:
        out += decompressor.decompress(pending, max(1, min(_CHUNK, max_size + 1 - len(out))))
        if len(out) > max_size:
            raise TooLarge(name, len(out))
        pending = decompressor.unconsumed_tail
        if decompressor.eof:
            break
    return bytes(out)


def _filters(stream: Any) -> list[str]:
    value = stream.get("/Filter")
    if value is None:
        return []
    value = value.get_object()
    if isinstance(value, list):
        return [str(item.get_object()) for item in value]
    return [str(value)]


def _stream_data(stream: Any, name: str, max_size: int) -> bytes:
    """The decoded bytes of an embedded-file stream, at most ``max_size``."""
    raw = bytes(getattr(stream, "_data", b"") or b"")
    filters = _filters(stream)
    parms = stream.get("/DecodeParms")
    if not filters:
        data = raw
    elif filters in (["/FlateDecode"], ["/Fl"]) and not parms:
        data = _inflate(raw, name, max_size)
    else:
        # Another filter chain (rare in Factur-X): pypdf decodes it, within its own 75 MB limit.
        data = stream.get_data()
    if len(data) > max_size:
        raise TooLarge(name, len(data))
    return data


def _file_specs(reader: Any) -> list[Any]:
    """Every file specification of the catalog: the EmbeddedFiles name tree, then /AF."""
    root = reader.trailer["/Root"].get_object()
    specs: list[Any] = []
    names = root.get("/Names")
    tree = names.get_object().get("/EmbeddedFiles") if names is not None else None
    todo = [tree] if tree is not None else []
    visited = 0
    while todo:
        visited += 1
        if visited > MAX_TREE_NODES:
            raise InputError("The PDF's list of embedded files is looping or absurdly large.",
                             code="pdf_unreadable", params={"reason": "name tree too large"})
        node = todo.pop().get_object()
        pairs = node.get("/Names")
        if pairs is not None:
            pairs = pairs.get_object()
            specs.extend(pairs[index + 1] for index in range(0, len(pairs) - 1, 2))
        kids = node.get("/Kids")
        if kids is not None:
            todo.extend(kids.get_object())
    associated = root.get("/AF")
    if associated is not None:
        specs.extend(associated.get_object())
    return specs


def embedded_files(data: bytes, max_size: int) -> tuple[dict[str, bytes], bytes | None]:
    """The embedded files of a PDF (name -> bytes, none over ``max_size``) and its XMP packet (or None).

    :raises TooLarge: an embedded file unpacks to more than ``max_size``.
    :raises Exception: whatever pypdf raises on a damaged file (the caller words it).
    """
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(bytes(data)), strict=False)
    found: dict[str, bytes] = {}
    for spec in _file_specs(reader):
        spec = spec.get_object()
        if not hasattr(spec, "get"):
            continue
        name = str(spec.get("/UF") or spec.get("/F") or "")
        streams = spec.get("/EF")
        if not name or name in found or streams is None:
            continue
        streams = streams.get_object()
        stream = streams.get("/UF") or streams.get("/F")
        if stream is None:
            continue
        content = _stream_data(stream.get_object(), name, max_size)
        if content:
            found[name] = content
    try:
        metadata = reader.trailer["/Root"].get("/Metadata")
        xmp = _stream_data(metadata.get_object(), "XMP", max_size) if metadata is not None else None
    except Exception:  # noqa: BLE001 - a damaged XMP is reported by the XMP check, not here
        xmp = None
    return found, xmp


def stream_bytes(stream: Any, name: str, max_size: int) -> bytes:
    """The decoded bytes of any PDF stream object, at most ``max_size`` (FlateDecode unpacked chunk by chunk).

    :raises TooLarge: the stream decodes to more than ``max_size``.
    """
    return _stream_data(stream, name, max_size)
