"""Completing a suspended invoice: ajouterFichierDansSysteme + completerFacture, client and sandbox.

The sandbox plays the buyer (it suspends the invoice), the client uploads the files and completes
it; refusals come back as typed errors with the platform's codes; a cut connection during
completerFacture is settled from the invoice's history and never completes it twice.
"""

import base64
import json
import urllib.request

import pytest

from odoo_chorus_rouen.core import completion
from odoo_chorus_rouen.core.auth import TokenCache
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.client_answers import HistoryEntry, InvoiceHistory
from odoo_chorus_rouen.core.client_completion import (
    COMMENT_MAX_LENGTH,
    CompletionRefusedError,
    UploadedFile,
    complete_invoice,
    upload_attachment,
)
from odoo_chorus_rouen.core.errors import ApiError, InputError, OutcomeUnknownError, TransportError
from odoo_chorus_rouen.sandbox import SandboxServer

PDF = b"%PDF-1.4\n% bon de livraison\n" + b"0" * 2000


@pytest.fixture
def sandbox():
    with SandboxServer(port=0, state_path=":memory:", processing_delay=0) as server:
        yield server


@pytest.fixture
def client(sandbox):
    with ChorusClient(sandbox.credentials, sandbox.url, token_cache=TokenCache(), timeout=10.0,
                      sleep=lambda _s: None) as chorus:
        yield chorus


def suspended(sandbox, reason="Bon de livraison manquant"):
    sandbox.seed_invoices(1, status="MISE_A_DISPOSITION", prefix="SUSP-")
    chorus_id = sandbox.invoices()[-1]["identifiantFactureCPP"]
    sandbox.set_invoice_status(chorus_id, "SUSPENDUE", reason)
    return chorus_id


def control(sandbox, path):
    with urllib.request.urlopen(sandbox.url + path, timeout=10) as answer:  # noqa: S310 - loopback sandbox
        data = answer.read()
        return json.loads(data) if answer.headers.get_content_type() == "application/json" else data


def test_complete_a_suspended_invoice_with_a_file_and_a_comment(client, sandbox):
    chorus_id = suspended(sandbox)
    uploaded = upload_attachment(client, "bon-livraison.pdf", PDF, "application/pdf")
    assert uploaded.attachment_id > 0 and uploaded.extension == "PDF"
    result = complete_invoice(client, chorus_id, [uploaded], "Voici le bon de livraison signé.")
    assert result.chorus_id == chorus_id and result.number.startswith("SUSP-")
    assert result.processed_at is not None

    history = client.invoice_history(chorus_id)
    assert history.current_status == "COMPLETEE"
    assert [e.status for e in history.entries][-2:] == ["SUSPENDUE", "COMPLETEE"]
    assert history.entries[-1].comment == "Voici le bon de livraison signé."
    # The control API shows the file, attached to the invoice, with its bytes.
    files = control(sandbox, f"/sandbox/invoices/{chorus_id}/attachments")
    assert [(f["pieceJointeId"], f["name"], f["mime"], f["size"]) for f in files] == [
        (uploaded.attachment_id, "bon-livraison.pdf", "application/pdf", len(PDF))
    ]
    assert control(sandbox, f"/sandbox/attachments/{uploaded.attachment_id}/file") == PDF
    assert client.calls["ajouterFichierDansSysteme"] == 1 and client.calls["completerFacture"] == 1


def test_completing_twice_is_refused_with_the_wrong_status_code(client, sandbox):
    chorus_id = suspended(sandbox)
    complete_invoice(client, chorus_id, [], "Pièces envoyées par courrier.")
    with pytest.raises(CompletionRefusedError) as caught:
        complete_invoice(client, chorus_id, [], "encore")
    err = caught.value
    assert (err.code, err.chorus_code, err.chorus_label) == ("completion_wrong_status", 20002, "GDP_MSG_11.033")
    assert not err.retryable


def test_unknown_invoice_and_unknown_file_are_refused(client, sandbox):
    with pytest.raises(CompletionRefusedError) as caught:
        complete_invoice(client, 999999, [], "x")
    assert (caught.value.code, caught.value.chorus_code, caught.value.chorus_label) == (
        "completion_unknown_invoice", 20000, "GDP_MSG_11.008")
    chorus_id = suspended(sandbox)
    ghost = UploadedFile(attachment_id=123, name="x.pdf", mime_type="application/pdf", extension="PDF")
    with pytest.raises(CompletionRefusedError) as caught:
        complete_invoice(client, chorus_id, [ghost], "x")
    assert caught.value.chorus_code == 20003
    assert client.invoice_history(chorus_id).current_status == "SUSPENDUE"


