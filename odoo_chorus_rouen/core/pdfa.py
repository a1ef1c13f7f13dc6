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
description). pypdf is imported lazily.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from lxml import etree

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


def _reader(data: bytes):
    from pypdf import PdfReader

    return PdfReader(io.BytesIO(data), strict=False)


def _name_tree_pairs(node, depth: int = 0):
    """(name, file specification reference) pairs of a PDF name tree, ``/Kids`` included."""
    if node is None or depth > 32:
        return
    node = node.get_object()
    names = node.get("/Names")
    if names is not None:
        names = names.get_object()
        for index in range(0, len(names) - 1, 2):
            yield str(names[index]), names[index + 1]
    for kid in node.get("/Kids") or []:
        yield from _name_tree_pairs(kid, depth + 1)


def _ref_key(value):
    """A comparable identity for a (possibly indirect) object."""
    reference = getattr(value, "indirect_reference", None)
    if hasattr(value, "idnum"):
        return ("ref", value.idnum, value.generation)
    if reference is not None:
        return ("ref", reference.idnum, reference.generation)
    return ("obj", id(value))


def _embedded(reader) -> list[EmbeddedFile]:
    root = reader.trailer["/Root"].get_object()
    names = root.get("/Names")
    tree = names.get_object().get("/EmbeddedFiles") if names is not None else None
    af_keys = {_ref_key(item) for item in (root.get("/AF").get_object() if root.get("/AF") is not None else [])}
    files = []
    for key_name, spec_ref in _name_tree_pairs(tree):
        spec = spec_ref.get_object()
        ef = spec.get("/EF")
        stream = None
        if ef is not None:
            ef = ef.get_object()
            stream = (ef.get("/UF") or ef.get("/F"))
        stream = stream.get_object() if stream is not None else None
        data = stream.get_data() if stream is not None else b""
        files.append(
            EmbeddedFile(
                name=str(spec.get("/UF") or spec.get("/F") or key_name),
                size=len(data),
                mime_type=_name(stream.get("/Subtype")) if stream is not None else "",
                relationship=_name(spec.get("/AFRelationship")),
                description=str(spec.get("/Desc") or ""),
                in_af=_ref_key(spec_ref) in af_keys,
                data=data,
            )
        )
    return files


def embedded_files(data: bytes) -> list[EmbeddedFile]:
    """The files embedded in the PDF ``data``, in the order of its name tree.

    :raises ValueError: ``data`` is not a readable PDF, or it is encrypted.
    """
    try:
        reader = _reader(data)
        if reader.is_encrypted:
            raise ValueError("the PDF is encrypted")
        return _embedded(reader)
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


def _fonts_of(resources, seen: set, found: dict, depth: int = 0) -> None:
    """Collect the fonts of a resource dictionary and of the form XObjects it draws (recursively)."""
    if resources is None or depth > 16:
        return
    resources = resources.get_object()
    fonts = resources.get("/Font")
    if fonts is not None:
        for font_ref in fonts.get_object().values():
            key = _ref_key(font_ref)
            if key not in found:
                found[key] = font_ref.get_object()
    xobjects = resources.get("/XObject")
    if xobjects is not None:
        for xobject_ref in xobjects.get_object().values():
            key = _ref_key(xobject_ref)
            if key in seen:
                continue
            seen.add(key)
            xobject = xobject_ref.get_object()
            if _name(xobject.get("/Subtype")) == "Form":
                _fonts_of(xobject.get("/Resources"), seen, found, depth + 1)


def _font_embedded(font) -> bool:
    subtype = _name(font.get("/Subtype"))
    if subtype == "Type3":
        return True  # glyphs are content streams of the font itself
    if subtype == "Type0":
        descendants = font.get("/DescendantFonts")
        descendants = descendants.get_object() if descendants is not None else []
        return bool(descendants) and all(_font_embedded(d.get_object()) for d in descendants)
    descriptor = font.get("/FontDescriptor")
    if descriptor is None:
        return False
    descriptor = descriptor.get_object()
    return any(descriptor.get(key) is not None for key in ("/FontFile", "/FontFile2", "/FontFile3"))


def _check_output_intent(root) -> list[PdfaProblem]:
    intents = root.get("/OutputIntents")
    for intent in (intents.get_object() if intents is not None else []):
        intent = intent.get_object()
        if _name(intent.get("/S")) != "GTS_PDFA1":
            continue
        profile = intent.get("/DestOutputProfile")
        if profile is None:
            return [PdfaProblem("output_intent", "The PDF/A output intent has no ICC profile (/DestOutputProfile).")]
        profile = profile.get_object()
        icc = profile.get_data()
        if len(icc) < 128 or icc[36:40] != b"acsp" or profile.get("/N") not in (1, 3, 4):
            return [PdfaProblem("output_intent", "The output intent's /DestOutputProfile is not a valid ICC profile.")]
        return []
    return [PdfaProblem("output_intent", "No PDF/A output intent (/OutputIntents with /GTS_PDFA1 and an ICC profile).")]


def _check_fonts(reader) -> list[PdfaProblem]:
    found: dict = {}
    seen: set = set()
    for page in reader.pages:
        _fonts_of(page.get("/Resources"), seen, found)
    problems = []
    for font in found.values():
        if not _font_embedded(font):
            problems.append(
                PdfaProblem("font_not_embedded", f"The font {_name(font.get('/BaseFont')) or '?'} is not embedded.")
            )
    return problems


def _xmp_root(root):
    """The parsed XMP of the catalog; ``None`` when absent; ``ValueError`` when unreadable."""
    metadata = root.get("/Metadata")
    if metadata is None:
        return None
    try:
        return etree.fromstring(
            metadata.get_object().get_data(), parser=etree.XMLParser(resolve_entities=False, no_network=True)
        )
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


def _check_xmp(root, files: list[EmbeddedFile]) -> list[PdfaProblem]:
    try:
        xmp = _xmp_root(root)
    except ValueError as err:
        return [PdfaProblem("xmp", str(err))]
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
    """Every structural PDF/A-3 problem of the Factur-X PDF ``data`` (see the module docstring)."""
    try:
        reader = _reader(data)
        if reader.is_encrypted:
            return [PdfaProblem("encrypted", "The PDF is encrypted; PDF/A forbids encryption.")]
        root = reader.trailer["/Root"].get_object()
        files = _embedded(reader)
    except Exception as err:  # noqa: BLE001 - pypdf raises many types on broken files
        return [PdfaProblem("unreadable", f"The file is not a readable PDF: {err}")]
    problems = _check_header(data)
    if not reader.trailer.get("/ID"):
        problems.append(PdfaProblem("file_id", "The trailer has no file identifier (/ID)."))
    problems += _check_output_intent(root)
    problems += _check_fonts(reader)
    problems += _check_xmp(root, files)
    try:
        problems += _check_info(reader, _xmp_root(root))
    except ValueError:
        pass  # already said by _check_xmp
    problems += _check_af(root, files)
    return problems
