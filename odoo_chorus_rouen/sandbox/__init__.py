"""A faithful local Chorus Pro (PISTE OAuth2 token + ``/cpro`` API + ``/sandbox`` control API).

Pure Python (standard library ``http.server`` + ``sqlite3``); it never imports Odoo or requests.
See ``README.rst`` in this folder for the endpoints, the control API and every choice made where
the platform's behaviour is not documented.

>>> from odoo_chorus_rouen.sandbox import SandboxServer
>>> with SandboxServer() as sandbox:  # doctest: +SKIP
...     print(sandbox.url, sandbox.credentials.client_id)
"""

from .access import DEFAULT_CREDENTIALS, SandboxCredentials
from .command import main, serve_forever
from .faults import FAULT_KINDS
from .gateway import ROUTES
from .server import SandboxServer

__all__ = [
    "DEFAULT_CREDENTIALS",
    "FAULT_KINDS",
    "ROUTES",
    "SandboxCredentials",
    "SandboxServer",
    "main",
    "serve_forever",
]
