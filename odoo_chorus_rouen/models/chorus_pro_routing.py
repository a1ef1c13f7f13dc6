"""The recipient checks of Chorus Pro routing, in one place for every document that carries it.

Posting an invoice (``account.move``), confirming a sales order (the ``odoo_chorus_rouen_sale``
bridge) and the send job's last look before a deposit all ask the same question: with this
recipient and these routing values (engagement number BT-13, service code BT-10, contract BT-12),
would Chorus Pro take the invoice? :meth:`ChorusProRouting.check_recipient` answers with the list
of every problem, translated, in the words of the posting checks.
"""

from odoo import api, models

from ..core.budgets import compact_siret, is_valid_siret  # noqa: TID252
from .chorus_pro_messages import field_label, message_env

ENGAGEMENT_MAX_LENGTH = 50  # numeroBonCommande (BT-13) on Chorus Pro


class ChorusProRouting(models.AbstractModel):
    _name = "chorus.pro.routing"
    _description = "Chorus Pro Routing Checks"

    @api.model
    def check_recipient(self, recipient, engagement=None, service_code=None, contract=None, labels=None):
        """Every problem of the routing of an invoice to ``recipient``, as translated sentences.

        The same rules and messages as the posting checks: the recipient's SIRET, what its
        directory entry (or, before the directory was read, the budget's defaults) requires
        (service code, engagement number, one of them), an inactive structure, a service code
        that is not an active service, the lengths Chorus Pro accepts.

        :param recipient: the Chorus Pro recipient (``res.partner`` record or id), e.g. a budget
            contact; see ``res.partner._chorus_pro_get_recipient``.
        :param engagement: engagement number (numéro d'engagement juridique, BT-13).
        :param service_code: service code (service exécutant, BT-10).
        :param contract: contract reference (numéro de marché, BT-12): Chorus Pro sets no rule on it
            today (no documented requirement or size); taken so that every caller passes the whole routing.
        :param labels: the fields the user fills, ``{"service": (model, field name), "engagement": ...}``;
            by default the invoice's. Named by their labels in the message's language.
        :return: list of translated problems (empty: Chorus Pro would take it), all in one language
            (``chorus_pro_messages.message_env``).
        """
        env = message_env(self.env)
        _ = env._
        if isinstance(recipient, int):
            recipient = env["res.partner"].browse(recipient)
        recipient = recipient.with_env(env).sudo(False)
        engagement = (engagement or "").strip()
        service_code = (service_code or "").strip()
        fields_ = {**self._chorus_pro_default_labels(), **(labels or {})}
        labels = {key: field_label(env, model, name) for key, (model, name) in fields_.items()}
        issues = []
        contact = recipient.display_name
        siret = compact_siret(recipient.siret or "")
        if not siret:
            issues.append(_(
                "The customer %(contact)s has no SIRET: fill in the SIRET of the budget the invoice is "
                "addressed to, on the contact's form.", contact=contact,
            ))
        elif not is_valid_siret(siret):
            issues.append(_(
                "The SIRET %(siret)s of %(contact)s is not valid (14 digits with a valid check digit): correct "
                "it on the contact's form, from the buyer's purchase order.", siret=recipient.siret, contact=contact,
            ))
        if recipient.chorus_pro_structure_inactive:
            issues.append(_(
                "%(contact)s is inactive in the Chorus Pro directory: Chorus Pro rejects invoices to it. Ask the "
                "buyer which SIRET to invoice, then change the customer or its SIRET.", contact=contact,
            ))
        requirements = recipient._chorus_pro_requirements(service_code=service_code or None)
        if requirements.engagement and not engagement:
            issues.append(_(
                "%(contact)s requires an engagement number (BT-13): fill in '%(field)s' (Other Info tab) with "
                "the number printed on the purchase order.", contact=contact, field=labels["engagement"],
            ))
        if requirements.service_code and not service_code:
            issues.append(_(
                "%(contact)s requires a service code (BT-10): fill in '%(field)s' (Other Info tab).",
                contact=contact, field=labels["service"],
            ))
        if requirements.service_or_engagement and not (service_code or engagement):
            issues.append(_(
                "%(contact)s requires a service code (BT-10) or an engagement number (BT-13): fill in "
                "'%(service)s' or '%(engagement)s' (Other Info tab).",
                contact=contact, service=labels["service"], engagement=labels["engagement"],
            ))
        if len(engagement) > ENGAGEMENT_MAX_LENGTH:
            issues.append(_(
                "The engagement number has %(length)s characters; Chorus Pro accepts at most %(max)s.",
                length=len(engagement), max=ENGAGEMENT_MAX_LENGTH,
            ))
        if service_code:
            codes = self.active_service_codes(recipient)
            if codes is not None and service_code not in codes:
                issues.append(_(
                    "The service code %(code)s is not an active service of %(contact)s on Chorus Pro "
                    "(active services: %(codes)s).",
                    code=service_code, contact=contact, codes=", ".join(sorted(codes)) or env._("none"),
                ))
        return issues

    @api.model
    def active_service_codes(self, recipient):
        """Active service codes of the recipient, or None while its services are not known."""
        services = recipient.with_context(active_test=False).chorus_pro_service_ids
        if not services:
            return None
        return set(services.filtered("active").mapped("code"))

    @api.model
    def _chorus_pro_default_labels(self):
        """The invoice's fields of the routing: ``{key: (model, field name)}``."""
        return {
            "service": ("account.move", "buyer_reference"),
            "engagement": ("account.move", "purchase_order_reference"),
        }
