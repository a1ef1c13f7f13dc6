"""The sandbox shows the files a deposited Factur-X embeds and rejects supporting documents that break
Chorus Pro's limits (README "Attached files": checked at integration, the flow ends IN_REJETE)."""

from __future__ import annotations

import hashlib

import facturx
import pytest
import requests

from odoo_chorus_rouen.sandbox import SandboxServer
from odoo_chorus_rouen.sandbox.pdf import simple_pdf
from odoo_chorus_rouen.sandbox.sample_invoices import deposit_body, make_cii

from .test_sandbox import CR_DETAILLE, DEPOSIT, Api

MB = 1024 * 1024


def facturx_with(number: str, documents: dict[str, bytes]) -> bytes:
    attachments = {
        name: {"filedata": data, "description": f"Justificatif {name}", "afrelationship": "supplement"}
        for name, data in documents.items()
    }
    return facturx.generate_from_binary(
        simple_pdf([f"Facture {number}"]), make_cii(number), flavor="factur-x", level="en16931",
        check_xsd=False, attachments=attachments,
    )


@pytest.fixture
def sandbox():
    with SandboxServer(max_file_size=40 * MB) as sb:
        yield sb


@pytest.fixture
def api(sandbox):
    return Api(sandbox)


def deposit(api: Api, number: str, documents: dict[str, bytes]) -> tuple[str, dict]:
    answer = api.call(DEPOSIT, deposit_body(facturx_with(number, documents), f"{number}.pdf", "IN_DP_E2_CII_FACTURX"))
    assert answer["codeRetour"] == 0, answer  # acknowledged: the content is checked at integration
    flow = answer["numeroFluxDepot"]
    return flow, api.call(CR_DETAILLE, {"numeroFluxDepot": flow})


def test_two_documents_are_embedded_and_shown(api, sandbox):
    delivery_note = simple_pdf(["Bon de livraison 12"])
    timesheet = b"jour;heures\n1;7\n2;8\n"
    flow, report = deposit(api, "FAC-PJ-0001", {"bon-livraison.pdf": delivery_note, "heures.csv": timesheet})
    assert report["etatCourantDepotFlux"] == "IN_INTEGRE", report

    answer = requests.get(f"{sandbox.url}/sandbox/flows/{flow}/embedded", timeout=10)
    assert answer.status_code == 200
    (document,) = answer.json()["documents"]
    assert document["file"] == "FAC-PJ-0001.pdf"
    files = {f["name"]: f for f in document["embedded"]}
    assert set(files) == {"factur-x.xml", "bon-livraison.pdf", "heures.csv"}
    assert files["heures.csv"]["size"] == len(timesheet)
    assert files["heures.csv"]["sha256"] == hashlib.sha256(timesheet).hexdigest()
    assert files["bon-livraison.pdf"]["relationship"] == "Supplement"
    assert files["bon-livraison.pdf"]["mime_type"] == "application/pdf"
    assert files["bon-livraison.pdf"]["description"] == "Justificatif bon-livraison.pdf"
    assert sandbox.flow_embedded(flow) == answer.json()


def test_documents_breaking_the_limits_reject_the_flow_with_every_problem(api):
    flow, report = deposit(
        api, "FAC-PJ-0002",
        {"setup.exe": b"MZ" + bytes(100), "plan.pdf": b"%PDF-1.4 " + bytes(12 * MB), "ok.pdf": simple_pdf(["ok"])},
    )
    assert report["etatCourantDepotFlux"] == "IN_REJETE", report
    errors = [e for e in report["listeErreurTechnique"] if e["codeErreur"] == "REJ_PIECE_JOINTE"]
    labels = " | ".join(e["libelleErreur"] for e in errors)
    assert len(errors) == 2, labels
    assert "setup.exe" in labels and ".exe" in labels
    # Unpacked no further than 10 MB (core.limits.MAX_INFLATED_SIZE): its size is a lower bound.
    assert "plan.pdf" in labels and "plus de 10.0 MB" in labels
    assert api.search(numeroFluxDepot=flow)["listeFactures"] == []


def test_a_flow_without_kept_file_has_no_embedded_view(sandbox):
    answer = requests.get(f"{sandbox.url}/sandbox/flows/CPP0010000000000000001/embedded", timeout=10)
    assert answer.status_code == 404
