"""Shared fixtures of the pure-Python test suite (no Odoo needed).

``DATA_DIR`` is the repository's top-level ``data/`` folder: sample invoices in
``data/invoices/`` (made by ``data/make_samples.py``), reference code lists in ``data/reference/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR_PATH = ROOT_DIR / "data"


@pytest.fixture(scope="session")
def DATA_DIR() -> Path:  # noqa: N802 - the name the suites share
    return DATA_DIR_PATH


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA_DIR_PATH


@pytest.fixture(scope="session")
def invoices_dir() -> Path:
    return DATA_DIR_PATH / "invoices"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return DATA_DIR_PATH / "reference"


@pytest.fixture(scope="session")
def read_sample(invoices_dir):
    """``read_sample("facturx_principal_invoice.pdf") -> bytes``."""

    def read(name: str) -> bytes:
        return (invoices_dir / name).read_bytes()

    return read


@pytest.fixture(scope="session")
def orders_dir() -> Path:
    """The sample purchase orders (made by ``data/make_orders.py``)."""
    return DATA_DIR_PATH / "orders"


@pytest.fixture(scope="session")
def make_orders():
    """``data/make_orders.py`` as a module (a script beside the samples): its PDF writer and variants."""
    import importlib.util
    import sys

    if "make_orders" not in sys.modules:
        spec = importlib.util.spec_from_file_location("make_orders", DATA_DIR_PATH / "make_orders.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["make_orders"] = module  # dataclasses look their module up while being created
        spec.loader.exec_module(module)
    return sys.modules["make_orders"]
