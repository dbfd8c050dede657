"""The role's check of a rendered cinder.conf (cinder_backend's acme-cinder-conf-validate),
run as the role runs it: with the Python of cinder-volume's environment, on a file. It reads
every option of an ACME backend the way Cinder will (oslo.config, secrets included) and
follows the driver's own rule for what a backend must set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

VALIDATE = (Path(__file__).resolve().parents[3] / 'roles' / 'cinder_backend' / 'files'
            / 'acme-cinder-conf-validate')
SECRET = 's3cret'


def validate(tmp_path: Path, options: str) -> subprocess.CompletedProcess:
    conf = tmp_path / 'cinder.conf'
    conf.write_text('[DEFAULT]\nenabled_backends = acme\n[acme]\n'
                    'volume_driver = acme_cinder.nfs.AcmeNfsDriver\n'
                    'acme_url = https://nas:8443\n' + options + '\n')
    return subprocess.run([sys.executable, str(VALIDATE), str(conf)],
                          capture_output=True, text=True, check=False)


@pytest.mark.parametrize('pools, problem', [
    ('acme_pools = pool1, pool2', None),
    ('acme_pool = pool1\nacme_pools = pool1, pool2', 'acme_pools and acme_pool are both set'),
    ('', 'acme_pool or acme_pools is required'),
], ids=['acme_pools', 'both', 'neither'])
def test_the_roles_cinder_conf_check_follows_the_drivers_pool_rule(tmp_path, pools, problem):
    result = validate(tmp_path, f'nas_password = {SECRET}\n{pools}')
    assert result.returncode == (1 if problem else 0), result.stderr
    assert (problem or '') in result.stderr and SECRET not in result.stderr


@pytest.mark.parametrize('written', [f'pa$word-{SECRET}', f'pa${{word}}-{SECRET}'],
                         ids=['$name', '${name}'])
def test_a_dollar_that_cinder_would_read_as_another_option_is_refused_unprinted(
        tmp_path, written):
    """Cinder reads pa$word as 'pa' + the option word: the backend would never log in."""
    result = validate(tmp_path, f'acme_pool = pool1\nnas_password = {written}')
    assert result.returncode == 1
    assert "nas_password: refers to an option that does not exist" in result.stderr
    assert "write a '$' as '$$'" in result.stderr
    assert SECRET not in result.stderr and 'is required' not in result.stderr


def test_a_doubled_dollar_is_a_dollar_and_passes(tmp_path):
    result = validate(tmp_path, f'acme_pool = pool1\nnas_password = pa$$word-{SECRET}')
    assert result.returncode == 0, result.stderr


GENERIC_NFS = 'cinder.volume.drivers.nfs.NfsDriver'  # Cinder's own: not active-active


def validate_dropin(tmp_path: Path, dropin_default: str, cinder_default: str = '') -> (
        subprocess.CompletedProcess):
    """A drop-in adding an ACME backend beside cinder.conf's generic NFS backend, validated
    as the drop-in layout does it (--elsewhere names cinder.conf's backends, --in the file)."""
    cinder_conf = tmp_path / 'cinder.conf'
    cinder_conf.write_text(f'[DEFAULT]\nenabled_backends = nfs-1\n{cinder_default}\n'
                           f'[nfs-1]\nvolume_driver = {GENERIC_NFS}\n')
    dropin = tmp_path / 'acme.conf'
    dropin.write_text(f'[DEFAULT]\nenabled_backends = nfs-1,acme\n{dropin_default}\n[acme]\n'
                      'volume_driver = acme_cinder.nfs.AcmeNfsDriver\n'
                      f'acme_url = https://nas:8443\nacme_pool = pool1\nnas_password = {SECRET}\n')
    return subprocess.run([sys.executable, str(VALIDATE), '--elsewhere', 'nfs-1', '--in',
                           str(cinder_conf), str(dropin)],
                          capture_output=True, text=True, check=False)


@pytest.mark.parametrize('dropin_default, cinder_default', [
    ('cluster = acme-cluster', ''), ('', 'cluster = theirs')], ids=['drop-in', 'cinder.conf'])
def test_a_cluster_that_would_stop_an_existing_backend_is_refused(
        tmp_path, dropin_default, cinder_default):
    """cinder-volume refuses a driver without active-active support in a clustered process:
    the existing generic NFS backend would stop serving when the drop-in arrives."""
    result = validate_dropin(tmp_path, dropin_default, cinder_default)
    assert result.returncode == 1
    assert f'[nfs-1] {GENERIC_NFS} does not support active-active' in result.stderr
    assert 'cluster = ' in result.stderr and SECRET not in result.stderr


def test_without_a_cluster_the_existing_backend_is_no_concern(tmp_path):
    result = validate_dropin(tmp_path, '')
    assert result.returncode == 0, result.stderr