def test_files_chorus_pro_refuses(client, sandbox):
    with pytest.raises(CompletionRefusedError) as caught:
        upload_attachment(client, "setup.exe", b"MZ" * 10, "application/octet-stream")
    assert caught.value.code == "attachment_refused" and caught.value.chorus_code == 20003
    assert ".exe" in caught.value.chorus_label
    with pytest.raises(CompletionRefusedError) as caught:
        upload_attachment(client, "releve.pdf", b"0" * (10 * 1024 * 1024 + 1), "application/pdf")
    assert caught.value.http_status == 413 and caught.value.code == "attachment_refused"
    with pytest.raises(CompletionRefusedError):
        upload_attachment(client, "x" * 51 + ".pdf", PDF, "application/pdf")
    with pytest.raises(InputError):  # no extension: nothing is sent
        upload_attachment(client, "README", PDF, "text/plain")
    with pytest.raises(InputError):
        complete_invoice(client, 1, [], "x" * (COMMENT_MAX_LENGTH + 1))
    assert control(sandbox, "/sandbox/attachments") == []


def test_cut_connection_during_completion_is_settled_from_the_history(client, sandbox):
    chorus_id = suspended(sandbox)
    uploaded = upload_attachment(client, "attestation.pdf", PDF, "application/pdf")
    sandbox.inject_fault("cut", operation="completerFacture")
    with pytest.raises(OutcomeUnknownError):
        complete_invoice(client, chorus_id, [uploaded], "Attestation de service fait.")
    assert client.calls["completerFacture"] == 1  # a write is never retried by the client
    settlement = completion.settle_completion(client.invoice_history(chorus_id))
    assert settlement.kind == "completed" and settlement.done
    assert settlement.entry.comment == "Attestation de service fait."
    assert [e["status"] for e in sandbox.invoice(chorus_id)["history"]].count("COMPLETEE") == 1


def test_failure_before_the_platform_is_not_recorded(client, sandbox):
    chorus_id = suspended(sandbox)
    sandbox.inject_fault("http_503", operation="completerFacture")
    with pytest.raises(ApiError) as caught:
        complete_invoice(client, chorus_id, [], "x")
    assert completion.classify_completion_failure(caught.value) == "retry"
    settlement = completion.settle_completion(client.invoice_history(chorus_id))
    assert settlement.kind == "not_recorded" and not settlement.done
    complete_invoice(client, chorus_id, [], "x")
    assert client.invoice_history(chorus_id).current_status == "COMPLETEE"


def test_settlement_rules():
    def history(status, *codes):
        return InvoiceHistory(1, "F", status, tuple(HistoryEntry(c, None, None, i) for i, c in enumerate(codes)))

    # Completed once, suspended again later: the new suspension is not completed yet.
    assert completion.settle_completion(history("SUSPENDUE", "SUSPENDUE", "COMPLETEE", "SUSPENDUE")).kind == \
        "not_recorded"
    assert completion.settle_completion(history("MANDATEE", "SUSPENDUE", "COMPLETEE", "MANDATEE")).kind == "completed"
    assert completion.settle_completion(history("REJETEE", "SUSPENDUE", "REJETEE")).kind == "moved_on"
    assert completion.classify_completion_failure(TransportError(params={"reason": "refused"})) == "retry"
    assert completion.classify_completion_failure(ApiError(http_status=200, chorus_code=20002)) == "refused"


def test_upload_body_is_what_the_platform_expects(sandbox, client, monkeypatch):
    sent = []
    original = client._call

    def spy(operation, body, **kwargs):
        sent.append((operation, body))
        return original(operation, body, **kwargs)

    monkeypatch.setattr(client, "_call", spy)
    uploaded = upload_attachment(client, "Planning.XLSX", b"PK\x03\x04data", "application/vnd.ms-excel")
    operation, body = sent[0]
    assert operation == "ajouterFichierDansSysteme"
    assert body["pieceJointeNom"] == "Planning.XLSX" and body["pieceJointeExtension"] == "XLSX"
    assert base64.b64decode(body["pieceJointeFichier"]) == b"PK\x03\x04data"
    chorus_id = suspended(sandbox)
    complete_invoice(client, chorus_id, [uploaded], None)
    assert sent[-1][1]["pieceJointeComplementaire"] == [{
        "pieceJointeComplementaireDesignation": "Planning.XLSX",
        "pieceJointeComplementaireId": uploaded.attachment_id,
        "pieceJointeComplementaireType": "XLSX",
    }]
    assert "commentaire" not in sent[-1][1]
