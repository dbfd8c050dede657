"""NFS settings of a share and the calls into the export backend (ganesha seam)."""

from __future__ import annotations

import time

import pytest
from appliance_helpers import API, assert_error, create_share, create_snapshot, started
from fastapi.testclient import TestClient

from acme_appliance import context, exports
from acme_appliance.records import ExportSpec, Rule

RULE = {"clients": "10.0.0.0/24", "access": "rw", "root_squash": False}


class FakeGanesha:
    """Records every sync like GaneshaExports would apply it."""

    def __init__(self, conf_dir, pidfile) -> None:
        self.conf_dir, self.pidfile = conf_dir, pidfile
        self.calls: list[list[ExportSpec]] = []
        self.fail = False
        self.failures = 0

    def sync(self, specs: list[ExportSpec]) -> None:
        if self.fail:
            self.failures += 1
            raise RuntimeError("ganesha did not reload")
        for spec in specs:
            assert spec.directory.is_dir()
        self.calls.append(list(specs))

    def pseudos(self) -> list[str]:
        return [spec.pseudo for spec in self.calls[-1]]


@pytest.fixture
def ganesha(data_dir, tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A logged-in client whose app exports through a FakeGanesha."""
    fakes: list[FakeGanesha] = []

    def load_backend(conf_dir, pidfile):
        fakes.append(FakeGanesha(conf_dir, pidfile))
        return fakes[-1]

    monkeypatch.setattr(context, "load_backend", load_backend)
    with started(data_dir, ganesha_conf_dir=tmp_path / "ganesha",
                 ganesha_pidfile=tmp_path / "ganesha.pid") as client:
        assert fakes[0].conf_dir == tmp_path / "ganesha"
        yield client, fakes[0]


def test_nfs_defaults_and_put(client: TestClient) -> None:
    share = create_share(client, "n")
    assert client.get(f"{API}/shares/{share['id']}/nfs").json() == {"enabled": False,
                                                                    "rules": []}
    body = {"enabled": True, "rules": [RULE, {"clients": "*", "access": "ro",
                                              "root_squash": True}]}
    reply = client.put(f"{API}/shares/{share['id']}/nfs", json=body)
    assert reply.status_code == 200 and reply.json() == body
    assert client.get(f"{API}/shares/{share['id']}").json()["nfs"] == body
    minimal = client.put(f"{API}/shares/{share['id']}/nfs",
                         json={"enabled": True, "rules": [{"clients": "::1", "access": "ro"}]})
    assert minimal.json()["rules"] == [{"clients": "::1", "access": "ro", "root_squash": True}]
    assert_error(client.put(f"{API}/shares/nope/nfs", json=body), 404, "NOT_FOUND")
    assert_error(client.get(f"{API}/shares/nope/nfs"), 404, "NOT_FOUND")


@pytest.mark.parametrize("rules", [[rule] for rule in (
    {"clients": "host.example.com", "access": "rw"}, {"clients": "10.0.0.0/33", "access": "rw"},
    {"clients": "10.0.0.1 ", "access": "rw"}, {"clients": "", "access": "rw"},
    {"clients": "10.0.0.1,10.0.0.2", "access": "rw"}, {"clients": "10.0.0.1", "access": "rx"},
    {"clients": "10.0.0.1", "access": "rw", "root_squash": "no"},
    {"clients": "10.0.0.1", "access": "rw", "extra": 1}, {"access": "rw"},
    # issue 24: a zone id made exports.conf unparsable; clients are exported as written
    {"clients": "fe80::1%eth0", "access": "rw"}, {"clients": "fe80::%eth0/64", "access": "rw"},
    {"clients": "fe80::1%1", "access": "rw"}, {"clients": "10.0.0.5/24", "access": "rw"},
    {"clients": "FD00::1", "access": "rw"}, {"clients": "fd00:0:0::1", "access": "rw"})]
    + [[RULE, RULE]])
def test_invalid_rules_are_422(client: TestClient, rules: list) -> None:
    """Each rule invalid (or not written canonically), or one client twice."""
    share = create_share(client, "n")
    reply = client.put(f"{API}/shares/{share['id']}/nfs", json={"enabled": True, "rules": rules})
    assert_error(reply, 422, "INVALID")
    reply = client.post(f"{API}/shares", json={"name": "m", "pool": "pool1",
                                               "nfs": {"enabled": True, "rules": rules}})
    assert_error(reply, 422, "INVALID")


def test_exports_use_the_data_address(data_dir) -> None:
    with started(data_dir, nfs_address="fd00::5") as client:
        assert create_share(client, "v6")["exports"] == ["[fd00::5]:/pool1/v6"]


def test_create_with_nfs_exports_at_once(ganesha) -> None:
    client, fake = ganesha
    assert fake.calls == [[]]
    share = create_share(client, "e", nfs={"enabled": True, "rules": [RULE]})
    spec = fake.calls[-1][0]
    assert spec.pseudo == "/pool1/e" and spec.directory.name == share["id"]
    assert spec.rules == (Rule("10.0.0.0/24", "rw", False),)
    create_share(client, "quiet")
    assert len(fake.calls) == 2


def test_every_nfs_change_syncs_before_returning(ganesha) -> None:
    client, fake = ganesha
    share = create_share(client, "e")
    other = create_share(client, "o", nfs={"enabled": True, "rules": [RULE]})
    client.put(f"{API}/shares/{share['id']}/nfs", json={"enabled": True, "rules": [RULE]})
    assert fake.pseudos() == ["/pool1/e", "/pool1/o"]
    ids = [spec.export_id for spec in fake.calls[-1]]
    assert len(set(ids)) == 2
    client.patch(f"{API}/shares/{share['id']}", json={"name": "renamed"})
    assert fake.pseudos() == ["/pool1/o", "/pool1/renamed"]
    kept, renamed = [spec.export_id for spec in fake.calls[-1]]
    # A rename is a new export, never moved: ganesha died on the reload after a pseudo path
    # changed in place (seen in the lab). A resize keeps the export.
    assert kept == ids[1] and renamed not in ids
    client.patch(f"{API}/shares/{other['id']}", json={"quota_bytes": 1 << 20})
    assert client.app.state.appliance.store.find_share("pool1", "o").export_id == kept
    client.put(f"{API}/shares/{share['id']}/nfs", json={"enabled": False, "rules": []})
    assert fake.pseudos() == ["/pool1/o"]
    client.delete(f"{API}/shares/{other['id']}")
    assert fake.calls[-1] == []


def test_rollback_reexports_the_new_directory(ganesha) -> None:
    client, fake = ganesha
    share = create_share(client, "e", nfs={"enabled": True, "rules": [RULE]})
    snap = create_snapshot(client, share["id"], "s")
    before = len(fake.calls)
    client.post(f"{API}/shares/{share['id']}/snapshots/{snap['id']}/rollback")
    assert fake.calls[before:] == [[], fake.calls[before - 1]]


def test_free_export_ids_are_reused_and_stay_in_ganesha_range(ganesha) -> None:
    """Issue 24: ids came from a counter that never went down; after 65,535 creates and
    renames every export id was out of ganesha's range and NFS management stopped."""
    client, fake = ganesha
    first = create_share(client, "a", nfs={"enabled": True, "rules": [RULE]})
    freed = fake.calls[-1][0].export_id
    client.delete(f"{API}/shares/{first['id']}")
    store = client.app.state.appliance.store
    with store.transaction():  # what 65,535 creates and renames left behind
        store._run("INSERT OR REPLACE INTO counters (name, value) VALUES ('export_id', 65535)")
    second = create_share(client, "b", nfs={"enabled": True, "rules": [RULE]})
    assert fake.calls[-1][0].export_id == freed
    reply = client.patch(f"{API}/shares/{second['id']}", json={"name": "c"})
    assert reply.status_code == 200
    (spec,) = fake.calls[-1]
    assert spec.pseudo == "/pool1/c" and 1 <= spec.export_id <= 65535
    assert spec.export_id != freed


def test_no_free_export_id_is_no_space(client: TestClient) -> None:
    store = client.app.state.appliance.store
    with store.transaction():  # 65,535 shares hold every id ganesha takes
        store._run("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                   "WHERE i < 65535) INSERT INTO shares (id, pool, name, export_id, created_at) "
                   "SELECT 's' || i, 'pool2', 's' || i, i, '2026-01-01T00:00:00Z' FROM n")
    reply = client.post(f"{API}/shares", json={"name": "one-more", "pool": "pool1"})
    assert_error(reply, 507, "NO_SPACE")
    assert store.find_share("pool1", "one-more") is None


