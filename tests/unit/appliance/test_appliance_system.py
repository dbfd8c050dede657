"""System, pools and their usage accounting."""

from __future__ import annotations

import uuid

from appliance_helpers import API, GIB, MIB, assert_error, create_share, share_dir
from fastapi.testclient import TestClient

from acme_appliance import __version__
from acme_appliance.records import Root


def test_system(client: TestClient) -> None:
    reply = client.get(f"{API}/system")
    assert reply.status_code == 200
    assert reply.json() == {"vendor": "ACME STORAGE, Inc", "model": "ACME NAS Simulator",
                            "version": __version__, "api_version": "1",
                            "exports_pending": False}


def test_pools_empty_and_paginated(client: TestClient) -> None:
    body = client.get(f"{API}/pools").json()
    assert body["next"] is None
    assert body["items"] == [
        {"name": "pool1", "total_bytes": 10 * GIB, "free_bytes": 10 * GIB, "used_bytes": 0,
         "provisioned_bytes": 0, "share_count": 0},
        {"name": "pool2", "total_bytes": 64 * MIB, "free_bytes": 64 * MIB, "used_bytes": 0,
         "provisioned_bytes": 0, "share_count": 0}]
    first = client.get(f"{API}/pools", params={"limit": 1}).json()
    assert [p["name"] for p in first["items"]] == ["pool1"]
    second = client.get(f"{API}/pools", params={"limit": 1, "cursor": first["next"]}).json()
    assert [p["name"] for p in second["items"]] == ["pool2"] and second["next"] is None


def test_pool_counts_quotas_and_allocated_bytes(client: TestClient, data_dir) -> None:
    one = create_share(client, "a", quota_bytes=5 * MIB)
    create_share(client, "b", quota_bytes=3 * MIB + 1)
    create_share(client, "c")
    (share_dir(data_dir, one["id"]) / "f").write_bytes(b"x" * MIB)
    assert client.get(f"{API}/shares/{one['id']}").json()["used_bytes"] >= MIB
    pool = client.get(f"{API}/pools/pool1").json()
    assert pool["share_count"] == 3
    assert pool["provisioned_bytes"] == 5 * MIB + 4 * MIB
    assert MIB <= pool["used_bytes"] < 2 * MIB
    assert pool["free_bytes"] == pool["total_bytes"] - pool["used_bytes"]


def test_snapshots_count_in_pool_usage(client: TestClient, data_dir) -> None:
    share = create_share(client, "a")
    (share_dir(data_dir, share["id"]) / "f").write_bytes(b"x" * MIB)
    client.post(f"{API}/shares/{share['id']}/snapshots", json={"name": "s"})
    assert client.get(f"{API}/pools/pool1").json()["used_bytes"] >= 2 * MIB


def test_unknown_pool_is_404(client: TestClient) -> None:
    body = assert_error(client.get(f"{API}/pools/nope"), 404, "NOT_FOUND")
    assert body["details"] == {"pool": "nope"}


def traced(store, call) -> list[str]:
    """The SQL statements (values inlined) the store runs during `call()`."""
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    try:
        call()
    finally:
        store._db.set_trace_callback(None)
    return [sql for sql in statements if "FROM tokens" not in sql]


def test_pool_stats_and_name_lookups_scale_with_1000_shares(client: TestClient) -> None:
    """Pool stats are one pass of aggregates (no directory walk); a name lookup uses an index."""
    store = client.app.state.appliance.store
    with store.transaction():
        for index in range(1000):
            store.insert_share({
                "id": str(uuid.uuid4()), "pool": "pool1", "name": f"bulk-{index}",
                "quota_bytes": MIB, "used_bytes": 4096, "origin_snapshot_id": None,
                "nfs_enabled": False, "nfs_rules": (), "export_id": store.next_export_id(),
                "created_at": "2026-01-01T00:00:00.000000Z", "root": Root.default()})
    replies = []
    pool_sql = traced(store, lambda: replies.append(client.get(f"{API}/pools/pool1").json()))
    assert len(pool_sql) == 2 and all("GROUP BY" in sql for sql in pool_sql)
    pool = replies[0]
    assert pool["share_count"] == 1000 and pool["provisioned_bytes"] == 1000 * MIB
    assert pool["used_bytes"] == 1000 * 4096
    params = {"name": "bulk-777", "pool": "pool1"}
    lookup_sql = traced(store, lambda: replies.append(
        client.get(f"{API}/shares", params=params).json()))
    assert [s["name"] for s in replies[1]["items"]] == ["bulk-777"]
    plan = str(store._db.execute(f"EXPLAIN QUERY PLAN {lookup_sql[0]}").fetchall())
    assert "USING INDEX" in plan and "SCAN" not in plan, plan
