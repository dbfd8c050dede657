"""Fault injection: fail, delay, drop the Nth matching call."""

from __future__ import annotations

import asyncio
import threading

import pytest
from appliance_helpers import API, assert_error, create_share, session, started
from fastapi.testclient import TestClient

from acme_appliance import faults
from acme_appliance.faults import DroppedConnection

FAULTS = f"{API}/_admin/faults"


def add_fault(client, **spec) -> dict:
    reply = client.post(FAULTS, json=spec)
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_fail_nth_call_with_status_and_code(client: TestClient) -> None:
    fault = add_fault(client, method="POST", path="/shares", nth=2, times=2, action="fail",
                      status=507, code="NO_SPACE", message="disk full")
    assert fault["seen"] == 0 and fault["hits"] == 0
    assert create_share(client, "a")
    for name in ("b", "c"):
        reply = client.post(f"{API}/shares", json={"name": name, "pool": "pool1"})
        body = assert_error(reply, 507, "NO_SPACE")
        assert body["message"] == "disk full" and body["details"] == {"injected": True}
    assert create_share(client, "d")
    assert client.get(f"{API}/shares").status_code == 200
    listed = client.get(FAULTS).json()["items"]
    assert [(f["seen"], f["hits"]) for f in listed] == [(4, 2)]
    names = [s["name"] for s in client.get(f"{API}/shares").json()["items"]]
    assert names == ["a", "d"]


def test_busy_carries_retry_after(client: TestClient) -> None:
    add_fault(client, path="/shares/[^/]+", action="fail")
    share = create_share(client, "a")
    reply = client.get(f"{API}/shares/{share['id']}")
    assert_error(reply, 503, "BUSY")
    assert reply.headers["Retry-After"] == "1"
    add_fault(client, path="/system", action="fail", code="BUSY", retry_after=7)
    assert client.get(f"{API}/system").headers["Retry-After"] == "7"
    add_fault(client, path="/pools", action="fail", status=500)
    assert_error(client.get(f"{API}/pools"), 500, "INTERNAL")
    add_fault(client, path="/pools", action="fail", code="NOT_FOUND")
    assert_error(client.get(f"{API}/pools"), 404, "NOT_FOUND")


def test_method_and_path_must_match(client: TestClient) -> None:
    add_fault(client, method="DELETE", path="/shares/.*", action="fail")
    share = create_share(client, "a")
    assert client.get(f"{API}/shares/{share['id']}").status_code == 200
    assert client.get(f"{API}/shares").status_code == 200
    assert_error(client.delete(f"{API}/shares/{share['id']}"), 503, "BUSY")
    assert client.delete(f"{API}/shares/{share['id']}").status_code == 204


def test_fail_after_runs_the_call(client: TestClient) -> None:
    add_fault(client, method="POST", path="/shares", action="fail", when="after")
    assert_error(client.post(f"{API}/shares", json={"name": "a", "pool": "pool1"}), 503, "BUSY")
    body = assert_error(client.post(f"{API}/shares", json={"name": "a", "pool": "pool1"}),
                        409, "ALREADY_EXISTS")
    assert client.get(f"{API}/shares/{body['details']['id']}").status_code == 200


