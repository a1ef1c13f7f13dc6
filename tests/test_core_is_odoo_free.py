"""The core, the sandbox and the command line work on a machine without Odoo."""

import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "odoo_chorus_rouen"
PURE_DIRS = ["core", "sandbox"]


def _imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("folder", PURE_DIRS)
def test_no_source_file_imports_odoo(folder):
    offenders = [
        f"{path.relative_to(PACKAGE)}: {module}"
        for path in sorted((PACKAGE / folder).rglob("*.py"))
        for module in _imported_modules(path)
        if module == "odoo" or module.startswith("odoo.")
    ]
    assert offenders == []


@pytest.mark.parametrize("module", ["odoo_chorus_rouen.core", "odoo_chorus_rouen.sandbox", "odoo_chorus_rouen.cli"])
def test_imports_with_odoo_unimportable(module):
    # sys.modules["odoo"] = None makes any "import odoo" fail with ImportError.
    code = (
        "import sys\n"
        "sys.modules['odoo'] = None\n"
        f"import {module}\n"
        "leaked = sorted(m for m in sys.modules if m == 'odoo' or m.startswith('odoo.'))\n"
        "assert leaked == ['odoo'], leaked\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_only_the_client_transport_and_auth_import_requests():
    users = sorted(
        str(path.relative_to(PACKAGE))
        for folder in [*PURE_DIRS, "models"]
        for path in (PACKAGE / folder).rglob("*.py")
        if any(m == "requests" or m.startswith("requests.") for m in _imported_modules(path))
    )
    assert set(users) <= {"core/client_transport.py", "core/auth.py"}, users
