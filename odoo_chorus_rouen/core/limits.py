"""Platform limits shared by validation, the deposit, the sandbox and the command line (one source each).

``MAX_DEPOSIT_SIZE``: one file deposited on Chorus Pro, at most 10 MB. Sources
(``docs/CHORUS_PRO_API.md`` §4, "Limits"): ``deposerPDFFacture`` refuses a file over 10 MB with
HTTP 413 [C: the platform's own error catalogue]; for ``deposerFluxFacture`` the only figure
found is "10 MB a file, 30 compressed" [U: attributed to the external specifications' annex
V5.00, not observed]. The 120 MB figure sometimes quoted is the whole invoicing folder (the
invoice *with its attachments*, uploaded separately), not one deposited file. A Factur-X PDF
over 10 MB is refused before it leaves, and the sandbox refuses it the same way (HTTP 413).

>>> MAX_DEPOSIT_SIZE
10485760
"""

from __future__ import annotations

__all__ = ["MAX_DEPOSIT_SIZE", "MAX_INFLATED_SIZE", "MAX_UNPACKED_SIZE"]

MAX_DEPOSIT_SIZE = 10 * 1024 * 1024
#: What the streams of one PDF may unpack to **in all** (the embedded ``factur-x.xml``, the supporting
#: documents, the XMP...): the size of one deposit. The platform publishes no figure for what a file
#: may unpack to [U]; this bound is ours, chosen so that memory and time stay bounded whatever the
#: compression ratio (250 attachments of 10 MB fit in a 2.5 MB PDF). It costs a real invoice little:
#: supporting documents are PDFs and images, already compressed, which unpack to about their size in
#: the deposit, itself at most ``MAX_DEPOSIT_SIZE``.
MAX_INFLATED_SIZE = MAX_DEPOSIT_SIZE
#: A ``.tar.gz`` flow of several invoices: "30 compressed" is the only figure found [U], so the
#: sandbox unpacks at most this much in all (and each member at most ``MAX_DEPOSIT_SIZE``).
MAX_UNPACKED_SIZE = 30 * 1024 * 1024
