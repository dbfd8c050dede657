"""The rootwrap filters acme.nas.driver installs admit every command the driver runs as root
(issue 20, "Commands as root, in every NAS mode").

With ``nas_secure_file_operations = false`` the driver's file commands go through Cinder's
root helper, which runs only what a filter admits. The commands are not written here by
hand: they are recorded from a run of every operation that touches a file, thin and thick,
through the real driver and simulator; the mount command is the one os-brick builds. The
filters are the role's template, rendered by Ansible's own templating with the role's
variables, and matched by oslo.rootwrap as Cinder's root helper matches them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from driver_helpers import RootRecorder
from oslo_rootwrap import filters as rootwrap_filters
from oslo_rootwrap import wrapper

from tests.support.collection import REPO

ROLE = REPO / 'roles' / 'driver'
EXEC_DIRS = ['/sbin', '/usr/sbin', '/bin', '/usr/bin']
GIB = 1024**3


def rendered_filters(base: str, tmp_path: Path) -> list:
    """roles/driver/templates/acme.filters.j2 as the role renders it for this mount base."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template
    role_vars = {**yaml.safe_load((ROLE / 'defaults' / 'main.yml').read_text()),
                 **yaml.safe_load((ROLE / 'vars' / 'main.yml').read_text())}
    variables = {**{k: trust_as_template(v) if isinstance(v, str) else v  # a role's own files
                    for k, v in role_vars.items()},
                 'acme_driver_mount_point_base': base, 'ansible_managed': 'test'}
    templar = Templar(loader=DataLoader(), variables=variables)
    text = templar.template(trust_as_template(
        (ROLE / 'templates' / 'acme.filters.j2').read_text()))
    path = tmp_path / 'rootwrap.d' / 'acme.filters'
    path.parent.mkdir()
    path.write_text(text)
    return wrapper.load_filters([str(path.parent)])


def os_brick_mount_command(driver) -> tuple[str, ...]:
    """The command os-brick's RemoteFsClient runs as root to mount a share for the driver."""
    from os_brick.remotefs import remotefs
    ran = []

    def execute(*cmd, **kwargs):
        if kwargs.get('run_as_root'):
            ran.append(cmd)
        return '', ''

    client = remotefs.RemoteFsClient('nfs', 'sudo', execute=execute,
                                     nfs_mount_point_base=driver.base,
                                     nfs_mount_options=driver.mount_options)
    client._read_mounts = dict
    client.mount('10.0.0.1:/pool1/cinder-volume-1')
    return ran[-1]


def every_file_operation(drv, appliance, volume, snapshot, new_volume, ctx) -> None:
    """Create, extend, clone and volume from snapshot grown to a larger size, revert by copy,
    manage of a file that is not whole GiB (thick: every GiB is written, so sizes stay 1-2)."""
    vol = volume(drv=drv)
    snap = snapshot(vol, drv=drv)
    drv.create_volume_from_snapshot(new_volume(size=2), snap)
    drv.create_cloned_volume(new_volume(size=1), vol)  # a newer snapshot: revert copies
    drv.revert_to_snapshot(ctx, vol, snap)
    drv.extend_volume(vol, 2)
    share = appliance.create_share('legacy', quota_bytes=4 * GIB)
    with open(appliance.share_dir(share['id']) / 'disk.img', 'wb') as image:
        image.truncate(GIB // 2)  # not whole GiB: manage extends it
    drv.manage_existing(new_volume(size=None), {'source-name': 'legacy'})


def commands_as_root(drv, appliance, volume, snapshot, new_volume, ctx) -> list[tuple]:
    """Every distinct command the driver runs as root in every file operation, and the mount."""
    drv._execute = recorder = RootRecorder()
    every_file_operation(drv, appliance, volume, snapshot, new_volume, ctx)
    as_root = [cmd for cmd, root in recorder.as_root if root]
    assert {'truncate', 'mv', 'cp', 'stat', 'chmod'} <= {cmd[0] for cmd in as_root}
    return [*dict.fromkeys(as_root), os_brick_mount_command(drv)]


def refused_by(filters: list, commands: list[tuple]) -> list[str]:
    refused = []
    for cmd in commands:
        try:
            wrapper.match_filter(filters, list(cmd), exec_dirs=EXEC_DIRS)
        except (wrapper.NoFilterMatched, wrapper.FilterMatchNotExecutable):
            refused.append(' '.join(cmd))
    return refused


def cinders_own_filters() -> list:
    """Cinder's etc/cinder/rootwrap.d of its release: all a host has where only Cinder's own
    filters are installed (kolla's cinder-base image copies Cinder's etc/cinder into
    /etc/cinder: docs/deployment-tools.md, kolla-ansible)."""
    directory = Path(sys.prefix) / 'etc' / 'cinder' / 'rootwrap.d'
    assert (directory / 'volume.filters').is_file()
    return wrapper.load_filters([str(directory)])


@pytest.mark.parametrize('sparse', [True, False], ids=['thin', 'thick'])
def test_insecure_mode_commands_of_every_operation_pass_the_shipped_and_cinders_filters(
        make_driver, appliance, volume, snapshot, new_volume, ctx, tmp_path, sparse):
    drv = make_driver(nas_secure_file_operations='false', nfs_sparsed_volumes=sparse)
    commands = commands_as_root(drv, appliance, volume, snapshot, new_volume, ctx)
    assert refused_by(rendered_filters(drv.base, tmp_path), commands) == []
    assert refused_by(cinders_own_filters(), commands) == []


@pytest.mark.parametrize('cmd', [
    ['chmod', '777', '/etc/shadow'],
    ['mv', '/etc/passwd', '{base}/0123456789abcdef0123456789abcdef/x'],
    ['truncate', '-s', '0', '/etc/passwd'],
    ['cp', '--sparse=never', '-f', '/etc/shadow', '/tmp/x'],
    ['mount', '-t', 'nfs', '-o', 'x', '10.0.0.1:/p', '/etc']])
def test_filters_refuse_commands_outside_the_mount_points(tmp_path, cmd):
    base = str(tmp_path / 'mnt')
    filters = rendered_filters(base, tmp_path)
    with pytest.raises(wrapper.NoFilterMatched):
        wrapper.match_filter(filters, [c.format(base=base) for c in cmd], exec_dirs=EXEC_DIRS)
    assert all(isinstance(f, rootwrap_filters.CommandFilter) for f in filters)