def test_failed_export_is_busy_and_retry_applies(ganesha) -> None:
    client, fake = ganesha
    share = create_share(client, "e")
    fake.fail = True
    reply = client.put(f"{API}/shares/{share['id']}/nfs", json={"enabled": True, "rules": [RULE]})
    assert_error(reply, 503, "BUSY")
    assert reply.headers["Retry-After"] == "1"
    fake.fail = False
    reply = client.put(f"{API}/shares/{share['id']}/nfs", json={"enabled": True, "rules": [RULE]})
    assert reply.status_code == 200 and fake.pseudos() == ["/pool1/e"]


def test_a_change_ganesha_does_not_apply_is_not_stored(ganesha, data_dir) -> None:
    """Issue 24: changes were committed before ganesha applied them, so after a failed reload
    the API reported exports (and revoked access) that ganesha did not serve."""
    client, fake = ganesha
    kept = create_share(client, "kept", nfs={"enabled": True, "rules": [RULE]})
    fake.fail = True
    exported = {"enabled": True, "rules": [RULE]}
    for reply in (
            client.post(f"{API}/shares", json={"name": "new", "pool": "pool1", "nfs": exported}),
            client.put(f"{API}/shares/{kept['id']}/nfs", json={"enabled": True, "rules": []}),
            client.put(f"{API}/shares/{kept['id']}/nfs", json={"enabled": False, "rules": []}),
            client.patch(f"{API}/shares/{kept['id']}", json={"name": "moved"}),
            client.delete(f"{API}/shares/{kept['id']}")):
        assert_error(reply, 503, "BUSY")
    shares = client.get(f"{API}/shares").json()["items"]
    assert [(s["name"], s["nfs"]) for s in shares] == [("kept", exported)]
    assert [p.name for p in (data_dir / "shares").iterdir()] == [kept["id"]]
    fake.fail = False
    create_share(client, "new", nfs=exported)
    assert fake.pseudos() == ["/pool1/kept", "/pool1/new"]


