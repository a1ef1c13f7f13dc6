{
    "name": "Chorus Pro for Métropole Rouen Normandie: Sales",
    "summary": "Quotations carry the Chorus Pro engagement number, service code and contract to every invoice",
    "version": "18.0.1.0.0",
    "category": "Accounting/Localizations/EDI",
    "license": "LGPL-3",
    "author": "odoo_chorus_rouen",
    "website": "https://example.invalid/odoo_chorus_rouen",
    "depends": [
        "sale",
        "odoo_chorus_rouen",
    ],
    "data": [
        "security/ir.model.access.csv",
        "views/sale_order_views.xml",
        "wizard/chorus_pro_order_read_views.xml",
        "views/sale_order_purchase_order_views.xml",
    ],
    "auto_install": True,
    "installable": True,
    "application": False,
}
