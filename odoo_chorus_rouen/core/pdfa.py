"""What a Factur-X PDF carries, and whether it is a PDF/A-3 **in structure** (pure Python, pypdf).

Not a full PDF/A validator (veraPDF checks hundreds of rules); these are the structural points
e-invoicing platforms and the Factur-X reference validator look at first, and that a PDF which only
*declares* ``pdfaid:part 3`` in its XMP usually lacks (ISO 19005-3 clause in brackets):

- ``header``: ``%PDF-1.n``, one end-of-line, then a ``%`` comment of at least four bytes above 127
  [6.1.2];
- ``encrypted``: the file is not encrypted [6.1.3];
- ``file_id``: the trailer has a file identifier ``/ID`` [6.1.3];
- ``output_intent``: the catalog has an ``/OutputIntents`` entry ``/GTS_PDFA1`` whose
  ``/DestOutputProfile`` is an ICC profile [6.2.3];
- ``font_not_embedded``: every font used by a page (or a form it draws) is embedded [6.2.11.4];
- ``xmp``: the XMP says ``pdfaid:part`` 3 with a conformance A, B or U [6.6.4], and its
  ``fx:ConformanceLevel`` is the level of the embedded ``factur-x.xml`` (BT-24) (Factur-X 1.0 §6.2);
- ``info``: each document information entry that has an XMP analog (Title, Author, Subject,
  Keywords, Creator, Producer) says the same as the XMP [6.6.2.3.1];
- ``af``: the catalog's ``/AF`` lists every embedded file, each with an ``/AFRelationship``, and
  each embedded file stream has a MIME ``/Subtype`` [6.8]; ``factur-x.xml`` is ``Data``,
  ``Source`` or ``Alternative`` (Factur-X 1.0 §6.2.2).

:func:`check_pdfa3` returns every problem at once (empty list: the structure is right);
:func:`embedded_files` lists the files a PDF embeds (name, size, MIME type, relationship,
description). pypdf is imported lazily. Every walk of the PDF's objects (name tree, ``/AF``, page
tree, forms, fonts) and every stream unpacked (embedded files, XMP, ICC profile) goes through one
:class:`~.pdf_graph.PdfGraph` per file: a looping or absurd structure, or streams that unpack to more
than the file's total, are refused in one sentence (``unreadable``), in bounded time and memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from .errors import InputError
from .limits import MAX_DEPOSIT_SIZE
from .pdf_files import EMBEDDED_FILES, name_tree_pairs, read_pdf
from .pdf_graph import PdfGraph

__all__ = [
    "FACTURX_FILENAME",
    "LEVEL_BY_GUIDELINE",
    "EmbeddedFile",
    "PdfaProblem",
    "check_pdfa3",
    "embedded_files",
    "facturx_level",
    "xmp_info",
]

FACTURX_FILENAME = "factur-x.xml"
RELATIONSHIPS = ("Source", "Data", "Alternative", "Supplement", "Unspecified")
XML_RELATIONSHIPS = ("Data", "Source", "Alternative")

#: BT-24 (``GuidelineSpecifiedDocumentContextParameter/ID``) -> the XMP ``fx:ConformanceLevel``
#: (Factur-X 1.0.07 §6.2 and the factur-x library's ``get_level``).
LEVEL_BY_GUIDELINE = {
    "urn:factur-x.eu:1p0:minimum": "MINIMUM",
    "urn:factur-x.eu:1p0:basicwl": "BASIC WL",
    "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic": "BASIC",
    "urn:cen.eu:en16931:2017": "EN 16931",
    "urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended": "EXTENDED",
    "urn:cen.eu:en16931:2017#conformant#urn.cpro.gouv.fr:1p0:extended-ctc-fr": "EXTENDED",
}

_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "fx": "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}


@dataclass(frozen=True)
class EmbeddedFile:
    """One file embedded in a PDF (``/Names/EmbeddedFiles``).

    :ivar name: ``/UF`` (else ``/F``) of the file specification.
    :ivar size: size of the decoded content, in bytes.
    :ivar mime_type: the embedded file stream's ``/Subtype`` (``""`` when absent).
    :ivar relationship: ``/AFRelationship`` without the slash (``""`` when absent).
    :ivar description: ``/Desc`` (``""`` when absent).
    :ivar in_af: whether the catalog's ``/AF`` array lists this file specification.
    :ivar data: the content.
    """

    name: str
    size: int
    mime_type: str
    relationship: str
    description: str
    in_af: bool
    data: bytes = field(repr=False, default=b"")


@dataclass(frozen=True)
class PdfaProblem:
    """One structural PDF/A-3 problem: a stable ``code`` (see the module docstring) and a sentence."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _name(value) -> str:
    """A PDF name as text, without its slash; ``#2F``-style escapes decoded."""
    text = str(value or "")
    text = text[1:] if text.startswith("/") else text
    return re.sub(r"#([0-9A-Fa-f]{2})", lambda match: chr(int(match.group(1), 16)), text)


