"""Pure-Python core of odoo_chorus_rouen: it never imports Odoo.

Budgets, status table, typed errors, validation of Factur-X / CII / UBL invoices, the
``deposerFluxFacture`` envelope, and the Chorus Pro client (the only HTTP).
"""

from .auth import Credentials, Endpoints, Environment
from .budgets import (
    BUDGETS,
    METROPOLE_NAME,
    METROPOLE_SIREN,
    Budget,
    Requirements,
    compact_siret,
    find_budget,
    format_siret,
    is_valid_siret,
    validate_siret,
)
from .client import ChorusClient
from .client_answers import DepositResult, FlowReport, InvoiceHistory, InvoiceSummary, StructureDetails
from .errors import (
    ApiError,
    AuthenticationError,
    ChorusError,
    ConfigurationError,
    InputError,
    InvoiceDataError,
    OutcomeUnknownError,
    TransportError,
    XmlValidationError,
)
from .payload import SYNTAX_BY_FORMAT, build_deposit, deposit_filename
from .status import FLOW_STATES, INVOICE_STATUSES, ChorusState, StatusInfo, flow_status, invoice_status
from .validation import (
    Finding,
    Format,
    InvoiceFacts,
    ValidationReport,
    check_routing,
    detect_format,
    extract_xml,
    read_facts,
    validate,
)

__all__ = [
    "BUDGETS",
    "FLOW_STATES",
    "INVOICE_STATUSES",
    "METROPOLE_NAME",
    "METROPOLE_SIREN",
    "SYNTAX_BY_FORMAT",
    "ApiError",
    "AuthenticationError",
    "Budget",
    "ChorusClient",
    "ChorusError",
    "ChorusState",
    "ConfigurationError",
    "Credentials",
    "DepositResult",
    "Endpoints",
    "Environment",
    "Finding",
    "FlowReport",
    "Format",
    "InputError",
    "InvoiceDataError",
    "InvoiceFacts",
    "InvoiceHistory",
    "InvoiceSummary",
    "OutcomeUnknownError",
    "Requirements",
    "StatusInfo",
    "StructureDetails",
    "TransportError",
    "ValidationReport",
    "XmlValidationError",
    "build_deposit",
    "check_routing",
    "compact_siret",
    "deposit_filename",
    "detect_format",
    "extract_xml",
    "find_budget",
    "flow_status",
    "format_siret",
    "invoice_status",
    "is_valid_siret",
    "read_facts",
    "validate",
    "validate_siret",
]
