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
        # Distribution names (what pip installs), not import names: Odoo 18 warns about the latter.
        "python": ["python-stdnum", "lxml", "requests", "factur-x", "saxonche", "pypdf>=6.0"],
    },
    "data": [
        "security/security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "data/res_partner_data.xml",
        "data/res_partner_address_data.xml",
        "views/chorus_pro_service_views.xml",
        "views/res_partner_views.xml",
        "views/res_config_settings_views.xml",
        "views/account_move_views.xml",
        "wizard/chorus_pro_recycle_views.xml",
    ],
    "installable": True,
    "application": False,
}
