"""make release: the collection tarball and the driver's wheel and sdist, of one version.

Built once by tests/publish/release.py (what `make release` runs) into a temporary directory;
the wheel is installed with plain pip into a fresh virtualenv, and an execution environment's
build context is written by ansible-builder (`create` only: no image is built, no registry).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VERSION = yaml.safe_load((REPO / 'galaxy.yml').read_text())['version']
COLLECTION = f'acme-nas-{VERSION}.tar.gz'
WHEEL = f'acme_cinder_driver-{VERSION}-py3-none-any.whl'
SDIST = f'acme_cinder_driver-{VERSION}.tar.gz'
INIT_VERSION = re.compile(r"^__version__ = '([^']+)'$", re.MULTILINE)


def clean_env() -> dict[str, str]:
    """This environment without PYTHONPATH (a test run's points at the checkout's driver/)."""
    return {name: value for name, value in os.environ.items() if name != 'PYTHONPATH'}


def run(*cmd: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False,
                            timeout=600, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f'{cmd} failed:\n{result.stdout}\n{result.stderr}'
    return result


@pytest.fixture(scope='module')
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp('dist')
    run(sys.executable, REPO / 'tests' / 'publish' / 'release.py', '--output', out)
    return out


def tar_text(path: Path, name: str) -> str:
    with tarfile.open(path) as tar:
        member = tar.extractfile(name)
        assert member is not None, f'{name} is not a file in {path.name}'
        return member.read().decode()


def wheel_text(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as wheel:
        return wheel.read(name).decode()


def metadata_version(text: str) -> str:
    (version,) = re.findall(r'^Version: (\S+)$', text, re.MULTILINE)
    return version


def test_one_command_builds_every_artifact_of_one_version(release: Path) -> None:
    assert sorted(p.name for p in release.iterdir()) == sorted(
        ['SHA256SUMS', COLLECTION, WHEEL, SDIST])
    manifest = json.loads(tar_text(release / COLLECTION, 'MANIFEST.json'))
    assert manifest['collection_info']['version'] == VERSION
    wheel_metadata = wheel_text(release / WHEEL, f'acme_cinder_driver-{VERSION}.dist-info/METADATA')
    assert metadata_version(wheel_metadata) == VERSION
    sdist_metadata = tar_text(release / SDIST, f'acme_cinder_driver-{VERSION}/PKG-INFO')
    assert metadata_version(sdist_metadata) == VERSION
    run('sha256sum', '--check', '--strict', 'SHA256SUMS', cwd=release)


def test_the_tarball_names_the_driver_it_carries(release: Path) -> None:
    """The collection's driver/ is the wheel's source: same version, same client."""
    carried = tar_text(release / COLLECTION, 'driver/acme_cinder/__init__.py')
    assert INIT_VERSION.findall(carried) == [VERSION]
    assert wheel_text(release / WHEEL, 'acme_cinder/__init__.py') == carried
    client = tar_text(release / COLLECTION, 'plugins/module_utils/acme_client.py')
    assert wheel_text(release / WHEEL, 'acme_cinder/acme_client.py') == client
    assert tar_text(release / SDIST, f'acme_cinder_driver-{VERSION}/acme_cinder/acme_client.py') \
        == client


def test_the_wheel_installs_with_plain_pip(release: Path, tmp_path: Path) -> None:
    """Its dependency is the client's (urllib3), not Cinder's: pip installs it
    (versions pinned by constraints.txt); Cinder is the deployment's (extra `cinder`). The
    virtualenv has no pip of its own (ensurepip takes longer than the test): this pip installs
    into it (--python)."""
    venv = tmp_path / 'venv'
    run(sys.executable, '-m', 'venv', '--without-pip', venv)
    run(BIN / 'pip', '--python', venv / 'bin' / 'python', 'install', '-q',
        '--disable-pip-version-check', '-c', REPO / 'constraints.txt', release / WHEEL,
        env=clean_env())
    probe = ('import importlib.metadata as m, acme_cinder, acme_cinder.acme_client as c; '
             "eps = m.entry_points(group='oslo.config.opts'); "
             "print(m.version('acme-cinder-driver'), acme_cinder.__version__, "
             "c.requirements_error(), [e.value for e in eps if e.name == 'acme_cinder'], "
             'acme_cinder.__file__)')
    result = run(venv / 'bin' / 'python', '-c', probe, cwd=tmp_path, env=clean_env())
    version, package_version, problem, entry_points, where = result.stdout.split(' ', 4)
    assert (version, package_version, problem) == (VERSION, VERSION, 'None')
    assert entry_points == "['acme_cinder.options:list_opts']"
    assert where.strip().startswith(str(venv))


def test_the_wheel_loads_as_cinder_loads_it(release: Path, tmp_path: Path) -> None:
    """Into a Python that has Cinder (this .venv), without dependencies (Cinder brings them)."""
    target = tmp_path / 'site'
    run(BIN / 'pip', 'install', '-q', '--disable-pip-version-check', '--no-deps',
        '--target', target, release / WHEEL)
    probe = ('import acme_cinder.nfs as nfs; '
             'print(nfs.__file__, nfs.AcmeNfsDriver.VERSION, nfs.AcmeNfsDriver.__module__)')
    result = run(sys.executable, '-c', probe, env={'PYTHONPATH': str(target)}, cwd=tmp_path)
    assert result.stdout.split() == [str(target / 'acme_cinder' / 'nfs.py'), VERSION,
                                     'acme_cinder.nfs']


def execution_environment(release: Path, path: Path) -> Path:
    """An operator's definition: acme.nas from the released tarball, offline (no Galaxy)."""
    definition = {
        'version': 3,
        'images': {'base_image': {'name': 'quay.io/ansible/ansible-runner:latest'}},
        'dependencies': {'galaxy': {'collections': [
            {'name': f'collections/{COLLECTION}', 'type': 'file'}]}},
        'additional_build_files': [{'src': str(release / COLLECTION), 'dest': 'collections'}],
        'additional_build_steps': {'prepend_galaxy': ['COPY _build/collections/ collections/']},
    }
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    return path


