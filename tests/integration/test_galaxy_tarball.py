"""The Galaxy tarball holds what users run and nothing of the lab or of development.

Built once with ``ansible-galaxy collection build`` from the checkout (galaxy.yml's
``build_ignore`` decides); the checks read the tarball's file list and files.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]

SHIPPED_ROLES = ('appliance', 'cinder_backend', 'driver', 'smoke')
DOCUMENTED_ROLES = SHIPPED_ROLES
# Everything in the tarball matches one of these.
SHIPPED = (
    'MANIFEST.json', 'FILES.json', 'README.md', 'LICENSE', 'requirements.txt', 'bindep.txt',
    'meta/runtime.yml', 'meta/execution-environment.yml', 'docs/*.md', 'changelogs/*',
    'plugins/*', 'playbooks/site.yml', 'playbooks/smoke.yml', 'playbooks/remove.yml',
    'playbooks/status.yml',
    *(f'roles/{role}/*' for role in SHIPPED_ROLES),
    # installed by acme.nas.driver / built by acme.nas.appliance from the collection
    'driver/README.md', 'driver/pyproject.toml', 'driver/acme_cinder/*.py',
    'appliance/pyproject.toml', 'appliance/run', 'appliance/container/*',
    'appliance/acme_appliance/*.py',
    # ansible-test metadata, so that `ansible-test sanity` of the installed collection agrees
    'tests/config.yml', 'tests/sanity/ignore-*.txt',
)
NEVER = ('lab/*', 'roles/lab_*', 'playbooks/lab*.yml', 'molecule/*', 'tests/unit/*',
         'tests/integration/*', 'tests/support/*', 'tests/cov/*', 'tests/bench/*',
         'tests/output/*', 'build/*', '*__pycache__*', '*.pyc', '*.egg-info*', '.*', '*/.*',
         'Makefile', 'constraints.txt',
         'requirements-dev.txt', 'requirements-collections.txt')
# Modules of other collections that shipped content may use without a Galaxy dependency:
# acme.nas.appliance (the simulator, a lab/CI helper) documents containers.podman as its own need.
OPTIONAL = {'containers.podman': 'roles/appliance/'}
FQCN_TASK = re.compile(r'^\s*(?:- )?([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+:', re.MULTILINE)


@pytest.fixture(scope='module')
def tarball(collection_tarball: Path) -> Iterator[tarfile.TarFile]:
    with tarfile.open(collection_tarball) as tar:
        yield tar


def files(tar: tarfile.TarFile) -> list[str]:
    return sorted(m.name for m in tar.getmembers() if not m.isdir())


def text(tar: tarfile.TarFile, name: str) -> str:
    member = tar.extractfile(name)
    assert member is not None, f'{name} is not a file in the tarball'
    return member.read().decode()


def matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def test_only_what_users_run(tarball: tarfile.TarFile) -> None:
    names = files(tarball)
    assert [n for n in names if not matches(n, SHIPPED)] == []
    assert [n for n in names if matches(n, NEVER)] == []


def test_nothing_shippable_left_out(tarball: tarfile.TarFile) -> None:
    tracked = subprocess.run(['git', 'ls-files'], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    wanted = {n for n in tracked if matches(n, SHIPPED) and not matches(n, NEVER)}
    assert wanted, 'git ls-files found nothing to ship'
    assert sorted(wanted - set(files(tarball))) == []
    assert {'plugins/modules/acme_share.py', 'roles/driver/tasks/main.yml',
            'driver/acme_cinder/nfs.py', 'playbooks/site.yml'} <= wanted


def test_lab_content_exists_but_stays_out(tarball: tarfile.TarFile) -> None:
    lab = [p.relative_to(REPO).as_posix() for p in (*REPO.glob('lab/roles/lab_*/meta/main.yml'),
                                                    *REPO.glob('lab/playbooks/*.yml'),
                                                    *REPO.glob('lab/molecule/*/molecule.yml'))]
    assert lab, 'no lab content in the checkout: the exclusion test proves nothing'
    assert set(lab).isdisjoint(files(tarball))


def test_roles_and_playbooks_hold_only_what_ships() -> None:
    """The lab's roles and playbooks are under lab/, not in the collection's roles/, playbooks/."""
    tracked = subprocess.run(['git', 'ls-files', 'roles', 'playbooks'], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.split()
    assert tracked and [n for n in tracked if not matches(n, SHIPPED)] == []


def used_collections(tarball: tarfile.TarFile) -> dict[str, set[str]]:
    """Collection name -> shipped task/playbook files that call one of its modules."""
    used: dict[str, set[str]] = {}
    for name in files(tarball):
        if name.startswith(('roles/', 'playbooks/')) and name.endswith('.yml'):
            for namespace, collection in FQCN_TASK.findall(text(tarball, name)):
                used.setdefault(f'{namespace}.{collection}', set()).add(name)
    return used


def test_dependencies_are_what_shipped_content_runs(tarball: tarfile.TarFile) -> None:
    declared = json.loads(text(tarball, 'MANIFEST.json'))['collection_info']['dependencies']
    used = used_collections(tarball)
    assert 'ansible.builtin' in used and 'acme.nas' in used
    needed = {name for name, where in used.items()
              if name not in ('ansible.builtin', 'acme.nas')
              and not all(w.startswith(OPTIONAL.get(name, '\0')) for w in where)}
    assert sorted(needed) == sorted(declared)
    for name, prefix in OPTIONAL.items():
        readme = text(tarball, f'{prefix}README.md')
        assert name in readme, f'{prefix}README.md does not say that it needs {name}'


def computed(value: object) -> bool:
    """A default that Jinja computes when the role runs (from the inventory, another variable)."""
    return isinstance(value, str) and '{{' in value


def undocumented(options: dict, defaults: dict, where: str) -> Iterator[str]:
    """What argument_specs lacks for options to be their one reference: a description, and a
    default or required: true. A default that defaults/main.yml computes may be left out of the
    spec (its description says where it comes from); a plain one must be the same in both."""
    for name, spec in options.items():
        description = spec.get('description')
        lines = [description] if isinstance(description, str) else description or []
        if not lines or not all(isinstance(line, str) and line.strip() for line in lines):
            yield f'{where}{name}: no description'
        plain = name in defaults and not computed(defaults[name])
        if 'default' in spec:
            if plain and spec['default'] != defaults[name]:
                yield f'{where}{name}: default {spec["default"]!r} differs from defaults/main.yml'
        elif not spec.get('required') and not computed(defaults.get(name)):
            yield f'{where}{name}: neither a default nor required: true'
        yield from undocumented(spec.get('options') or {}, {}, f'{where}{name}.')


@pytest.mark.parametrize('role', DOCUMENTED_ROLES)
def test_role_variables_are_documented_once_in_argument_specs(
        tarball: tarfile.TarFile, role: str) -> None:
    """meta/argument_specs.yml is the one reference of a role's variables (ansible-doc -t role
    renders it); the README points there and gives examples instead of a second table."""
    readme = text(tarball, f'roles/{role}/README.md')
    specs = yaml.safe_load(text(tarball, f'roles/{role}/meta/argument_specs.yml'))
    defaults = yaml.safe_load(text(tarball, f'roles/{role}/defaults/main.yml')) or {}
    options = specs['argument_specs']['main'].get('options', {})
    assert options, f'roles/{role}/meta/argument_specs.yml lists no options'
    assert sorted(set(defaults) - set(options)) == [], 'undocumented variables in defaults/main.yml'
    assert list(undocumented(options, defaults, '')) == []
    assert f'ansible-doc -t role acme.nas.{role}' in readme
    table_rows = [line for line in readme.splitlines()
                  if any(line.startswith(f'| `{name}`') for name in options)]
    assert table_rows == [], f'roles/{role}/README.md documents variables a second time'
    for heading in ('## Variables', '## Example playbook', '## Supported platforms'):
        assert heading in readme, f'roles/{role}/README.md has no "{heading}"'


# Debian 13: molecule/driver_trixie runs the driver and cinder_backend roles on a trixie root.
TESTED_DEBIAN = {'appliance': ['bookworm'], 'cinder_backend': ['bookworm', 'trixie'],
                 'driver': ['bookworm', 'trixie'], 'smoke': ['bookworm']}


@pytest.mark.parametrize('role', DOCUMENTED_ROLES)
def test_role_meta_claims_only_tested_platforms(tarball: tarfile.TarFile, role: str) -> None:
    meta = yaml.safe_load(text(tarball, f'roles/{role}/meta/main.yml'))
    assert meta['galaxy_info']['platforms'] == [{'name': 'Debian',
                                                 'versions': TESTED_DEBIAN[role]}]
