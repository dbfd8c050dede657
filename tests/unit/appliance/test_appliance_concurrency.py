"""Parallel calls through a real uvicorn: consistent state, per-share serialisation."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from appliance_helpers import API, session

from acme_appliance.storage import Storage


def assert_consistent(http: requests.Session, url: str, data_dir) -> list[dict]:
    """Rows and directories match one to one; names are unique per pool."""
    shares = http.get(f"{url}{API}/shares", params={"limit": 1000}).json()["items"]
    assert len({(s["pool"], s["name"]) for s in shares}) == len(shares)
    assert {p.name for p in (data_dir / "shares").iterdir()} == {s["id"] for s in shares}
    snap_ids = set()
    for share in shares:
        snaps = http.get(f"{url}{API}/shares/{share['id']}/snapshots").json()["items"]
        snap_ids |= {s["id"] for s in snaps}
    assert {p.name for p in (data_dir / "snapshots").iterdir()} == snap_ids
    assert list((data_dir / "tmp").iterdir()) == []
    for share in shares:
        if share["origin_snapshot_id"]:
            assert share["origin_snapshot_id"] in snap_ids
    return shares


def test_parallel_creates_and_deletes(live, data_dir) -> None:
    names = [f"vol-{i % 5}" for i in range(20)]
    sessions = [session(live.url) for _session in range(20)]

    def create(index: int) -> tuple[int, dict]:
        reply = sessions[index].post(f"{live.url}{API}/shares",
                                     json={"name": names[index], "pool": "pool1"})
        return reply.status_code, reply.json()

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(create, range(20)))
    assert Counter(status for status, _body in results) == {201: 5, 409: 15}
    created = {body["name"]: body["id"] for status, body in results if status == 201}
    for status, body in results:
        if status == 409:
            assert body["code"] == "ALREADY_EXISTS" and body["details"]["id"] in created.values()
    shares = assert_consistent(sessions[0], live.url, data_dir)
    assert sorted(s["name"] for s in shares) == sorted(created)

    def delete(index: int) -> int:
        share_id = list(created.values())[index % 5]
        return sessions[index].delete(f"{live.url}{API}/shares/{share_id}").status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = Counter(pool.map(delete, range(20)))
    assert statuses == {204: 5, 404: 15}
    assert assert_consistent(sessions[0], live.url, data_dir) == []


def test_mixed_operations_keep_state_consistent(live, data_dir) -> None:
    http = session(live.url)
    bases = [http.post(f"{live.url}{API}/shares", json={"name": f"b{i}", "pool": "pool1"})
             .json()["id"] for i in range(4)]

    def work(index: int) -> None:
        own = session(live.url)
        base = bases[index % 4]
        snap = own.post(f"{live.url}{API}/shares/{base}/snapshots", json={"name": f"s{index}"})
        assert snap.status_code == 201, snap.text
        clone = own.post(f"{live.url}{API}/shares", json={
            "name": f"c{index}", "pool": "pool1", "origin_snapshot_id": snap.json()["id"]})
        assert clone.status_code == 201, clone.text
        if index % 2:
            assert own.delete(f"{live.url}{API}/shares/{clone.json()['id']}").status_code == 204
            url = f"{live.url}{API}/shares/{base}/snapshots/{snap.json()['id']}"
            assert own.delete(url).status_code == 204

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(work, range(20)))
    shares = assert_consistent(http, live.url, data_dir)
    assert len(shares) == 4 + 10


@pytest.fixture
def slow_copies(monkeypatch: pytest.MonkeyPatch):
    """Make each snapshot copy take 0.2 s and record how many run at once, per share."""
    active: Counter = Counter()
    peak: Counter = Counter()
    overall = {"now": 0, "peak": 0}
    guard = threading.Lock()
    real = Storage.stage_copy

    def stage_copy(self, source, object_id, read_only=False):
        with guard:
            active[source.name] += 1
            overall["now"] += 1
            peak[source.name] = max(peak[source.name], active[source.name])
            overall["peak"] = max(overall["peak"], overall["now"])
        time.sleep(0.2)
        with guard:
            active[source.name] -= 1
            overall["now"] -= 1
        return real(self, source, object_id, read_only)

    monkeypatch.setattr(Storage, "stage_copy", stage_copy)
    return peak, overall


def test_one_share_is_serialised_different_shares_are_not(live, slow_copies) -> None:
    peak, overall = slow_copies
    http = session(live.url)
    ids = [http.post(f"{live.url}{API}/shares", json={"name": f"v{i}", "pool": "pool1"})
           .json()["id"] for i in range(4)]

    def snapshot(args: tuple[str, str]) -> int:
        share_id, name = args
        return session(live.url).post(f"{live.url}{API}/shares/{share_id}/snapshots",
                                      json={"name": name}).status_code

    jobs = [(ids[0], f"same-{i}") for i in range(4)] + [(i, "other") for i in ids[1:]]
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(snapshot, jobs)) == {201}
    assert peak[ids[0]] == 1
    assert overall["peak"] >= 2


def test_parallel_renames_to_unused_names_all_succeed(live, data_dir) -> None:
    """Issue 24: each rename takes a new export id; taken outside the transaction, two renames
    got the same id and one failed with a false 409 ALREADY_EXISTS."""
    http = session(live.url)
    ids = [http.post(f"{live.url}{API}/shares", json={"name": f"r{i}", "pool": "pool1"}).json()
           ["id"] for i in range(8)]
    sessions = [session(live.url) for _share in ids]

    def rename_often(index: int) -> list[int]:
        return [sessions[index].patch(f"{live.url}{API}/shares/{ids[index]}", timeout=30,
                                      json={"name": f"r{index}-{turn}"}).status_code
                for turn in range(10)]

    with ThreadPoolExecutor(8) as pool:
        statuses = Counter(status for replies in pool.map(rename_often, range(8))
                           for status in replies)
    assert statuses == {200: 80}
    shares = assert_consistent(http, live.url, data_dir)
    assert sorted(s["name"] for s in shares) == sorted(f"r{i}-9" for i in range(8))