def test_an_execution_environment_gets_the_collection_dependencies(
        release: Path, tmp_path: Path) -> None:
    """ansible-builder writes the build context; its introspection, which the image build runs
    after `ansible-galaxy collection install`, reads meta/execution-environment.yml of the
    installed collection and adds requirements.txt and bindep.txt."""
    context = tmp_path / 'context'
    run(BIN / 'ansible-builder', 'create', '--file',
        execution_environment(release, tmp_path / 'execution-environment.yml'),
        '--context', context)
    assert (context / '_build' / 'collections' / COLLECTION).read_bytes() == \
        (release / COLLECTION).read_bytes()
    installed = tmp_path / 'collections'
    # As in the image: no other acme.nas on the collections path (make test's
    # ANSIBLE_COLLECTIONS_PATH has the checkout, and ansible-galaxy then installs nothing).
    run(BIN / 'ansible-galaxy', 'collection', 'install', '--no-deps', '-p', installed,
        context / '_build' / 'collections' / COLLECTION,
        env={**os.environ, 'ANSIBLE_COLLECTIONS_PATH': str(installed)})
    pip, bindep = tmp_path / 'pip.txt', tmp_path / 'bindep.txt'
    run(sys.executable, context / '_build' / 'scripts' / 'introspect.py', 'introspect',
        '--write-pip', pip, '--write-bindep', bindep, installed)
    assert pip.read_text().splitlines() == requirement_lines(REPO / 'requirements.txt')
    assert bindep.read_text().splitlines() == requirement_lines(REPO / 'bindep.txt')


def requirement_lines(path: Path) -> list[str]:
    """The file's entries as introspection writes them: tagged with the collection."""
    entries = [line for line in path.read_text().splitlines() if line and line[0] != '#']
    assert entries, f'{path.name} lists nothing'
    return [f'{entry}  # from collection acme.nas' for entry in entries]
