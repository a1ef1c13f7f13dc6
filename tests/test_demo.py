"""``chorus-rouen demo`` tells the whole story, right after install, against its own sandbox."""

import subprocess
import sys


def test_demo_runs_end_to_end_and_explains_each_invoice():
    result = subprocess.run(
        [sys.executable, "-m", "odoo_chorus_rouen.cli", "demo", "--delay", "0.05"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "127.0.0.1" in out
    # progress while waiting for the flows
    assert "4/4 flows processed" in out
    # one paid, one recycled then paid, one refused by the buyer, one refused by Chorus Pro for a reason
    assert out.count("Payment initiated") >= 2
    assert "recycled with" in out
    assert "Rejected by the recipient" in out
    assert "refused by Chorus Pro" in out and "engagement" in out
    assert "read in 1 API call(s)" in out
    assert "Every invoice reached its final state." in out
