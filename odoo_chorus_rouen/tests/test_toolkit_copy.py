"""The tests run this checkout's sandbox, or refuse to run: never another copy of the toolkit that Odoo's
Python happens to import (a stale ``pip install``, another checkout's ``pip install -e``)."""

import sys
import types
from pathlib import Path
from unittest.mock import patch

from odoo.tests import BaseCase, tagged

import odoo.addons.odoo_chorus_rouen as addon_under_test

from .common import ToolkitMismatch, import_sandbox_server

ADDON = Path(addon_under_test.__file__).resolve().parent


@tagged("post_install", "-at_install")
class TestToolkitCopy(BaseCase):
    def test_the_sandbox_of_the_tests_is_this_checkouts(self):
        server = import_sandbox_server()
        self.assertEqual(Path(sys.modules[server.__module__].__file__).resolve().parent.parent, ADDON)

    def test_another_copy_is_refused_in_words(self):
        other = Path("/srv/other-checkout/odoo_chorus_rouen")
        stale = types.ModuleType("odoo_chorus_rouen")
        stale.__file__ = str(other / "__init__.py")
        with patch.dict(sys.modules, {"odoo_chorus_rouen": stale}), self.assertRaises(ToolkitMismatch) as caught:
            import_sandbox_server()
        self.assertEqual(
            str(caught.exception),
            f"Odoo's Python imports the odoo_chorus_rouen package from {other}, not from the addon under test, "
            f"{ADDON}, so these tests would run another copy's sandbox: start Odoo with PYTHONPATH={ADDON.parent} "
            f"(or pip install -e {ADDON.parent} in Odoo's Python).",
        )