def test_exports_ganesha_did_not_take_back_are_retried_until_applied(ganesha) -> None:
    """When giving ganesha the stored exports back fails too, they are applied again in the
    background until ganesha takes them (a background attempt that fails is tried again)."""
    client, fake = ganesha
    share = create_share(client, "e", nfs={"enabled": True, "rules": [RULE]})
    fake.fail = True
    reply = client.put(f"{API}/shares/{share['id']}/nfs", json={"enabled": False, "rules": []})
    assert_error(reply, 503, "BUSY")
    publisher = client.app.state.appliance.exports
    assert publisher.pending
    assert client.get(f"{API}/system").json()["exports_pending"] is True  # visible on GET
    failed = fake.failures
    deadline = time.monotonic() + 30
    while fake.failures == failed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.failures > failed and publisher.pending
    fake.fail, applied = False, len(fake.calls)
    while publisher.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not publisher.pending
    assert client.get(f"{API}/system").json()["exports_pending"] is False
    assert len(fake.calls) > applied and fake.pseudos() == ["/pool1/e"]


def test_no_ganesha_dir_means_no_backend(client: TestClient) -> None:
    assert client.app.state.appliance.exports.enabled is False
    assert exports.load_backend(None, None) is None


def test_real_ganesha_module_writes_the_exports(data_dir, tmp_path) -> None:
    ganesha = pytest.importorskip("acme_appliance.ganesha")
    conf_dir = tmp_path / "ganesha"
    conf_dir.mkdir()
    with started(data_dir, ganesha_conf_dir=conf_dir) as client:
        backend = client.app.state.appliance.exports._backend
        assert isinstance(backend, ganesha.GaneshaExports)
        share = create_share(client, "real", nfs={"enabled": True, "rules": [RULE]})
        text = backend.exports_file.read_text()
        assert "/pool1/real" in text and share["id"] in text
        client.put(f"{API}/shares/{share['id']}/nfs", json={"enabled": False, "rules": []})
        assert "/pool1/real" not in backend.exports_file.read_text()


def test_start_up_stores_and_exports_only_clients_ganesha_can_parse(data_dir, tmp_path) -> None:
    """Issue 24: a zone id stored before the API refused it made exports.conf unparsable at
    every start; start-up rewrites the stored rules as they can be exported."""
    conf_dir = tmp_path / "ganesha"
    conf_dir.mkdir()
    legacy = (Rule("fe80::1%eth0", "rw", True), Rule("10.0.0.5/24", "ro", True))
    with started(data_dir, ganesha_conf_dir=conf_dir) as client:
        share = create_share(client, "old", nfs={"enabled": True, "rules": [RULE]})
        store = client.app.state.appliance.store
        with store.transaction():
            store.update_share(share["id"], nfs_rules=legacy)
        store.close()
    with started(data_dir, ganesha_conf_dir=conf_dir) as client:
        rules = client.get(f"{API}/shares/{share['id']}/nfs").json()["rules"]
        text = (conf_dir / "exports.conf").read_text()
    assert rules == [{"clients": "10.0.0.0/24", "access": "ro", "root_squash": True}]
    assert "Clients = 10.0.0.0/24;" in text and "%" not in text
    assert context.exports_in_database(data_dir)[0].rules == (Rule("10.0.0.0/24", "ro", True),)
