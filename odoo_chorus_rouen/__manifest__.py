{
    "name": "Chorus Pro for Métropole Rouen Normandie",
    "summary": "Send posted invoices to Chorus Pro automatically, exactly once, and follow their status",
    "version": "18.0.1.0.0",
    "category": "Accounting/Localizations/EDI",
    "license": "LGPL-3",
    "author": "odoo_chorus_rouen",
    "website": "https://example.invalid/odoo_chorus_rouen",
    "depends": [
        "account",
        "l10n_fr_account",
        "account_edi_ubl_cii",
        "l10n_fr_facturx_chorus_pro",
    ],
    "external_dependencies": {
        "python": ["stdnum", "lxml", "requests", "facturx", "saxonche"],
    },
    "data": [],
    "installable": True,
    "application": False,
}
