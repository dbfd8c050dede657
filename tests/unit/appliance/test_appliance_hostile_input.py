"""The simulator under hostile input (issue 13): cursors, bodies, logins, logs, files, methods."""

from __future__ import annotations

import base64
import logging
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from appliance_helpers import API, PASSWORD, USER, assert_error, create_share, make_config
from fastapi.testclient import TestClient

from acme_appliance import auth, cli
from acme_appliance.app import create_app
from acme_appliance.context import STATE_FILE
from acme_appliance.errors import ApiError

MIB = 1 << 20
JSON = {"Content-Type": "application/json"}


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("cursor", [
    cursor_of("seq:" + "9" * 25), cursor_of("seq:9223372036854775808"), cursor_of("seq:-1"),
    cursor_of("seq:1e9"), cursor_of("other:1"), "9" * 5000, "!!", "c2VxOjE=", "a" * 41])
@pytest.mark.parametrize("path", ["/shares", "/pools", "/shares/{id}/snapshots"])
def test_forged_cursors_are_422(client: TestClient, cursor: str, path: str) -> None:
    share = create_share(client, "s")
    reply = client.get(API + path.format(id=share["id"]), params={"cursor": cursor})
    body = assert_error(reply, 422, "INVALID")
    assert len(reply.text) < 2000, "the reply does not echo a huge cursor"
    assert body["message"]


def test_the_largest_valid_cursor_still_works(client: TestClient) -> None:
    reply = client.get(f"{API}/shares", params={"cursor": cursor_of(f"seq:{2**63 - 1}")})
    assert reply.status_code == 200 and reply.json() == {"items": [], "next": None}


