"""Removal with the production roles, run for real with ansible-playbook on this machine.

acme.nas.cinder_backend's acme_cinder_backends_absent asks a real cinder-api (the project's
Cinder, noauth, sqlite; tests/support/cinder_api.py) for the volumes of the backends to
remove, through openstack.cloud and openstacksdk as on a cloud. acme.nas.driver's
acme_driver_state=absent uninstalls the driver from a throw-away virtualenv. Both run the
molecule scenarios' playbooks in a temporary root, as test_roles.py does.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import cinder_api
from tests.support.ansible import Ansible, Run

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[3]
MOLECULE = REPO / 'molecule'
BACKEND = MOLECULE / 'cinder_backend' / 'converge.yml'
BACKEND_VARS = MOLECULE / 'cinder_backend' / 'vars' / 'main.yml'
DRIVER = MOLECULE / 'driver' / 'converge.yml'
REMOVE = REPO / 'playbooks' / 'remove.yml'

# A cinder.conf another tool wrote (the full layout takes it over only when told to).
FOREIGN_CONF = (Path(__file__).parent / 'files' / 'foreign-cinder.conf').read_text()


@pytest.fixture(scope='module')
def cinder(tmp_path_factory):
    api = cinder_api.start(tmp_path_factory.mktemp('cinder-api'))
    yield api
    api.stop()


class Host:
    """The scenario's temporary root (made as its prepare.yml makes it) and playbook runs
    against it; pytest's tmp_path goes with it."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / 'root'
        local = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
        self.ansible = Ansible(tmp_path / 'ansible', env={'ACME_MOLECULE_ROOT': str(self.root)},
                               inventory={'all': {'children': {'cinder_volume': {
                                   'hosts': {'localhost': local}}}}})

    def play(self, playbook: Path, *args: str, **extra) -> Run:
        more = ('-e', json.dumps(extra)) if extra else ()
        return self.ansible.playbook(playbook, *args, *more)

    def restarts(self) -> int:
        done = self.root / 'restarts'
        return len(done.read_text().splitlines()) if done.exists() else 0


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file()}


class Volumes:
    """Volumes a test puts into Cinder's database; those it leaves are deleted after it."""

    def __init__(self, cinder: cinder_api.CinderApi) -> None:
        self.cinder, self.ids = cinder, []

    def add(self, *host_status: tuple[str, str]) -> list[str]:
        made = self.cinder.add_volumes(*host_status)
        self.ids += made
        return made

    def delete(self, *ids: str) -> None:
        self.cinder.delete_volumes(*ids)
        self.ids = [i for i in self.ids if i not in ids]


@pytest.fixture
def volumes(cinder):
    made = Volumes(cinder)
    yield made
    if made.ids:
        cinder.delete_volumes(*made.ids)


def test_a_backend_with_volumes_is_not_removed_and_one_without_is(volume_host, volumes):
    """Full layout, two ACME backends. Without a cloud to ask: refused. acme-gold holds
    volumes (one in an error state): refused, nothing written. acme-bronze holds none (a volume
    on acme-bronze-2 is not on it): its section, its override section and its name in
    enabled_backends go, acme-gold stays. Its volumes deleted, acme-gold goes too: the file
    the role created stays, with the base and no backend."""
    volume_host.play(BACKEND).ok()
    before, restarted = files_under(volume_host.root), volume_host.restarts()
    no_cloud = volume_host.play(BACKEND, acme_cinder_backends_absent=['acme-bronze'])
    assert no_cloud.rc != 0 and 'Set acme_cinder_cloud' in no_cloud.output
    assert files_under(volume_host.root) == before

    busy = volumes.add(('cv1@acme-gold#gold', 'error'), ('cv2@acme-gold#gold', 'in-use'),
                       ('cv1@acme-bronze-2#bronze', 'available'))
    refused = volume_host.play(BACKEND, acme_cinder_backends_absent=['acme-gold'],
                               **volume_host.cloud)
    assert refused.rc != 0
    assert ('Not removing acme-gold: Cinder still has 2 volume(s) there (all projects, any '
            'status) - acme-gold: 2 (error, in-use).') in refused.output, refused.output[-3000:]
    assert busy[0] in refused.output and busy[1] in refused.output
    assert 'openstack volume list --all-projects --long' in refused.output
    assert files_under(volume_host.root) == before and volume_host.restarts() == restarted

    remove = {'acme_cinder_backends_absent': ['acme-bronze'], **volume_host.cloud}
    checked = volume_host.play(BACKEND, '--check', **remove).ok()
    assert 'Render, validate and install cinder.conf' in checked.changed_tasks
    assert files_under(volume_host.root) == before and volume_host.restarts() == restarted

    volume_host.play(BACKEND, **remove).ok()
    text = volume_host.conf.read_text()
    assert 'enabled_backends = acme-gold\n' in text
    assert '[acme-gold]' in text and 'acme-bronze' not in text
    assert volume_host.restarts() == restarted + 1
    assert volume_host.play(BACKEND, **remove).ok().changed_tasks == []
    assert volume_host.restarts() == restarted + 1

    volumes.delete(*busy[:2])
    volume_host.play(BACKEND, acme_cinder_backends_absent=['acme-gold', 'acme-bronze'],
                     **volume_host.cloud).ok()
    text = volume_host.conf.read_text()
    assert 'enabled_backends = \n' in text and 'acme-gold' not in text
    assert 'state_path = /var/lib/cinder' in text and 'transport_url = rabbit://' in text
    assert not (volume_host.conf.parent / 'acme-ca.pem').exists()
    assert volume_host.restarts() == restarted + 2


