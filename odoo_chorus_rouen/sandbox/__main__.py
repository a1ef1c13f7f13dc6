"""``python -m odoo_chorus_rouen.sandbox [--port 8765] [--state FILE]``."""

import sys

from .server import main

sys.exit(main(prog="python -m odoo_chorus_rouen.sandbox"))