@pytest.fixture
def setup_logging() -> Iterator[Callable[[Path], None]]:
    """The simulator's own logging set-up (cli.setup_logging); the root logger restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield lambda path: cli.setup_logging(str(path))
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level = saved


@pytest.fixture
def log_file(tmp_path: Path, setup_logging) -> Path:
    setup_logging(tmp_path / "logs" / "appliance.log")
    return tmp_path / "logs" / "appliance.log"


def test_control_characters_in_the_path_cannot_forge_log_lines(client: TestClient,
                                                               log_file: Path) -> None:
    forged = "2026-01-01 00:00:00,000 INFO acme_appliance.auth: user 'admin' logged in"
    reply = client.get(f"{API}/shares/x%0d%0a{forged.replace(' ', '%20')}%1b[31m%e2%80%a8")
    assert_error(reply, 404, "NOT_FOUND")
    lines = log_file.read_text().splitlines()
    assert not any(line.startswith(forged) for line in lines)
    access = [line for line in lines if "acme_appliance.access" in line and "/shares/x" in line]
    assert len(access) == 1
    assert "/shares/x\\x0d\\x0a2026-01-01" in access[0]
    assert "\\x1b[31m" in access[0] and "\\u2028" in access[0]


def test_the_log_file_and_its_new_directory_are_private(log_file: Path) -> None:
    logging.getLogger("acme_appliance").warning("something")
    assert mode_of(log_file) == 0o600
    assert mode_of(log_file.parent) == 0o700


def test_an_existing_log_file_is_made_private(tmp_path: Path, setup_logging) -> None:
    (tmp_path / "shared").mkdir()
    os.chmod(tmp_path / "shared", 0o755)
    path = tmp_path / "shared" / "appliance.log"
    path.write_text("old\n")
    os.chmod(path, 0o644)
    setup_logging(path)
    assert mode_of(path) == 0o600
    assert mode_of(path.parent) == 0o755, "a directory it did not create is left alone"


def test_state_db_and_data_dir_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    (data_dir / STATE_FILE).touch(mode=0o644)
    os.chmod(data_dir / STATE_FILE, 0o644)
    with TestClient(create_app(make_config(data_dir))) as client:
        client.post(f"{API}/auth/login", json={"username": USER, "password": PASSWORD})
        assert mode_of(data_dir) == 0o700
        for name in (STATE_FILE, f"{STATE_FILE}-wal", f"{STATE_FILE}-shm"):
            assert mode_of(data_dir / name) == 0o600, name
        client.app.state.appliance.store.close()


@pytest.mark.parametrize("path", ["/auth/login", "/shares", "/_admin/faults"])
def test_a_large_body_is_413_before_login(anon: TestClient, path: str) -> None:
    body = assert_error(anon.post(API + path, content=b"x" * (MIB + 1), headers=JSON),
                        413, "INVALID")
    assert body["details"] == {"max_body_bytes": MIB}


def test_a_large_streamed_body_is_413_too(anon: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _chunk in range(17):
            yield b"[" * 65536

    body = assert_error(anon.post(f"{API}/auth/login", content=chunks(), headers=JSON),
                        413, "INVALID")
    assert body["details"] == {"max_body_bytes": MIB}


def test_a_body_at_the_limit_is_read(anon: TestClient) -> None:
    padding = " " * (MIB - 60)
    body = f'{{"username": "{USER}", "password": "{PASSWORD}"}}{padding}'.encode()
    assert len(body) <= MIB
    assert anon.post(f"{API}/auth/login", content=body, headers=JSON).status_code == 200


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def two_users(data_dir: Path) -> Iterator[tuple[TestClient, TestClient, FakeClock]]:
    """Two clients from different source addresses of one app with users admin and ops."""
    app = create_app(make_config(data_dir, users={USER: PASSWORD, "ops": "ops-pw"}))
    clock = FakeClock()
    app.state.auth.throttle.clock = clock
    with TestClient(app, client=("192.0.2.1", 4000)) as one, \
            TestClient(app, client=("192.0.2.2", 4000)) as two:
        yield one, two, clock


def login_as(client: TestClient, user: str, password: str):
    return client.post(f"{API}/auth/login", json={"username": user, "password": password})


def test_wrong_passwords_back_off_per_user_and_source(two_users) -> None:
    attacker, other_source, clock = two_users
    for attempt in range(5):
        reply = login_as(attacker, USER, f"guess {attempt}")
        assert_error(reply, 401, "UNAUTHORIZED")
        assert "Retry-After" not in reply.headers
    refused = login_as(attacker, USER, PASSWORD)
    body = assert_error(refused, 401, "UNAUTHORIZED")
    assert refused.headers["Retry-After"] == "1" and body["details"] == {"retry_after": 1}
    assert login_as(other_source, USER, PASSWORD).status_code == 200
    assert login_as(attacker, "ops", "ops-pw").status_code == 200
    clock.now += 1
    assert_error(login_as(attacker, USER, "guess again"), 401, "UNAUTHORIZED")
    assert login_as(attacker, USER, PASSWORD).headers["Retry-After"] == "2"
    clock.now += 2
    assert login_as(attacker, USER, PASSWORD).status_code == 200
    assert "Retry-After" not in login_as(attacker, USER, "a typo").headers


def test_the_back_off_is_capped(two_users) -> None:
    attacker, _other, clock = two_users
    for attempt in range(30):
        login_as(attacker, USER, f"guess {attempt}")
        clock.now += 10_000
    login_as(attacker, USER, "one more guess")
    assert login_as(attacker, USER, PASSWORD).headers["Retry-After"] == "300"


def test_a_stale_password_retried_does_not_lock_out_the_right_one(two_users) -> None:
    """A client left with an old password retries it: it guesses nothing new, so the client
    with the right password on the same host is not refused."""
    host, _other, _clock = two_users
    for _attempt in range(3 * auth.PAIR_FREE):
        reply = login_as(host, USER, "the old password")
        assert_error(reply, 401, "UNAUTHORIZED")
        assert "Retry-After" not in reply.headers
    assert login_as(host, USER, PASSWORD).status_code == 200


def test_the_warning_says_how_many_logins_failed(two_users,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    attacker, _other, clock = two_users
    for attempt in range(7):
        clock.now += 1000  # each back-off is over: every guess is checked
        assert_error(login_as(attacker, USER, f"guess {attempt}"), 401, "UNAUTHORIZED")
    assert login_as(attacker, USER, "guess 7").headers["Retry-After"]
    assert "refused: 7 failed logins for this user name from this source" in caplog.text


def test_failures_on_many_other_names_do_not_end_a_back_off(data_dir: Path) -> None:
    authenticator = create_app(make_config(data_dir)).state.auth
    authenticator.throttle.clock = FakeClock()
    for attempt in range(auth.PAIR_FREE):
        with pytest.raises(ApiError):
            authenticator.login(USER, f"guess {attempt}", "192.0.2.1")
    for index in range(auth.MAX_TRACKED):  # from many sources, so no source is throttled
        with pytest.raises(ApiError):
            authenticator.login(f"user-{index}", "x", f"10.{index // 256}.{index % 256}.1")
    with pytest.raises(ApiError) as refused:
        authenticator.login(USER, "guess 6", "192.0.2.1")
    assert refused.value.retry_after == 1


def test_guesses_for_one_user_from_many_sources_back_off(data_dir: Path) -> None:
    authenticator = create_app(make_config(data_dir)).state.auth
    authenticator.throttle.clock = FakeClock()
    authenticator.login(USER, PASSWORD, "192.0.2.200")  # the user's own host, before
    guesses = iter(range(auth.WIDE_FREE))
    for source in range(auth.WIDE_FREE // auth.PAIR_FREE):
        for _attempt in range(auth.PAIR_FREE):
            with pytest.raises(ApiError) as wrong:
                authenticator.login(USER, f"guess {next(guesses)}", f"198.51.100.{source}")
            assert wrong.value.retry_after is None
    with pytest.raises(ApiError) as refused:
        authenticator.login(USER, "guess from a new source", "203.0.113.9")
    assert refused.value.retry_after == 1
    assert authenticator.login(USER, PASSWORD, "192.0.2.200")


def test_a_password_typed_as_the_user_name_is_never_logged(
        anon: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert_error(login_as(anon, PASSWORD, ""), 401, "UNAUTHORIZED")
    assert_error(login_as(anon, "Hunter2-typed-here", "x"), 401, "UNAUTHORIZED")
    assert "failed login for <unknown user>" in caplog.text
    assert PASSWORD not in caplog.text and "Hunter2" not in caplog.text


@pytest.mark.parametrize("method, path, allow", [
    ("PUT", "/shares", "GET, POST"),
    ("POST", "/shares/{id}", "GET, PATCH, DELETE"),
    ("PUT", "/shares/{id}/snapshots/{id}", "GET, PATCH, DELETE"),
    ("DELETE", "/system", "GET"),
    ("GET", "/auth/login", "POST"),
])
def test_405_carries_allow(client: TestClient, method: str, path: str, allow: str) -> None:
    reply = client.request(method, API + path.format(id="5b0f8a2e-1b0c-4f8e-9a51-0d6c5f3a7e11"))
    assert_error(reply, 405, "INVALID")
    assert reply.headers["Allow"] == allow


@pytest.mark.parametrize("body", [
    b"{", b"{nope", b'{"name": "\xff\xfe", "pool": "pool1"}', b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b'{"name": "a", "pool": "pool1", "quota_bytes": ' + b"9" * 5000 + b"}",
    b'{"name": "a", "pool": "pool1", "quota_bytes": NaN}', b"null", b"", b"\x00\x01"])
def test_unparsable_bodies_are_422_invalid(client: TestClient, body: bytes) -> None:
    assert_error(client.post(f"{API}/shares", content=body, headers=JSON), 422, "INVALID")
    assert client.get(f"{API}/shares").json()["items"] == []


def test_the_schema_states_the_enforced_limits(anon: TestClient) -> None:
    doc = anon.get(f"{API}/openapi.json").json()
    schemas = doc["components"]["schemas"]
    quota = schemas["ShareCreate"]["properties"]["quota_bytes"]["anyOf"][0]
    assert quota["type"] == "integer" and quota["maximum"] == pytest.approx(2**63)
    assert schemas["NfsRule"]["properties"]["clients"]["maxLength"] == 64
    assert schemas["NfsSettings"]["properties"]["rules"]["maxItems"] == 256
    assert schemas["LoginRequest"]["properties"]["username"]["maxLength"] == 256
    assert schemas["FaultCreate"]["properties"]["path"]["maxLength"] == 200
    assert schemas["ShareRoot"]["properties"]["uid"]["maximum"] == 2**31 - 1
    assert schemas["ShareRoot"]["properties"]["mode"]["pattern"]
    params = {p["name"]: p for p in doc["paths"][f"{API}/shares"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 1000
    cursor = params["cursor"]["schema"]["anyOf"][0]
    assert cursor["maxLength"] == 40 and cursor["pattern"]
    for stated in ("1 MiB", "413", "Retry-After", "Allow", "max_depth", "0600"):
        assert stated in doc["info"]["description"], stated


@pytest.mark.parametrize("path, body", [
    ("/auth/login", f'{{"username": "{USER}", "password": "x", "password": "{PASSWORD}"}}'),
    ("/shares", '{"name": "a", "pool": "pool1", "quota_bytes": 1, "quota_bytes": 2}'),
    ("/shares", '{"name": "a", "pool": "pool1", "nfs": {"enabled": true, "enabled": false}}'),
])
def test_duplicate_keys_in_a_body_are_422(client: TestClient, path: str, body: str) -> None:
    reply = client.post(f"{API}{path}", content=body.encode(), headers=JSON)
    assert "more than once" in assert_error(reply, 422, "INVALID")["message"]
    assert client.get(f"{API}/shares").json()["items"] == []
