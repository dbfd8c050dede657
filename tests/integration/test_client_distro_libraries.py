"""The one client with the urllib3 of the distributions the collection supports.

Each case builds (once; kept under build/client-venvs/) a clean venv holding only one
distribution's urllib3 release, and runs client_distro_scenario.py in it against
the simulator this test process serves: login, retries on 503 and on a dropped connection,
Retry-After capped, a create, a PATCH, an adoption. Libraries older than the client supports
give one message naming the required versions, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
VENVS = REPO / 'build' / 'client-venvs'
SCENARIO = Path(__file__).with_name('client_distro_scenario.py')
MIB = 1024 * 1024

# The distributions' own urllib3 releases.
DEBIAN_12 = ['urllib3==1.26.12']
UBUNTU_2204 = ['urllib3==1.26.5']
UBUNTU_2004 = ['urllib3==1.25.8']


def distro_python(name: str, pins: list[str]) -> Path:
    """The python of a venv with exactly ``pins`` installed (built on first use)."""
    venv = VENVS / name
    python = venv / 'bin' / 'python'
    stamp = venv / 'pins.txt'
    if stamp.exists() and stamp.read_text() == '\n'.join(pins):
        return python
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True, capture_output=True)
    result = subprocess.run([str(python), '-m', 'pip', 'install', '-q', '--no-input', *pins],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f'pip install {pins}: {result.stderr[-3000:]}'
    stamp.write_text('\n'.join(pins))
    return python


def run_scenario(python: Path, appliance) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PYTHON', 'REQUESTS_'))}
    env.update(ACME_URL=appliance.url, ACME_CA=appliance.ca_path,
               ACME_PASSWORD=appliance.password,  # in the environment, not on a command line
               ACME_CLIENT_DIR=str(REPO / 'plugins' / 'module_utils'))
    result = subprocess.run([str(python), str(SCENARIO)], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


@pytest.mark.parametrize(('name', 'pins'), [('debian12', DEBIAN_12),
                                            ('ubuntu2204', UBUNTU_2204)])
def test_client_works_with_distribution_libraries(appliance, name, pins):
    python = distro_python(name, pins)
    busy = dict(action='fail', status=503, code='BUSY', nth=1, times=1)
    appliance.add_fault(method='POST', path='/auth/login', retry_after=0, **busy)
    appliance.add_fault(method='GET', path='/pools/pool1', retry_after=3 * 3600, **busy)
    appliance.add_fault(method='GET', path='/shares', nth=1, times=1, action='drop')
    appliance.add_fault(method='POST', path='/shares', retry_after=3 * 3600, **busy)
    appliance.add_fault(method='PATCH', path='/shares/[^/]+', retry_after=0, **busy)

    out, stderr = run_scenario(python, appliance)

    wanted = dict(pin.split('==') for pin in pins)
    assert out['urllib3'] == wanted['urllib3']
    assert out['requirements_error'] is None
    assert out['steps'] == {'login': '1', 'get': 'pool1', 'dropped_get': 0, 'create': MIB,
                            'patch': 2 * MIB, 'adopt': True}
    login, hours, dropped, create, patch = out['sleeps']
    assert (hours, create) == (60.0, 60.0)  # 3 h asked, 60 s waited
    # backoff with jitter after the dropped connection, and for a Retry-After of 0 (issue 24:
    # never a retry without a wait)
    assert all(0.01 <= wait <= 0.02 for wait in (login, dropped, patch)), out['sleeps']
    assert appliance.sent('POST', '/auth/login', exact=True) == 2
    assert appliance.sent('GET', '/pools/pool1', exact=True) == 2
    assert appliance.sent('GET', '/shares', exact=True) == 2
    assert appliance.sent('POST', '/shares', exact=True) == 3  # BUSY, created, adopted (409)
    assert appliance.sent('PATCH') == 2
    assert 'Traceback' not in stderr


def test_too_old_libraries_give_one_clear_message(appliance):
    python = distro_python('ubuntu2004', UBUNTU_2004)
    out, stderr = run_scenario(python, appliance)
    assert out['urllib3'] == '1.25.8'
    assert out['error']['class'] == 'RequirementsError'
    message = out['error']['message']
    assert message.startswith('REQUIREMENTS: the ACME client needs urllib3 >= 1.26.5;')
    assert message.endswith('has urllib3 1.25.8')
    assert 'Traceback' not in stderr
    assert appliance.calls == []  # refused before any request
