"""The addon's manifest names its Python dependencies as Odoo 18 wants them: distribution names."""

import ast
import importlib.metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _manifest() -> dict:
    return ast.literal_eval((ROOT / "odoo_chorus_rouen" / "__manifest__.py").read_text(encoding="utf-8"))


def _setup_requirements() -> dict[str, Requirement]:
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "install_requires":
            return {Requirement(req).name.lower(): Requirement(req) for req in ast.literal_eval(node.value)}
    raise AssertionError("setup.py has no install_requires")


def test_external_dependencies_are_installed_distributions_required_by_setup_py():
    """Odoo 18 looks each name up with importlib.metadata; an import name (stdnum) only gets a warning."""
    required = _setup_requirements()
    for spec in _manifest()["external_dependencies"]["python"]:
        requirement = Requirement(spec)
        version = importlib.metadata.version(requirement.name)  # raises for an import name like "stdnum"
        assert requirement.specifier.contains(version), spec
        assert requirement.name.lower() in required, f"{spec} is not in setup.py's install_requires"
        assert str(requirement.specifier) == str(required[requirement.name.lower()].specifier) or not (
            requirement.specifier
        ), f"{spec}: same floor as setup.py"
