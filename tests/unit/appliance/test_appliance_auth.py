"""Login, bearer tokens, unauthenticated endpoints."""

from __future__ import annotations

import logging

import pytest
from appliance_helpers import API, PASSWORD, USER, assert_error, make_config, started
from fastapi.testclient import TestClient

from acme_appliance.app import create_app


@pytest.mark.parametrize("overrides, ttl", [({}, 3600), ({"token_ttl": 42}, 42)])
def test_login_returns_token_and_ttl(data_dir, overrides: dict, ttl: int) -> None:
    with TestClient(create_app(make_config(data_dir, **overrides))) as anon:
        reply = anon.post(f"{API}/auth/login", json={"username": USER, "password": PASSWORD})
    assert reply.status_code == 200
    assert len(reply.json()["token"]) >= 32 and reply.json()["expires_in"] == ttl


@pytest.mark.parametrize("username, password", [(USER, "wrong"), ("nobody", PASSWORD),
                                                (USER, ""), ("", "")])
def test_wrong_credentials_are_401(anon: TestClient, username: str, password: str) -> None:
    reply = anon.post(f"{API}/auth/login", json={"username": username, "password": password})
    body = assert_error(reply, 401, "UNAUTHORIZED")
    assert "token" not in body
    assert reply.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic YWRtaW46cw==", "Bearer "])
def test_protected_calls_need_a_valid_token(anon: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path in (("GET", "/system"), ("GET", "/pools"), ("GET", "/shares"),
                         ("POST", "/shares"), ("GET", "/snapshots/x")):
        reply = anon.request(method, f"{API}{path}", headers=headers, json={})
        assert_error(reply, 401, "UNAUTHORIZED")


def test_unauthenticated_endpoints(anon: TestClient) -> None:
    assert anon.get(f"{API}/health").json() == {"status": "ok"}
    assert anon.get("/health").json() == {"status": "ok"}
    assert anon.get(f"{API}/openapi.json").status_code == 200
    assert_error(anon.get(f"{API}/_admin/faults"), 401, "UNAUTHORIZED")
    assert_error(anon.post(f"{API}/_admin/faults", json={"path": "(a+)+$", "action": "fail"}),
                 401, "UNAUTHORIZED")


def test_passwords_are_never_logged(anon: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    anon.post(f"{API}/auth/login", json={"username": USER, "password": PASSWORD})
    anon.post(f"{API}/auth/login", json={"username": USER, "password": "wrong-secret-x"})
    assert "logged in" in caplog.text and "failed login" in caplog.text
    assert PASSWORD not in caplog.text and "wrong-secret-x" not in caplog.text


@pytest.mark.parametrize("users, works", [
    ({USER: PASSWORD}, True), ({USER: "a-new-password"}, False), ({"ops": PASSWORD}, False)])
def test_a_token_is_bound_to_the_credentials_it_was_issued_for(data_dir, users: dict,
                                                               works: bool) -> None:
    with started(data_dir) as client:
        token = client.headers["Authorization"]
        client.app.state.appliance.store.close()
    with started(data_dir, token=token, users=users) as again:
        reply = again.get(f"{API}/system")
        again.app.state.appliance.store.close()
    if works:
        assert reply.status_code == 200
    else:
        assert_error(reply, 401, "UNAUTHORIZED")
    with started(data_dir, token=token) as back:  # dropped at start: gone for good
        assert back.get(f"{API}/system").status_code == (200 if works else 401)


def test_logout_revokes_the_token(data_dir) -> None:
    with started(data_dir) as client, started(data_dir) as other:
        assert client.post(f"{API}/auth/logout").status_code == 204
        assert_error(client.get(f"{API}/system"), 401, "UNAUTHORIZED")
        assert_error(client.post(f"{API}/auth/logout"), 401, "UNAUTHORIZED")
        assert other.get(f"{API}/system").status_code == 200
    with started(data_dir, token=client.headers["Authorization"]) as again:
        assert_error(again.get(f"{API}/system"), 401, "UNAUTHORIZED")