def _ref_key(value):
    """A comparable identity for a (possibly indirect) object."""
    reference = getattr(value, "indirect_reference", None)
    if hasattr(value, "idnum"):
        return ("ref", value.idnum, value.generation)
    if reference is not None:
        return ("ref", reference.idnum, reference.generation)
    return ("obj", id(value))


def _embedded(reader, graph: PdfGraph, unpack: bool = True, keep=lambda name: True) -> list[EmbeddedFile]:
    """The embedded files; with ``unpack``, each is unpacked (sizes exact) and kept when ``keep(name)``."""
    root = reader.trailer["/Root"].get_object()
    names = root.get("/Names")
    tree = names.get_object().get("/EmbeddedFiles") if names is not None else None
    af_keys = {_ref_key(item) for item in graph.array(root.get("/AF"), "list of associated files (/AF)")}
    files = []
    for key_name, spec_ref in name_tree_pairs(graph, tree):
        spec, _key = graph.resolve(spec_ref, EMBEDDED_FILES)
        ef = spec.get("/EF")
        stream = None
        if ef is not None:
            ef = ef.get_object()
            stream = (ef.get("/UF") or ef.get("/F"))
        stream = graph.resolve(stream, EMBEDDED_FILES)[0] if stream is not None else None
        name = str(spec.get("/UF") or spec.get("/F") or key_name)
        kind = "invoice XML" if name == FACTURX_FILENAME else "attachment"
        data, size = b"", 0
        if stream is not None and unpack and keep(name):
            data = graph.stream_data(stream, name, MAX_DEPOSIT_SIZE, kind)
            size = len(data)
        elif stream is not None and unpack:
            size = graph.stream_size(stream, name, MAX_DEPOSIT_SIZE, kind)
        files.append(
            EmbeddedFile(
                name=name,
                size=size,
                mime_type=_name(stream.get("/Subtype")) if stream is not None else "",
                relationship=_name(spec.get("/AFRelationship")),
                description=str(spec.get("/Desc") or ""),
                in_af=_ref_key(spec_ref) in af_keys,
                data=data,
            )
        )
    return files


def embedded_files(data: bytes, *, unpack: bool = True, keep_data: bool = True) -> list[EmbeddedFile]:
    """The files embedded in the PDF ``data``, in the order of its name tree.

    :param unpack: read their contents (else ``size`` is 0 and ``data`` empty: names and attributes only).
    :param keep_data: keep the contents in ``data`` (else only their exact ``size``: memory stays small).
    :raises ValueError: ``data`` is not a readable PDF, or it is encrypted; an
        :class:`~.errors.InputError` when its objects loop or are absurdly many, or its embedded
        files unpack to more than the file's total (each at most 10 MB).
    """
    try:
        reader = read_pdf(data)
        if reader.is_encrypted:
            raise ValueError("the PDF is encrypted")
        return _embedded(reader, PdfGraph(), unpack, keep=lambda name: keep_data)
    except ValueError:
        raise
    except Exception as err:  # noqa: BLE001 - pypdf raises many types on broken files
        raise ValueError(f"not a readable PDF: {err}") from err


