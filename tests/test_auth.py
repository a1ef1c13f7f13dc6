"""PISTE OAuth2: credentials, endpoints, token fetch and the token cache (no network: ``responses``)."""

import threading
import time
import urllib.parse
from collections import namedtuple

import pytest
import requests
import responses

from odoo_chorus_rouen.core.auth import (
    EXPIRY_MARGIN,
    Credentials,
    Endpoints,
    Environment,
    TokenCache,
    TokenProvider,
    parse_retry_after,
    redact,
)
from odoo_chorus_rouen.core.errors import ApiError, AuthenticationError, ConfigurationError, TransportError

TOKEN_URL = "https://sandbox-oauth.piste.gouv.fr/api/oauth/token"
SECRET = "cs-Very-Secret-123"
PASSWORD = "pw-Very-Secret-456"
CREDS = Credentials("my-client-id", SECRET, "TECH_1_demo@cpro.fr", PASSWORD)


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def token_answer(access_token="tok-1", expires_in=3600):
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in, "scope": "openid"}


def provider(**kwargs):
    kwargs.setdefault("cache", TokenCache())
    kwargs.setdefault("timeout", 7.5)
    return TokenProvider(CREDS, TOKEN_URL, **kwargs)


# --------------------------------------------------------------------------- credentials / endpoints


def test_credentials_never_show_secrets():
    for text in (repr(CREDS), str(CREDS), f"{CREDS}", f"{CREDS!r}", repr([CREDS]), repr({"c": CREDS})):
        assert SECRET not in text and PASSWORD not in text
        assert "my-client-id" in text and "TECH_1_demo@cpro.fr" in text
        assert CREDS.cpro_account not in text


def test_cpro_account_is_base64_of_login_password():
    import base64

    assert base64.b64decode(CREDS.cpro_account).decode() == f"TECH_1_demo@cpro.fr:{PASSWORD}"
    accented = Credentials("id", "s", "TECH_é@cpro.fr", "mötdepasse")
    assert base64.b64decode(accented.cpro_account).decode("utf-8") == "TECH_é@cpro.fr:mötdepasse"


def test_credentials_coerce_from_mapping_tuple_and_object():
    as_dict = {"client_id": "a", "client_secret": "b", "login": "c", "password": "d"}
    Named = namedtuple("Named", "client_id client_secret login password")
    expected = Credentials("a", "b", "c", "d")
    assert Credentials.coerce(as_dict) == expected
    assert Credentials.coerce(("a", "b", "c", "d")) == expected
    assert Credentials.coerce(Named("a", "b", "c", "d")) == expected
    assert Credentials.coerce(expected) is expected


def test_missing_credentials_are_named():
    with pytest.raises(ConfigurationError) as info:
        Credentials.coerce({"client_id": "a", "client_secret": "", "login": "c"})
    assert info.value.code == "missing_credentials"
    assert info.value.params["fields"] == "client_secret, password"


def test_endpoints():
    prod = Endpoints.for_environment(Environment.PRODUCTION)
    assert prod == Endpoints("https://oauth.piste.gouv.fr/api/oauth/token", "https://api.piste.gouv.fr")
    assert prod.environment is Environment.PRODUCTION and prod.is_production
    qualif = Endpoints.for_environment("qualification")
    assert qualif.token_url == TOKEN_URL and qualif.api_url == "https://sandbox-api.piste.gouv.fr"
    assert qualif.environment is Environment.QUALIFICATION and not qualif.is_production
    local = Endpoints.from_base_url("http://127.0.0.1:8765/")
    assert local == Endpoints("http://127.0.0.1:8765/api/oauth/token", "http://127.0.0.1:8765")
    assert local.environment is None and not local.is_production
    assert Endpoints.coerce("http://127.0.0.1:8765") == local
    assert Endpoints.coerce("production") == prod
    assert Endpoints.coerce(local) is local
    with pytest.raises(ConfigurationError) as info:
        Endpoints.for_environment("staging")
    assert info.value.code == "unknown_environment"
    with pytest.raises(ConfigurationError):
        Endpoints.from_base_url("127.0.0.1:8765")


# --------------------------------------------------------------------------- token requests


def test_token_request_is_a_client_credentials_form(rsps):
    rsps.post(TOKEN_URL, json=token_answer())
    token = provider().token()
    assert token.access_token == "tok-1" and token.authorization == "Bearer tok-1"
    request = rsps.calls[0].request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = dict(urllib.parse.parse_qsl(request.body))
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "my-client-id",
        "client_secret": SECRET,
        "scope": "openid",
    }
    assert request.req_kwargs["timeout"] == 7.5
    assert SECRET not in repr(token) and "tok-1" not in repr(token)