def test_delay(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The delay is what the middleware asks asyncio to sleep; no wall clock is read."""
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def record(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(faults.asyncio, "sleep", record)
    add_fault(client, path="/system", action="delay", delay=0.3)
    assert client.get(f"{API}/system").status_code == 200
    assert client.get(f"{API}/system").status_code == 200
    assert slept == [0.3]
    assert [(f["seen"], f["hits"]) for f in client.get(FAULTS).json()["items"]] == [(2, 1)]


def test_list_and_clear(client: TestClient) -> None:
    one = add_fault(client, path="/a", action="drop")
    add_fault(client, path="/b", action="delay", delay=0)
    assert [f["id"] for f in client.get(FAULTS).json()["items"]][0] == one["id"]
    assert client.delete(f"{FAULTS}/{one['id']}").status_code == 204
    assert_error(client.delete(f"{FAULTS}/{one['id']}"), 404, "NOT_FOUND")
    assert len(client.get(FAULTS).json()["items"]) == 1
    assert client.delete(FAULTS).status_code == 204
    assert client.get(FAULTS).json() == {"items": [], "next": None}


@pytest.mark.parametrize("spec", [
    {"path": "(", "action": "fail"}, {"path": "/x", "action": "explode"},
    {"path": "/x", "action": "fail", "nth": 0}, {"path": "/x", "action": "fail", "status": 200},
    {"path": "/x", "action": "fail", "code": "TEAPOT"}, {"action": "fail"}])
def test_invalid_faults_are_422(client: TestClient, spec: dict) -> None:
    assert_error(client.post(FAULTS, json=spec), 422, "INVALID")


@pytest.mark.parametrize("path", [
    "(a+)+$", "(a|aa)*b", "/shares|/pools", ".*.*.*x", "a?a?a?", "(?=/shares)", "(?i)/x",
    r"(/s)\1", "(/x)*", "/x**", "/" + "x" * 200, "/shares/[^/]+/snapshots/[^/]+/.*"])
def test_patterns_that_could_backtrack_for_long_are_422(client: TestClient, path: str) -> None:
    assert_error(client.post(FAULTS, json={"path": path, "action": "fail"}), 422, "INVALID")
    assert client.get(FAULTS).json()["items"] == []


@pytest.mark.parametrize("path", [
    "/shares", ".*", "/shares/.*", "/shares/[^/]+", "/shares/[^/]+/snapshots/[^/]+",
    "/(?:shares)/[0-9a-f-]{36}", r"/shares/\w+/x?"])
def test_the_patterns_in_use_are_accepted(client: TestClient, path: str) -> None:
    assert add_fault(client, path=path, action="fail")["path"] == path


def test_a_path_longer_than_the_bound_never_matches(client: TestClient) -> None:
    add_fault(client, path="/shares/.*", action="fail", times=10)
    assert_error(client.get(f"{API}/shares/{'x' * 1100}"), 404, "NOT_FOUND")
    assert_error(client.get(f"{API}/shares/short"), 503, "BUSY")


def test_admin_calls_are_never_faulted(client: TestClient) -> None:
    add_fault(client, path=".*", action="fail", times=100)
    assert client.get(FAULTS).status_code == 200
    assert client.get(f"{API}/health").status_code == 503


def test_faults_are_off_unless_enabled(data_dir) -> None:
    with started(data_dir, enable_faults=False) as client:
        assert_error(client.post(FAULTS, json={"path": ".*", "action": "fail"}), 404, "NOT_FOUND")
        assert client.get(f"{API}/system").status_code == 200


def test_drop_in_process_raises(client: TestClient) -> None:
    add_fault(client, path="/system", action="drop")
    with pytest.raises(DroppedConnection):
        client.get(f"{API}/system")


def test_delay_does_not_block_other_calls(live, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a delayed call waits, another call is served (ordering, not timing)."""
    entered, release, done = threading.Event(), threading.Event(), []
    real_sleep = asyncio.sleep

    async def held_sleep(seconds: float) -> None:
        if seconds != 7.25:  # uvicorn's own ticks
            return await real_sleep(seconds)
        entered.set()
        await asyncio.to_thread(release.wait, 30)

    monkeypatch.setattr(faults.asyncio, "sleep", held_sleep)
    http = session(live.url)
    http.post(f"{live.url}{FAULTS}", json={"path": "/system", "action": "delay",
                                           "delay": 7.25}).raise_for_status()

    def slow_call() -> None:
        done.append(("system", http.get(f"{live.url}{API}/system", timeout=30).status_code))

    slow = threading.Thread(target=slow_call)
    slow.start()
    assert entered.wait(10)
    done.append(("pools", session(live.url).get(f"{live.url}{API}/pools", timeout=10)
                 .status_code))
    release.set()
    slow.join(30)
    assert done == [("pools", 200), ("system", 200)]


def test_the_fault_plan_is_capped(client: TestClient) -> None:
    for index in range(faults.MAX_FAULTS):
        add_fault(client, path=f"/never/{index}", action="fail")
    body = assert_error(client.post(FAULTS, json={"path": "/one-more", "action": "fail"}),
                        422, "INVALID")
    assert body["details"] == {"max_faults": faults.MAX_FAULTS}
    assert len(client.get(FAULTS).json()["items"]) == faults.MAX_FAULTS
    assert client.get(f"{API}/shares").status_code == 200
    assert client.delete(FAULTS).status_code == 204
    add_fault(client, path="/one-more", action="fail")
