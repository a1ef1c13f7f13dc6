"""``python -m odoo_chorus_rouen.sandbox [--port 8765] [--state FILE]``."""

import sys

from .command import main

sys.exit(main(prog="python -m odoo_chorus_rouen.sandbox"))
