"""Reliability group: exactly-once and no-loss promises under random faults and killed workers.

A smaller run of ``bench/soak_exactly_once.py`` (which runs 1,000 invoices); ``pytest -m reliability``
runs this group alone.
"""

import importlib.util
import pathlib

import pytest

BENCH = pathlib.Path(__file__).resolve().parent.parent / "bench" / "soak_exactly_once.py"


def load_soak():
    spec = importlib.util.spec_from_file_location("soak_exactly_once", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.reliability
def test_200_invoices_under_30_percent_faults_and_killed_workers_are_deposited_exactly_once():
    soak = load_soak()
    lines = []
    result = soak.run_soak(invoices=200, workers=2, kills=5, fault_rate=0.3, seed=7, time_limit=400, out=lines.append)
    assert result["kills"] == 5, lines
    assert result["deposited_twice_or_more"] == [], "duplicate deposits"
    assert result["never_deposited"] == [], "lost invoices"
    assert result["deposited_once"] == 200
    assert result["not_paid"] == [], result["final_states"]


@pytest.mark.reliability
def test_the_soak_catches_a_sender_that_deposits_again_without_asking():
    """The check above can fail: a sender that skips the settle step is caught with duplicates."""
    soak = load_soak()
    soak.WORKER = soak.WORKER.replace(
        "from odoo_chorus_rouen.core.outbox import Outbox",
        "from odoo_chorus_rouen.core.outbox import Outbox\n"
        "from odoo_chorus_rouen.core import delivery\n"
        "delivery.settle_decision = lambda found, elapsed, settle_delay=0: 'deposit_again'",
    )
    result = soak.run_soak(invoices=60, workers=2, kills=2, fault_rate=0.3, seed=7, time_limit=300, out=lambda _: None)
    assert result["deposited_twice_or_more"], "a naive sender should have deposited some invoices twice"
