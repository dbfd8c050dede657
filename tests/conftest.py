"""Shared pytest set-up: the one client and the simulator are importable everywhere."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'plugins' / 'module_utils'))
sys.path.insert(0, str(REPO))


@pytest.fixture
def simulator(tmp_path):
    """A real simulator process over HTTPS on a free loopback port, stopped after the test."""
    from tests.support.simulator import start_simulator
    sim = start_simulator(tmp_path / 'appliance')
    yield sim
    sim.stop()
