"""Every id the sandbox produces fits in 32 bits, as on the platform; earlier state files still load."""

import sqlite3

import pytest

from odoo_chorus_rouen.sandbox import SandboxServer
from odoo_chorus_rouen.sandbox.directory import MAX_PLATFORM_ID, DirectoryError


def _all_ids(sandbox):
    store = sandbox.engine.store
    return {
        "structures": [row[0] for row in store.all("SELECT id FROM structures")],
        "services": [row[0] for row in store.all("SELECT id FROM services")],
        "invoices": [row[0] for row in store.all("SELECT id FROM invoices")],
        "invoice services": [
            row[0] for row in store.all("SELECT service_id FROM invoices WHERE service_id IS NOT NULL")
        ],
    }


def test_structures_services_and_invoices_fit_in_32_bits(invoices_dir):
    with SandboxServer() as sandbox:
        sandbox.seed_invoices(50)
        added = sandbox.add_structure(siret="73282932000074", name="Fournisseur ajouté")
        service = sandbox.add_service(added["idStructureCPP"], code="SVC-NEW", name="Nouveau service")
        assert 50_000_001 <= service["idService"] <= MAX_PLATFORM_ID
        ids = _all_ids(sandbox)
        assert ids["services"] and ids["invoices"] and ids["structures"]
        for kind, values in ids.items():
            assert all(0 < value <= MAX_PLATFORM_ID for value in values), kind
        assert min(ids["services"]) == 31100101  # the Budget Principal's first service


def test_an_id_over_32_bits_is_refused():
    with SandboxServer() as sandbox, pytest.raises(DirectoryError, match="32 bits"):
        sandbox.add_structure(siret="73282932000074", name="X", services=[{"code": "A", "idService": 2631100102}])


def test_a_state_file_of_an_earlier_sandbox_loads_with_its_ids_narrowed(tmp_path):
    state = str(tmp_path / "sandbox.sqlite3")
    with SandboxServer(state_path=state) as sandbox:
        sandbox.seed_invoices(3)
        sandbox.add_service(26311001, code="SVC-OLD", name="Ajouté avant")
    # What the earlier version wrote: 10-digit service ids, in the services and on the invoices.
    db = sqlite3.connect(state)
    with db:
        for (old,) in db.execute("SELECT id FROM services").fetchall():
            wide = (old // 100 + 26_000_000) * 100 + old % 100 if old < 50_000_001 else old - 50_000_001 + 5_000_000_001
            db.execute("UPDATE services SET id = ? WHERE id = ?", (wide, old))
            db.execute("UPDATE invoices SET service_id = ? WHERE service_id = ?", (wide, old))
    wide_on_invoices = db.execute("SELECT COUNT(*) FROM invoices WHERE service_id > ?", (MAX_PLATFORM_ID,)).fetchone()
    db.close()
    with SandboxServer(state_path=state) as sandbox:
        ids = _all_ids(sandbox)
        assert len(ids["invoices"]) == 3
        for kind, values in ids.items():
            assert all(0 < value <= MAX_PLATFORM_ID for value in values), kind
        assert len(ids["invoice services"]) == wide_on_invoices[0]
        known = set(ids["services"])
        assert all(value in known for value in ids["invoice services"])  # still pointing at their service
        added = sandbox.engine.store.scalar("SELECT id FROM services WHERE code = 'SVC-OLD'")
        assert added == 50_000_001 and 31100101 in known
