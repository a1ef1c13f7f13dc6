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