def facturx_level(xml: bytes) -> str | None:
    """The ``fx:ConformanceLevel`` matching BT-24 of a CII invoice (``None`` if unknown).

    >>> facturx_level(b'<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:'
    ...     b'CrossIndustryInvoice:100" xmlns:ram="urn:un:unece:uncefact:data:standard:'
    ...     b'ReusableAggregateBusinessInformationEntity:100"><rsm:ExchangedDocumentContext>'
    ...     b'<ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>urn:cen.eu:en16931:2017</ram:ID>'
    ...     b'</ram:GuidelineSpecifiedDocumentContextParameter></rsm:ExchangedDocumentContext>'
    ...     b'</rsm:CrossIndustryInvoice>')
    'EN 16931'
    """
    try:
        root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    guideline = root.findtext(
        "./rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", namespaces=_NS
    )
    return LEVEL_BY_GUIDELINE.get((guideline or "").strip())


def _xmp_value(root, namespace: str, local: str) -> str | None:
    """An XMP property, written as an element or as an attribute of ``rdf:Description``."""
    tag = f"{{{_NS[namespace]}}}{local}"
    for element in root.iter(tag):
        return (element.text or "").strip()
    for description in root.iter(f"{{{_NS['rdf']}}}Description"):
        if tag in description.attrib:
            return description.attrib[tag].strip()
    return None


PAGE_TREE = "page tree"
FONTS = "fonts and forms of its pages"


def _page_resources(root, graph: PdfGraph) -> list[Any]:
    """The resource dictionary of every page (its own, else the one it inherits from the page tree)."""

    def kids(node, inherited):
        if not hasattr(node, "get"):
            return []
        own = node.get("/Resources")
        resources = own if own is not None else inherited
        return [(kid, resources) for kid in graph.array(node.get("/Kids"), PAGE_TREE)]

    found = []
    for node, inherited in graph.walk(root.get("/Pages"), kids, PAGE_TREE):
        if hasattr(node, "get") and node.get("/Kids") is None:
            own = node.get("/Resources")
            found.append(own if own is not None else inherited)
    return [resources for resources in found if resources is not None]


def _dict_values(value, graph: PdfGraph, what: str) -> list[Any]:
    """The values of a PDF dictionary (``[]`` when absent or not a dictionary), counted against the budget."""
    value = graph.resolve(value, what)[0] if value is not None else None
    if not hasattr(value, "values"):
        return []
    values = list(value.values())
    graph.count(what, len(values))
    return values


def _used_fonts(root, graph: PdfGraph) -> dict:
    """Every font of the pages' resources and of the forms they draw (each form once, a form drawing itself too)."""

    def children(node, kind):
        if kind == "pages":
            return [(resources, "resources") for resources in node]
        if kind == "resources" and hasattr(node, "get"):
            return [(xobject, "xobject") for xobject in _dict_values(node.get("/XObject"), graph, FONTS)]
        if kind == "xobject" and hasattr(node, "get") and _name(node.get("/Subtype")) == "Form":
            resources = node.get("/Resources")
            return [(resources, "resources")] if resources is not None else []
        return []

    found: dict = {}
    walk = graph.walk(_page_resources(root, graph), children, FONTS, tree=False, context="pages")
    for node, kind in walk:
        if kind == "resources" and hasattr(node, "get"):
            for font_ref in _dict_values(node.get("/Font"), graph, FONTS):
                key = _ref_key(font_ref)
                if key not in found:
                    found[key] = graph.resolve(font_ref, FONTS)[0]
    return found


def _font_embedded(font, graph: PdfGraph) -> bool:
    """Whether the font program is embedded (a Type0 font: in each of its descendants; a loop is refused)."""

    def descendants(node, _context):
        if hasattr(node, "get") and _name(node.get("/Subtype")) == "Type0":
            return [(descendant, None) for descendant in graph.array(node.get("/DescendantFonts"), FONTS)]
        return []

    for node, _context in graph.walk(font, descendants, FONTS):
        if not hasattr(node, "get"):
            return False
        subtype = _name(node.get("/Subtype"))
        if subtype == "Type3":
            continue  # glyphs are content streams of the font itself
        if subtype == "Type0":
            if not graph.array(node.get("/DescendantFonts"), FONTS):
                return False
            continue
        descriptor = node.get("/FontDescriptor")
        descriptor = graph.resolve(descriptor, FONTS)[0] if descriptor is not None else None
        if not hasattr(descriptor, "get") or all(
            descriptor.get(key) is None for key in ("/FontFile", "/FontFile2", "/FontFile3")
        ):
            return False
    return True