def test_removing_the_last_backend_puts_back_the_cinder_conf_it_took_over(volume_host):
    volume_host.conf.write_text(FOREIGN_CONF)
    volume_host.conf.chmod(0o600)
    volume_host.play(BACKEND, acme_cinder_conf_takeover=True).ok()
    original = volume_host.conf.with_name('cinder.conf.acme-original')
    assert original.read_text() == FOREIGN_CONF
    assert 'acme-gold' in volume_host.conf.read_text()

    remove = {'acme_cinder_backends_absent': ['acme-gold', 'acme-bronze'], **volume_host.cloud}
    taken_over = files_under(volume_host.root)
    checked = volume_host.play(BACKEND, '--check', **remove).ok()
    assert 'Removal - put back the cinder.conf the full layout took over (no backend left)' \
        in checked.changed_tasks
    assert files_under(volume_host.root) == taken_over

    volume_host.play(BACKEND, **remove).ok()
    assert volume_host.conf.read_text() == FOREIGN_CONF
    assert oct(volume_host.conf.stat().st_mode & 0o777) == '0o600'
    assert not original.exists()
    etc = volume_host.conf.parent
    assert not (etc / 'acme-ca.pem').exists()
    assert not (volume_host.root / 'bin' / 'acme-cinder-conf-validate').exists()
    assert volume_host.restarts() == 2
    assert volume_host.play(BACKEND, **remove).ok().changed_tasks == []
    assert volume_host.restarts() == 2


def test_dropin_removal_deletes_the_dropin_and_leaves_cinder_conf_as_it_was(volume_host):
    volume_host.conf.write_text(FOREIGN_CONF)
    dropin = volume_host.conf.parent / 'cinder.conf.d' / 'acme.conf'
    layout = {'acme_cinder_conf_layout': 'drop_in', 'acme_cinder_dropin_file': str(dropin),
              'acme_cinder_dropin_other_backends': ['lvm-1']}
    volume_host.play(BACKEND, **layout).ok()
    assert 'enabled_backends = acme-bronze,acme-gold,lvm-1' in dropin.read_text()

    # The playbook acme.nas.remove, with the scenario's variables as an inventory would hold them.
    remove = ('-e', f'@{BACKEND_VARS}')
    absent = {**layout, 'acme_cinder_backends_absent': ['acme-gold', 'acme-bronze'],
              **volume_host.cloud}
    added = files_under(volume_host.root)
    volume_host.play(REMOVE, '--check', *remove, **absent).ok()
    assert files_under(volume_host.root) == added

    volume_host.play(REMOVE, *remove, **absent).ok()
    assert not dropin.exists() and dropin.parent.is_dir()
    assert volume_host.conf.read_bytes() == FOREIGN_CONF.encode()
    assert volume_host.restarts() == 2
    assert volume_host.play(REMOVE, *remove, **absent).ok().changed_tasks == []
    assert volume_host.restarts() == 2


