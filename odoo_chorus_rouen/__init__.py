# The same folder is a pure-Python package (core, sandbox, cli) and an Odoo 18 addon.
# Odoo always imports addons as ``odoo.addons.<name>``: only then are the ORM models loaded,
# so ``import odoo_chorus_rouen.core`` works on a machine without Odoo.
if __name__.startswith("odoo.addons."):
    from . import models  # noqa: F401
    from . import wizard  # noqa: F401