def _check_output_intent(root, graph: PdfGraph) -> list[PdfaProblem]:
    for intent in graph.array(root.get("/OutputIntents"), "output intents"):
        intent = graph.resolve(intent, "output intents")[0]
        if not hasattr(intent, "get") or _name(intent.get("/S")) != "GTS_PDFA1":
            continue
        profile = intent.get("/DestOutputProfile")
        if profile is None:
            return [PdfaProblem("output_intent", "The PDF/A output intent has no ICC profile (/DestOutputProfile).")]
        profile = graph.resolve(profile, "output intents")[0]
        icc = graph.stream_data(profile, "ICC profile of its output intent") if hasattr(profile, "get") else b""
        if len(icc) < 128 or icc[36:40] != b"acsp" or profile.get("/N") not in (1, 3, 4):
            return [PdfaProblem("output_intent", "The output intent's /DestOutputProfile is not a valid ICC profile.")]
        return []
    return [PdfaProblem("output_intent", "No PDF/A output intent (/OutputIntents with /GTS_PDFA1 and an ICC profile).")]


def _check_fonts(root, graph: PdfGraph) -> list[PdfaProblem]:
    problems = []
    for font in _used_fonts(root, graph).values():
        if not _font_embedded(font, graph):
            name = _name(font.get("/BaseFont")) if hasattr(font, "get") else ""
            problems.append(PdfaProblem("font_not_embedded", f"The font {name or '?'} is not embedded."))
    return problems