def test_service_layout_removal_takes_its_cinder_volume_and_leaves_the_owners(volume_host):
    """The service layout's file and systemd unit go with the last ACME backend; the owner's
    cinder.conf is the same bytes. The handler's restart command runs once more (on a host,
    the unit's ConditionPathExists then keeps that cinder-volume down)."""
    volume_host.conf.write_text(FOREIGN_CONF)
    units = volume_host.root / 'etc' / 'systemd' / 'system'
    units.mkdir(parents=True)
    conf = volume_host.conf.parent / 'cinder-volume-acme.conf'
    layout = {'acme_cinder_conf_layout': 'service', 'acme_cinder_service_file': str(conf),
              'acme_cinder_service_unit_dir': str(units),
              'acme_cinder_service_log_file': str(volume_host.root / 'log' / 'acme.log'),
              'acme_cinder_service_program': '/usr/bin/cinder-volume',
              'acme_cinder_service_args': ['--config-file', str(volume_host.conf)],
              'acme_cinder_service_user': pwd.getpwuid(os.getuid()).pw_name}
    volume_host.play(BACKEND, **layout).ok()
    assert 'enabled_backends = acme-bronze,acme-gold\n' in conf.read_text()
    unit = units / 'cinder-volume-acme.service'
    assert f'--config-file {conf} --log-file' in unit.read_text()

    absent = {**layout, 'acme_cinder_backends_absent': ['acme-gold', 'acme-bronze'],
              **volume_host.cloud}
    volume_host.play(REMOVE, '-e', f'@{BACKEND_VARS}', **absent).ok()
    assert not conf.exists() and not unit.exists()
    assert volume_host.conf.read_bytes() == FOREIGN_CONF.encode()
    assert volume_host.restarts() == 2
    assert volume_host.play(REMOVE, '-e', f'@{BACKEND_VARS}', **absent).ok().changed_tasks == []


# --- driver ------------------------------------------------------------------------------

@pytest.fixture
def driver_host(tmp_path):
    host = Host(tmp_path)
    subprocess.run(['python3', '-m', 'venv', host.root / 'venv'], check=True)
    return host


def installed(host: Host) -> bool:
    python = host.root / 'venv' / 'bin' / 'python'
    return subprocess.run([python, '-m', 'pip', 'show', '-q', 'acme-cinder-driver'],
                          capture_output=True, check=False).returncode == 0


def test_driver_absent_uninstalls_the_driver_and_removes_what_the_role_wrote(driver_host):
    """Refused while a cinder.conf still uses the driver; then check mode changes nothing;
    then the package, the filters and the state directory go, once."""
    driver_host.play(DRIVER).ok()
    filters = driver_host.root / 'etc' / 'cinder' / 'rootwrap.d' / 'acme.filters'
    assert installed(driver_host) and filters.exists()
    conf = driver_host.root / 'etc' / 'cinder' / 'cinder.conf'
    conf.write_text('[acme-gold]\nvolume_driver = acme_cinder.nfs.AcmeNfsDriver\n')
    refused = driver_host.play(DRIVER, acme_driver_state='absent')
    assert refused.rc != 0
    assert f'{conf} still uses the ACME driver' in refused.output
    assert installed(driver_host) and filters.exists()

    conf.write_text('[generic-nfs]\nvolume_driver = cinder.volume.drivers.nfs.NfsDriver\n')
    before = files_under(driver_host.root)
    checked = driver_host.play(DRIVER, '--check', acme_driver_state='absent').ok()
    assert "Uninstall the driver from Cinder's Python" in checked.changed_tasks
    assert files_under(driver_host.root) == before and installed(driver_host)

    driver_host.play(DRIVER, acme_driver_state='absent').ok()
    assert not installed(driver_host)
    assert not filters.exists() and filters.parent.is_dir()
    assert not (driver_host.root / 'state').exists()
    assert (driver_host.root / 'mnt').is_dir()  # shared with Cinder's generic NFS driver
    assert driver_host.restarts() == 2
    assert driver_host.play(DRIVER, acme_driver_state='absent').ok().changed_tasks == []
    assert driver_host.restarts() == 2
