# Imported by Odoo as odoo.addons.odoo_chorus_rouen_sale only (like the main addon, whose folder is also a
# plain Python package): nothing to load on a machine without Odoo.
if __name__.startswith("odoo.addons."):
    from . import models  # noqa: F401
    from . import wizard  # noqa: F401
