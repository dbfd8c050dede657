"""Fixtures for the simulator's unit tests: an app on a temporary data dir, a live uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from appliance_helpers import login, make_config
from fastapi import FastAPI
from fastapi.testclient import TestClient

from acme_appliance.app import create_app

from tests.support.serving import ThreadServer


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def app(data_dir: Path) -> FastAPI:
    return create_app(make_config(data_dir))


@pytest.fixture
def anon(app: FastAPI) -> Iterator[TestClient]:
    """A client without a token."""
    with TestClient(app) as client:
        yield client


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A logged-in client."""
    with TestClient(app) as client:
        yield login(client)


@pytest.fixture
def live(app: FastAPI) -> Iterator[ThreadServer]:
    with ThreadServer(app) as server:
        yield server
