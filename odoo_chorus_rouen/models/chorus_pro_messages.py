"""Translated messages for the stable error codes of ``odoo_chorus_rouen.core``.

The core raises typed errors carrying a ``code`` and ``params`` (see ``core/errors.py``); the
Odoo layer turns them into words here, in one place, for both the partner/settings side and
the invoice side::

    from .chorus_pro_messages import MESSAGES, error_message

    raise UserError(error_message(self.env, err)) from err
    # or, for a code without an exception:
    self.env._(MESSAGES["missing_credentials"]) % {"company": ..., "fields": ...}

Placeholders are named (``%(name)s``) and filled from the error's ``params``; a missing
parameter renders as ``?`` rather than breaking the message.

A message that names a field names it by its label in the message's language (:func:`field_label`),
never by a label typed into the sentence; and every part of one message is worded in one environment
(:func:`message_env`), also when the call comes without a language.
"""

from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

MESSAGES = {
    "configuration_error": _lt(
        "Chorus Pro is not configured correctly: %(fields)s. "
        "An administrator can fix it in Invoicing > Configuration > Settings > Chorus Pro."
    ),
    "unknown_environment": _lt(
        "The Chorus Pro platform %(environment)s is unknown: choose Qualification, Production or Sandbox."
    ),
    "invalid_base_url": _lt("The Chorus Pro sandbox URL %(url)s is not valid: it must start with http:// or https://."),
    "missing_credentials": _lt(
        "Chorus Pro settings are missing for %(company)s: %(fields)s. "
        "An administrator can fill them in Invoicing > Configuration > Settings > Chorus Pro."
    ),
    "authentication_error": _lt(
        "Chorus Pro refused the credentials (%(reason)s). Check the client ID and client secret of "
        "the PISTE application and the login and password of the technical account, for the chosen platform."
    ),
    "transport_error": _lt("Chorus Pro could not be reached (%(reason)s). This is usually temporary."),
    "outcome_unknown": _lt(
        "No answer came back from Chorus Pro after sending %(operation)s: it may have been recorded. "
        "It will be looked up on Chorus Pro before anything is sent again."
    ),
    "api_error": _lt(
        "Chorus Pro answered with an error (HTTP %(http_status)s, code %(chorus_code)s): %(chorus_label)s"
    ),
    "invalid_response": _lt("Chorus Pro sent an answer that could not be understood: %(reason)s"),
    "input_error": _lt("The data given cannot be used: %(reason)s"),
    "invalid_siret": _lt("The SIRET %(siret)s is not valid: %(reason)s"),
    "invoice_data_error": _lt("The invoice breaks %(count)s Chorus Pro rule(s)."),
}

# Used when the core raises a code this table does not know (yet).
UNKNOWN_ERROR = _lt("Chorus Pro error: %(message)s")


class _Params(dict):
    """Parameters for ``%`` formatting: a missing key renders as ``?`` instead of raising."""

    def __missing__(self, key):
        return "?"


def error_message(env, error, **extra):
    """The translated message of a core ``ChorusError`` (or of any object with code/params/message).

    :param env: an Odoo environment (its language is used).
    :param error: the error raised by the core.
    :param extra: more parameters (e.g. ``company=...``) for the message.
    :return: the message, in the user's language.
    """
    code = getattr(error, "code", None)
    params = _Params(getattr(error, "params", None) or {})
    params.update(extra)
    template = MESSAGES.get(code)
    if template is None:
        params.setdefault("message", getattr(error, "message", None) or str(error))
        template = UNKNOWN_ERROR
    message = env._(template)
    return message % params


def code_message(env, code, **params):
    """The translated message for ``code`` rendered with ``params`` (missing ones show as ``?``)."""
    message = env._(MESSAGES[code])
    return message % _Params(params)


def message_env(env):
    """``env``, with the language to word a message in: the context's, else the user's.

    A call without a language (over RPC without a context, from a job) would otherwise mix two: Odoo's
    ``_`` guesses the user's language from the caller's frame, while ``env._`` and the fields' labels
    (``Field._description_string``) fall back to English. Word every part of a message (its header, its
    lines and the labels of the fields it names) in the environment this returns.
    """
    if env.lang:
        return env
    lang = env["res.users"].context_get().get("lang") or "en_US"
    return env(context={**env.context, "lang": lang})


def field_label(env, model, field_name):
    """The label of ``model``'s field ``field_name`` in ``env``'s language, as the form shows it."""
    return env[model]._fields[field_name]._description_string(env)
