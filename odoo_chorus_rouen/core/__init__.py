"""Pure-Python core of odoo_chorus_rouen: it never imports Odoo.

Budgets, status table, typed errors, validation of Factur-X / CII / UBL invoices, the
``deposerFluxFacture`` envelope, and the Chorus Pro client (the only HTTP).
"""

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
from .status import FLOW_STATES, INVOICE_STATUSES, ChorusState, StatusInfo, flow_status, invoice_status

__all__ = [
    "BUDGETS",
    "FLOW_STATES",
    "INVOICE_STATUSES",
    "METROPOLE_NAME",
    "METROPOLE_SIREN",
    "ApiError",
    "AuthenticationError",
    "Budget",
    "ChorusError",
    "ChorusState",
    "ConfigurationError",
    "InputError",
    "InvoiceDataError",
    "OutcomeUnknownError",
    "Requirements",
    "StatusInfo",
    "TransportError",
    "XmlValidationError",
    "compact_siret",
    "find_budget",
    "flow_status",
    "format_siret",
    "invoice_status",
    "is_valid_siret",
    "validate_siret",
]
