"""Bounded walks of a PDF's objects: one guard for every walk, and one budget per file read.

A PDF is a graph of objects that refer to each other, and nothing stops a file from making it loop:
a name tree node among its own ``/Kids``, a page tree whose ``/Kids`` lead back to its root, a font
among its own ``/DescendantFonts``, a form drawing itself. A 3 KB Factur-X whose ``/EmbeddedFiles``
node lists itself three times made a depth-limited walk visit 3^32 nodes (and grow past 3.5 GB).

Every walk of a PDF in ``core/`` (and, through it, in the sandbox and the addon) goes through one
:class:`PdfGraph` per file read:

* :meth:`PdfGraph.walk` keeps a **visited set**: in a tree (name tree, page tree) an object met a
  second time is a loop and the file is refused; in a graph (forms and fonts that pages share) it
  is skipped;
* every object met, by every walk of the file, counts against one **node budget**
  (:data:`MAX_PDF_OBJECTS`): an absurd structure is refused, never walked for minutes;
* :meth:`PdfGraph.stream_data` unpacks a stream chunk by chunk under a per-file cap and one
  **total** for the whole file (:data:`.limits.MAX_INFLATED_SIZE`): 250 attachments of 10 MB each
  never reach memory; :meth:`PdfGraph.stream_size` counts a stream the same way without keeping it.

A refusal is an :class:`~.errors.InputError` (:class:`PdfStructureError`, :class:`TooLarge`) whose
message is one sentence. pypdf (>= 6.0) reads the objects; this module never imports it.

>>> class Ref:  # what pypdf's IndirectObject offers
...     def __init__(self, number, target):
...         self.idnum, self.generation, self.target = number, 0, target
...     def get_object(self):
...         return self.target
>>> node = {}
>>> node["/Kids"] = [Ref(6, node)] * 3  # a name tree node that lists itself three times
>>> kids = lambda obj, _: [(kid, None) for kid in obj.get("/Kids", [])]
>>> list(PdfGraph().walk(Ref(6, node), kids, "list of embedded files"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
odoo_chorus_rouen.core.pdf_graph.PdfStructureError: The PDF's list of embedded files refers back to itself (object 6)...
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .errors import InputError
from .limits import MAX_DEPOSIT_SIZE, MAX_INFLATED_SIZE

__all__ = ["MAX_PDF_OBJECTS", "PdfGraph", "PdfStructureError", "TooLarge", "human_size"]

#: Objects met at most, over every walk of one file. An invoice PDF made by Odoo has a few dozen
#: (``odoo_facturx_eau_invoice.pdf``: 31); a 1,000-page annex, a few thousand. 100,000 resolutions cost
#: about a second with pypdf, so a hostile file is refused within that time.
MAX_PDF_OBJECTS = 100_000
#: References followed from one reference to the next before an object is reached (``1 0 R`` -> ``2 0 R``...).
_MAX_HOPS = 16
_CHUNK = 1 << 20


def human_size(size: int) -> str:
    """A size in bytes in words (``10.0 MB``).

    >>> human_size(512), human_size(10 * 1024 * 1024)
    ('512 bytes', '10.0 MB')
    """
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} bytes"


class PdfStructureError(InputError):
    """The objects of a PDF loop or are absurdly many: refused in one sentence."""

    code = "pdf_structure"


class TooLarge(InputError):
    """A stream unpacks to more than its cap (``whole=False``) or the file's streams to more than the total.

    :ivar name: the stream (an embedded file's name, ``XMP``...); for the total, the one that crossed it.
    :ivar kind: ``"invoice XML"``, ``"attachment"`` or ``"stream"`` (metadata, colour profile...).
    :ivar size: a lower bound of the size it unpacks to (for the total: of all the streams unpacked so far).
    :ivar limit: the cap crossed.
    """

    code = "file_too_large"

    def __init__(self, name: str, size: int, limit: int, *, kind: str = "stream", whole: bool = False) -> None:
        self.name, self.kind, self.size, self.limit, self.whole = name, kind, size, limit, whole
        over = f"more than {human_size(limit)}"
        if whole:
            message = (f"The files embedded in the PDF unpack to {over} in all (the size of a whole deposit; "
                       f"reached at {name!r}): it is refused without unpacking the rest. Send fewer or smaller "
                       "supporting documents in the Factur-X.")
        elif kind == "invoice XML":
            message = (f"The file {name!r} embedded in the PDF unpacks to {over} (at least {human_size(size)}): "
                       "a real invoice XML is far smaller, this one is refused unread. Generate the Factur-X PDF "
                       "again.")
        elif kind == "attachment":
            message = (f"The attachment {name!r} embedded in the PDF unpacks to {over} (at least "
                       f"{human_size(size)}): Chorus Pro accepts at most {human_size(limit)} per attached file. "
                       "Reduce it, or leave it out of the Factur-X.")
        else:
            message = (f"The {name} of the PDF unpacks to {over}: the file is damaged or made to exhaust memory, "
                       "and is refused unread. Generate the PDF again.")
        super().__init__(message, params={"size": size, "max_size": limit, "name": name})


def _is_reference(value: Any) -> bool:
    return hasattr(value, "idnum") and hasattr(value, "generation") and hasattr(value, "get_object")


class PdfGraph:
    """The visited sets, the node budget and the unpacked total of one PDF file being read.

    :param max_objects: objects met at most over every walk.
    :param max_inflated: bytes unpacked at most from all the file's streams together.
    """

    def __init__(self, max_objects: int = MAX_PDF_OBJECTS, max_inflated: int = MAX_INFLATED_SIZE) -> None:
        self.max_objects = max_objects
        self.max_inflated = max_inflated
        self.objects = 0
        self.inflated = 0

    # -- objects ----------------------------------------------------------------------------------
    def count(self, what: str, number: int = 1) -> None:
        """Count ``number`` objects met while reading ``what``; refuse the file over the budget."""
        self.objects += number
        if self.objects > self.max_objects:
            raise PdfStructureError(
                f"The PDF's {what} has more than {self.max_objects:,} objects, far more than an invoice needs: "
                "it is refused unread. Generate the PDF again.",
                params={"reason": f"{what}: over {self.max_objects} objects"},
            )

    def resolve(self, value: Any, what: str) -> tuple[Any, tuple[int, int] | None]:
        """``(object, identity)`` of a value: references followed (a bounded number of hops).

        The identity is the ``(number, generation)`` of the last reference followed, ``None`` for a
        direct object (a direct object cannot loop: only references can point back).
        """
        key = None
        for _ in range(_MAX_HOPS):
            if not _is_reference(value):
                return value, key
            key = (value.idnum, value.generation)
            value = value.get_object()
        raise PdfStructureError(
            f"The PDF's {what} is a chain of more than {_MAX_HOPS} references: the file is damaged. "
            "Generate the PDF again.", params={"reason": f"{what}: reference chain"})

    def walk(
        self,
        root: Any,
        children: Callable[[Any, Any], Iterable[tuple[Any, Any]]],
        what: str,
        *,
        tree: bool = True,
        context: Any = None,
    ) -> Iterator[tuple[Any, Any]]:
        """Every object reachable from ``root`` through ``children``, once, depth first, in document order.

        :param children: ``(object, context) -> [(child value, child context), ...]`` (values may be references).
        :param what: the structure in words, for the refusal (``"list of embedded files"``).
        :param tree: the structure must be a tree: an object met twice is a loop and the file is
            refused. Otherwise (a graph of shared objects) it is skipped.
        :return: ``(object, context)`` pairs.
        :raises PdfStructureError: a loop in a tree, or the node budget spent.
        """
        seen: set[tuple[int, int]] = set()
        stack = [(root, context)]
        while stack:
            value, context = stack.pop()
            self.count(what)
            node, key = self.resolve(value, what)
            if key is not None:
                if key in seen:
                    if tree:
                        raise PdfStructureError(
                            f"The PDF's {what} refers back to itself (object {key[0]}): the file is damaged or made "
                            "to trap PDF readers, and is refused. Generate the PDF again.",
                            params={"reason": f"{what}: loop at object {key[0]}"},
                        )
                    continue
                seen.add(key)
            yield node, context
            stack.extend(reversed(list(children(node, context))))

    def array(self, value: Any, what: str) -> list[Any]:
        """The items of a PDF array (``[]`` when absent or not an array), counted against the budget."""
        if value is None:
            return []
        items, _key = self.resolve(value, what)
        if not isinstance(items, list):
            return []
        self.count(what, len(items))
        return list(items)

    # -- streams ----------------------------------------------------------------------------------
    def stream_data(self, stream: Any, name: str, max_size: int = MAX_DEPOSIT_SIZE, kind: str = "stream") -> bytes:
        """The decoded bytes of a stream: at most ``max_size``, and within what is left of the file's total.

        FlateDecode (what PDF writers use for embedded files) is unpacked here chunk by chunk, so a
        bomb never reaches memory; another filter chain is left to pypdf (its own limit per stream)
        and counted the same.

        :param kind: what the stream is, for the refusal (see :class:`TooLarge`).
        :raises TooLarge: over ``max_size`` (``whole=False``) or over the file's total (``whole=True``).
        """
        return self._read(stream, name, max_size, kind, keep=True)[0]

    def stream_size(self, stream: Any, name: str, max_size: int = MAX_DEPOSIT_SIZE, kind: str = "stream") -> int:
        """The decoded size of a stream, unpacked and counted like :meth:`stream_data` but not kept.

        Memory stays at one chunk (1 MB) whatever the stream unpacks to.
        """
        return self._read(stream, name, max_size, kind, keep=False)[1]

    def _read(self, stream: Any, name: str, max_size: int, kind: str, keep: bool) -> tuple[bytes, int]:
        raw = bytes(getattr(stream, "_data", b"") or b"")
        filters = _filters(stream, self)
        if not filters:
            data = raw[:max_size + 1]
            size = len(data)
        elif filters in (["/FlateDecode"], ["/Fl"]) and not stream.get("/DecodeParms"):
            data, size = _inflate(raw, max_size, keep)
        else:
            data = stream.get_data()
            size = len(data)
        if size > max_size:
            raise TooLarge(name, size, max_size, kind=kind)
        if self.inflated + size > self.max_inflated:
            raise TooLarge(name, self.inflated + size, self.max_inflated, kind=kind, whole=True)
        self.inflated += size
        return (data if keep else b""), size


def _filters(stream: Any, graph: PdfGraph) -> list[str]:
    value = stream.get("/Filter")
    if value is None:
        return []
    value, _key = graph.resolve(value, "stream filters")
    if isinstance(value, list):
        return [str(graph.resolve(item, "stream filters")[0]) for item in graph.array(value, "stream filters")]
    return [str(value)]


def _inflate(raw: bytes, cap: int, keep: bool = True) -> tuple[bytes, int]:
    """zlib-decompress ``raw`` up to ``cap + 1`` bytes (one more tells that it is over): ``(bytes kept, size)``."""
    decompressor = zlib.decompressobj()
    out = bytearray()
    size = 0
    pending = raw
    while pending and size <= cap:
        chunk = decompressor.decompress(pending, max(1, min(_CHUNK, cap + 1 - size)))
        size += len(chunk)
        if keep:
            out += chunk
        pending = decompressor.unconsumed_tail
        if decompressor.eof:
            break
    return bytes(out), size