def _xmp_root(root, graph: PdfGraph):
    """The parsed XMP of the catalog; ``None`` when absent; ``ValueError`` when unreadable."""
    metadata = root.get("/Metadata")
    if metadata is None:
        return None
    packet = graph.stream_data(graph.resolve(metadata, "XMP metadata")[0], "XMP metadata")
    try:
        return etree.fromstring(packet, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as err:
        raise ValueError(f"The XMP metadata cannot be read: {err}") from err


def xmp_info(xmp) -> dict[str, str]:
    """The document information entries as the XMP ``xmp`` gives them (only those it has)."""
    values = {}
    for key, (namespace, local) in _INFO_XMP.items():
        tag = f"{{{_NS[namespace]}}}{local}"
        element = next(xmp.iter(tag), None)
        if element is not None:
            item = next(element.iter(f"{{{_NS['rdf']}}}li"), None)
            values[key] = ((item if item is not None else element).text or "").strip()
        else:
            value = _xmp_value(xmp, namespace, local)
            if value is not None:
                values[key] = value
    return values


_INFO_XMP = {
    "/Title": ("dc", "title"),
    "/Author": ("dc", "creator"),
    "/Subject": ("dc", "description"),
    "/Keywords": ("pdf", "Keywords"),
    "/Creator": ("xmp", "CreatorTool"),
    "/Producer": ("pdf", "Producer"),
}


def _check_info(reader, xmp) -> list[PdfaProblem]:
    info = reader.metadata or {}
    expected = xmp_info(xmp) if xmp is not None else {}
    problems = []
    for key in _INFO_XMP:
        value = info.get(key)
        if value is None:
            continue
        if str(value).strip() != expected.get(key):
            problems.append(PdfaProblem(
                "info",
                f"The document information {key[1:]} is {str(value)!r} but the XMP says "
                f"{expected.get(key, 'nothing')!r}.",
            ))
    return problems


def _check_header(data: bytes) -> list[PdfaProblem]:
    match = re.match(rb"%PDF-1\.[0-7](\r\n|\r|\n)%(.{4})", data, re.S)
    if not match or any(byte <= 127 for byte in match.group(2)):
        return [PdfaProblem(
            "header", "The file must start with %PDF-1.n, one end of line, then a binary comment (4 bytes above 127)."
        )]
    return []


def _check_xmp(xmp, unreadable: str | None, files: list[EmbeddedFile]) -> list[PdfaProblem]:
    if unreadable:
        return [PdfaProblem("xmp", unreadable)]
    if xmp is None:
        return [PdfaProblem("xmp", "No XMP metadata (/Metadata) in the catalog.")]
    problems = []
    part = _xmp_value(xmp, "pdfaid", "part")
    conformance = _xmp_value(xmp, "pdfaid", "conformance")
    if part != "3":
        problems.append(PdfaProblem("xmp", f"The XMP pdfaid:part is {part or 'missing'}, not 3."))
    if conformance not in ("A", "B", "U"):
        problems.append(PdfaProblem("xmp", f"The XMP pdfaid:conformance is {conformance or 'missing'}, not A, B or U."))
    declared = _xmp_value(xmp, "fx", "ConformanceLevel")
    xml = next((f for f in files if f.name == FACTURX_FILENAME), None)
    if xml is None:
        problems.append(PdfaProblem("xmp", f"No {FACTURX_FILENAME} embedded: the Factur-X level cannot be checked."))
    else:
        expected = facturx_level(xml.data)
        if declared != expected:
            problems.append(
                PdfaProblem(
                    "xmp",
                    f"The XMP fx:ConformanceLevel is {declared or 'missing'} but BT-24 of {FACTURX_FILENAME} "
                    f"means {expected or 'an unknown level'}.",
                )
            )
    return problems


def _check_af(root, files: list[EmbeddedFile]) -> list[PdfaProblem]:
    problems = []
    if files and root.get("/AF") is None:
        problems.append(PdfaProblem("af", "The catalog has no /AF array listing the embedded files."))
    for file in files:
        if root.get("/AF") is not None and not file.in_af:
            problems.append(PdfaProblem("af", f"The embedded file {file.name} is not listed in the catalog's /AF."))
        if file.relationship not in RELATIONSHIPS:
            problems.append(
                PdfaProblem(
                    "af", f"The embedded file {file.name} has no valid /AFRelationship ({file.relationship!r})."
                )
            )
        elif file.name == FACTURX_FILENAME and file.relationship not in XML_RELATIONSHIPS:
            problems.append(
                PdfaProblem("af", f"{FACTURX_FILENAME} has the relationship {file.relationship}, "
                                  f"not {', '.join(XML_RELATIONSHIPS)}.")
            )
        if not file.mime_type:
            problems.append(PdfaProblem("af", f"The embedded file {file.name} has no MIME type (/Subtype)."))
    return problems


def check_pdfa3(data: bytes) -> list[PdfaProblem]:
    """Every structural PDF/A-3 problem of the Factur-X PDF ``data`` (see the module docstring).

    A PDF that cannot be read, whose objects loop or are absurdly many, or whose streams unpack to
    more than the file's total is one ``unreadable`` problem, found in bounded time and memory.
    """
    graph = PdfGraph()
    try:
        reader = read_pdf(data)
        if reader.is_encrypted:
            return [PdfaProblem("encrypted", "The PDF is encrypted; PDF/A forbids encryption.")]
        root = reader.trailer["/Root"].get_object()
        files = _embedded(reader, graph, keep=lambda name: name == FACTURX_FILENAME)  # the XML's level is read
        problems = _check_header(data)
        if not reader.trailer.get("/ID"):
            problems.append(PdfaProblem("file_id", "The trailer has no file identifier (/ID)."))
        problems += _check_output_intent(root, graph)
        problems += _check_fonts(root, graph)
        try:
            xmp, unreadable = _xmp_root(root, graph), None
        except InputError:
            raise
        except ValueError as err:
            xmp, unreadable = None, str(err)
        problems += _check_xmp(xmp, unreadable, files)
        if not unreadable:  # an unreadable XMP is said once, by _check_xmp
            problems += _check_info(reader, xmp)
        problems += _check_af(root, files)
    except InputError as err:  # looping or absurd objects, streams over the total: one sentence
        return [PdfaProblem("unreadable", err.message)]
    except RecursionError:
        return [PdfaProblem("unreadable", "The PDF nests its objects too deeply to be read.")]
    except Exception as err:  # noqa: BLE001 - pypdf raises many types on broken files
        return [PdfaProblem("unreadable", f"The file is not a readable PDF: {err}")]
    return problems