def test_token_is_cached_until_the_margin(rsps):
    rsps.post(TOKEN_URL, json=token_answer("tok-1"))
    rsps.post(TOKEN_URL, json=token_answer("tok-2"))
    clock = FakeClock()
    fetched = []
    prov = provider(clock=clock, on_fetch=fetched.append)
    assert prov.token().access_token == "tok-1"
    clock.now += 3600 - EXPIRY_MARGIN - 1
    assert prov.token().access_token == "tok-1"
    assert len(rsps.calls) == 1
    clock.now += 2  # inside the 240 s margin
    assert prov.token().access_token == "tok-2"
    assert len(rsps.calls) == 2 and [t.access_token for t in fetched] == ["tok-1", "tok-2"]


def test_short_lived_token_uses_ten_percent_margin(rsps):
    rsps.post(TOKEN_URL, json=token_answer("short", expires_in=60))
    clock = FakeClock()
    prov = provider(clock=clock)
    prov.token()
    clock.now += 53
    prov.token()
    assert len(rsps.calls) == 1
    clock.now += 2  # 55 s > 60 - 6
    prov.token()
    assert len(rsps.calls) == 2


def test_cache_is_shared_by_url_client_and_secret(rsps):
    rsps.post(TOKEN_URL, json=token_answer())
    cache = TokenCache()
    TokenProvider(CREDS, TOKEN_URL, cache=cache).token()
    TokenProvider(Credentials("my-client-id", SECRET, "other-login", "x"), TOKEN_URL, cache=cache).token()
    assert len(rsps.calls) == 1  # same application: one token
    TokenProvider(Credentials("my-client-id", "another-secret", "l", "p"), TOKEN_URL, cache=cache).token()
    TokenProvider(Credentials("other-client", SECRET, "l", "p"), TOKEN_URL, cache=cache).token()
    TokenProvider(CREDS, "http://127.0.0.1:9/api/oauth/token", cache=cache)  # not called
    assert len(rsps.calls) == 3
    assert len(cache) == 3


def test_invalidate_keeps_a_newer_token(rsps):
    rsps.post(TOKEN_URL, json=token_answer("tok-1"))
    rsps.post(TOKEN_URL, json=token_answer("tok-2"))
    prov = provider()
    old = prov.token()
    prov.invalidate(old)
    new = prov.token()
    assert new.access_token == "tok-2"
    prov.invalidate(old)  # a late thread that still holds tok-1
    assert prov.token() is new
    assert len(rsps.calls) == 2


def test_concurrent_callers_fetch_one_token(rsps):
    def slow_token(request):
        time.sleep(0.05)
        return 200, {}, '{"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600}'

    rsps.add_callback(responses.POST, TOKEN_URL, callback=slow_token)
    prov = provider()
    results = []
    threads = [threading.Thread(target=lambda: results.append(prov.token().access_token)) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["tok-1"] * 16
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("status", [400, 401, 403])
def test_refused_token_is_an_authentication_error(rsps, status, caplog):
    # A (hypothetical) server echoing the secret must not make it leak.
    rsps.post(
        TOKEN_URL,
        status=status,
        json={"error": "invalid_client", "error_description": f"Bad client secret {SECRET}"},
    )
    with pytest.raises(AuthenticationError) as info:
        provider().token()
    err = info.value
    assert err.code == "authentication_error" and not err.retryable
    assert err.params["http_status"] == status
    assert "invalid_client" in str(err) and "my-client-id" in str(err)
    for text in (str(err), repr(err), repr(err.to_dict()), caplog.text):
        assert SECRET not in text


def test_network_failure_is_a_transport_error(rsps):
    rsps.post(TOKEN_URL, body=requests.exceptions.ConnectionError("Connection refused"))
    with pytest.raises(TransportError) as info:
        provider().token()
    assert type(info.value) is TransportError and info.value.retryable
    assert "Connection refused" in str(info.value)


def test_non_json_token_answer_is_an_api_error(rsps):
    rsps.post(TOKEN_URL, body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(ApiError) as info:
        provider().token()
    assert info.value.code == "invalid_response" and info.value.http_status == 200
    assert not info.value.retryable


def test_token_answer_without_access_token(rsps):
    rsps.post(TOKEN_URL, json={"token_type": "Bearer"})
    with pytest.raises(ApiError) as info:
        provider().token()
    assert info.value.code == "invalid_response"


def test_token_endpoint_unavailable_is_retryable(rsps):
    rsps.post(TOKEN_URL, status=503, body="busy", headers={"Retry-After": "5"})
    with pytest.raises(ApiError) as info:
        provider().token()
    assert info.value.retryable and info.value.http_status == 503 and info.value.retry_after == 5.0
    assert info.value.operation == "token"


# --------------------------------------------------------------------------- helpers


def test_parse_retry_after():
    assert parse_retry_after(None) is None
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after("not a date") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


def test_redact():
    assert redact(f"x {SECRET} y {PASSWORD}", CREDS.secrets) == "x *** y ***"
    assert redact(None, CREDS.secrets) == ""
    assert redact("short ab", ["ab"]) == "short ab"  # too short to be a secret worth masking
