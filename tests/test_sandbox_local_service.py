"""The sandbox as a local service (issue 18, point 6), over HTTP.

It answers only requests addressed to it (a web page using DNS rebinding says its own name in the Host
header), refuses control changes from a web page of another site (Origin), and answers 400 with a
sentence, never 500, to JSON nested too deep, numbers out of range and huge ids.
"""

from __future__ import annotations

import doctest
import http.client
import json

import pytest
import requests

from odoo_chorus_rouen.sandbox import SandboxServer


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer() as server:
        server.seed_invoices(1)
        yield server


def raw(sandbox, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, dict]:
    """One request with exactly these headers (``requests`` would write its own Host)."""
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for key, value in {"Content-Type": "application/json", "Content-Length": str(len(body)),
                           **(headers or {})}.items():
            connection.putheader(key, value)
        connection.endheaders(body)
        answer = connection.getresponse()
        text = answer.read()
        return answer.status, json.loads(text) if text else {}
    finally:
        connection.close()


def token_headers(sandbox) -> dict[str, str]:
    creds = sandbox.credentials
    token = requests.post(f"{sandbox.url}/api/oauth/token", data={
        "grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": creds.client_secret,
    }, timeout=10).json()["access_token"]
    return {"Authorization": f"Bearer {token}", "cpro-account": creds.cpro_account}


def test_a_request_for_another_host_is_refused_on_every_face(sandbox):
    port = sandbox.port
    for path in ("/sandbox/state", "/cpro/transverses/v1/health-check", "/api/oauth/token"):
        status, answer = raw(sandbox, "GET", path, headers={"Host": f"evil.example:{port}"})
        assert status == 421, (path, answer)
        assert answer["error"].startswith(f"Host 'evil.example:{port}' is not an address of this sandbox (")
        assert "--allow-host NAME" in answer["error"]
    status, _answer = raw(sandbox, "GET", "/sandbox/state", headers={"Host": "127.0.0.1:1"})  # another port
    assert status == 421


def test_the_names_clients_really_send_are_accepted(sandbox):
    port = sandbox.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}", None):
        headers = {"Host": host} if host else {}
        status, answer = raw(sandbox, "GET", "/sandbox/state", headers=headers)
        assert status == 200, (host, answer)
    assert requests.get(f"{sandbox.url}/sandbox/state", timeout=10).status_code == 200  # what tests and Odoo send


def test_allow_host_adds_a_name_such_as_a_container_service():
    with SandboxServer(allow_hosts=("chorus-sandbox",)) as server:
        assert raw(server, "GET", "/sandbox/state", headers={"Host": f"chorus-sandbox:{server.port}"})[0] == 200
        assert raw(server, "GET", "/sandbox/state", headers={"Host": f"other:{server.port}"})[0] == 421


def test_a_control_change_from_another_site_is_refused(sandbox):
    port = sandbox.port
    before = sandbox.clock()["offset"]
    for origin in ("http://evil.example", f"http://evil.example:{port}", "null", f"https://127.0.0.1:{port}"):
        status, answer = raw(sandbox, "POST", "/sandbox/clock", b'{"advance": 3600}',
                             {"Host": f"127.0.0.1:{port}", "Origin": origin})
        assert status == 403, (origin, answer)
        assert answer["error"].startswith("A web page of another site (") and "may not change the sandbox" in \
            answer["error"]
    assert sandbox.clock()["offset"] == before, "nothing was changed"
    status, _answer = raw(sandbox, "POST", "/sandbox/clock", b'{"advance": 1}',
                          {"Host": f"127.0.0.1:{port}", "Origin": f"http://127.0.0.1:{port}"})
    assert status == 200  # its own page (same origin)
    status, _answer = raw(sandbox, "GET", "/sandbox/clock",
                          headers={"Host": f"127.0.0.1:{port}", "Origin": "http://evil.example"})
    assert status == 200  # reading is not changing (and another site cannot read the answer)


def test_json_nested_too_deep_is_400_with_a_sentence_on_both_apis(sandbox):
    deep = b"[" * 100_000 + b"]" * 100_000
    answer = requests.post(f"{sandbox.url}/sandbox/clock", data=deep, timeout=30,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid JSON body: the JSON body is nested more than 32 levels deep"
    answer = requests.post(f"{sandbox.url}/cpro/factures/v1/rechercher/fournisseur", data=deep, timeout=30,
                           headers={**token_headers(sandbox), "Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json() == {"codeRetour": 400,
                             "libelle": "Requete refusee : the JSON body is nested more than 32 levels deep"}


def test_numbers_out_of_range_and_huge_ids_are_400_and_change_nothing(sandbox):
    url = sandbox.url
    cases = [
        ("POST", "/sandbox/clock", {"advance": 1e300}, "the sandbox clock moves at most 1000 years ahead"),
        ("POST", "/sandbox/clock", b'{"advance": 1e999}', "the number 1e999 is out of range"),
        ("POST", "/sandbox/faults", {"kind": "slow", "delay": 1e300}, "delay must be between 0 and 3600"),
        ("POST", "/sandbox/faults", {"kind": "http_500", "count": 10**30}, "is out of range"),
        ("POST", "/sandbox/config", {"processing_delay": 1e300}, "processing_delay must be between 0 and"),
        ("GET", "/sandbox/invoices/99999999999999999999999", None, "id 99999999999999999999999 is out of range"),
        ("POST", "/sandbox/invoices/99999999999999999999999/status", {"status": "MANDATEE"}, "is out of range"),
        ("GET", "/sandbox/structures/99999999999999999999999", None, "is out of range (at most 2147483647)"),
    ]
    for method, path, body, words in cases:
        data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
        answer = requests.request(method, url + path, data=data, timeout=30,
                                  headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, (path, body, answer.text)
        assert words in answer.json()["error"], (path, answer.json())
    state = requests.get(f"{url}/sandbox/state", timeout=10)
    assert state.status_code == 200 and state.json()["faults"]["queued"] == [], "the clock and faults still work"
    answer = requests.post(f"{url}/cpro/factures/v1/consulter/fournisseur", timeout=30, headers=token_headers(sandbox),
                           json={"identifiantFactureCPP": 10**30})
    assert answer.status_code in (200, 400) and "codeRetour" in answer.json()


def test_the_guards_doctests():
    from odoo_chorus_rouen.sandbox import json_body, local_guard

    for module in (json_body, local_guard):
        assert doctest.testmod(module).failed == 0
