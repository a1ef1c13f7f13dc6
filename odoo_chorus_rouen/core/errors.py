"""Typed errors of the core.

Every error carries a stable ``code`` (snake_case, never reworded: the Odoo layer and the
command line map it to a translated message), an English ``message`` for logs, the ``params``
needed to render a translated message, and ``retryable``: whether the same call may pass if
it is simply tried again later.

>>> err = ApiError("Chorus Pro is unavailable", http_status=503)
>>> err.code, err.retryable
('api_error', True)
>>> str(ConfigurationError("missing_credentials", params={"fields": "client_id"}))
'Missing configuration: client_id'
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ChorusError",
    "ConfigurationError",
    "InputError",
    "InvoiceDataError",
    "OutcomeUnknownError",
    "TransportError",
    "XmlValidationError",
]


class ChorusError(Exception):
    """Base of every error raised by ``odoo_chorus_rouen.core``.

    :param message: English text for logs; defaults to the class's ``default_message``
        formatted with ``params``. Never contains a secret.
    :param code: stable identifier of the error; defaults to the class's ``code``.
    :param params: values a translated message needs (``%(name)s`` placeholders).
    :param retryable: override of the class default.
    """

    code = "chorus_error"
    default_message = "Chorus Pro error"
    retryable = False

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        params: dict[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.params: dict[str, Any] = dict(params or {})
        if code:
            self.code = code
        if retryable is not None:
            self.retryable = retryable
        if message is None:
            try:
                message = self.default_message % self.params
            except (KeyError, TypeError, ValueError):
                message = self.default_message
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """Plain representation (for JSON output and for storing on a record)."""
        return {
            "code": self.code,
            "message": self.message,
            "params": {k: v for k, v in self.params.items() if _is_plain(v)},
            "retryable": self.retryable,
        }


def _is_plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


class ConfigurationError(ChorusError):
    """Credentials missing or wrong environment: a person must fix the settings."""

    code = "configuration_error"
    default_message = "Missing configuration: %(fields)s"

    def __init__(self, code: str | None = None, message: str | None = None, **kwargs: Any) -> None:
        # ``ConfigurationError("missing_credentials", params=...)`` reads naturally at call sites.
        super().__init__(message, code=code, **kwargs)


class InputError(ChorusError, ValueError):
    """A file or value given to the core cannot be used at all (unreadable, too large, not XML...)."""

    code = "input_error"
    default_message = "Unusable input: %(reason)s"


class InvoiceDataError(ChorusError, ValueError):
    """An invoice breaks one or more rules; ``issues`` lists every one of them."""

    code = "invoice_data_error"
    default_message = "The invoice breaks %(count)s rule(s)"

    def __init__(self, issues: list[Any], message: str | None = None, **kwargs: Any) -> None:
        self.issues = list(issues)
        params = {"count": len(self.issues), **kwargs.pop("params", {})}
        super().__init__(message, params=params, **kwargs)


class XmlValidationError(ChorusError):
    """A validation tool itself failed (wraps third-party exceptions, ``raise ... from err``)."""

    code = "xml_validation_error"
    default_message = "The validation tool failed: %(reason)s"


class TransportError(ChorusError):
    """The request did not get a usable answer (network failure); may pass if retried."""

    code = "transport_error"
    default_message = "Chorus Pro could not be reached: %(reason)s"
    retryable = True


class AuthenticationError(TransportError):
    """PISTE or Chorus Pro refused the credentials (401/403, or a refused token request)."""

    code = "authentication_error"
    default_message = "Chorus Pro refused the credentials: %(reason)s"
    retryable = False


class OutcomeUnknownError(TransportError):
    """A write (a deposit) was sent but no answer came back: it may or may not have been recorded.

    The caller must look the invoice up on Chorus Pro before depositing it again.
    """

    code = "outcome_unknown"
    default_message = "No answer from Chorus Pro after sending %(operation)s: it may have been recorded"
    retryable = True


class ApiError(ChorusError):
    """Chorus Pro answered with an error: an HTTP error status or a ``codeRetour`` other than 0.

    :param http_status: HTTP status of the answer.
    :param chorus_code: ``codeRetour`` of the body, when there is one.
    :param chorus_label: ``libelle`` of the body, when there is one.
    :param retry_after: seconds asked by a ``Retry-After`` header, when there is one.
    """

    code = "api_error"
    default_message = "Chorus Pro answered HTTP %(http_status)s (codeRetour %(chorus_code)s: %(chorus_label)s)"

    def __init__(
        self,
        message: str | None = None,
        *,
        http_status: int | None = None,
        chorus_code: int | None = None,
        chorus_label: str | None = None,
        retry_after: float | None = None,
        operation: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.http_status = http_status
        self.chorus_code = chorus_code
        self.chorus_label = chorus_label
        self.retry_after = retry_after
        self.operation = operation
        params = {
            "http_status": http_status,
            "chorus_code": chorus_code,
            "chorus_label": chorus_label,
            "operation": operation,
            **kwargs.pop("params", {}),
        }
        if "retryable" not in kwargs:
            kwargs["retryable"] = http_status is not None and (http_status == 429 or http_status >= 500)
        super().__init__(message, params=params, **kwargs)
