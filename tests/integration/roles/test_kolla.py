"""The kolla-ansible path of docs/deployment-tools.md, step by step, with kolla's own code.

The snippets are read from the document itself (each fenced block names its file on its first
line), so the document and the tests cannot drift apart:
- kolla-build --template-only (kolla 23.0.0, OpenStack 2026.2) with the document's
  kolla-build.conf, template override and command line: the generated Dockerfile installs the
  driver's wheel;
- the document's Containerfile, built by podman over a stand-in of kolla's cinder-volume image
  (its FROM replaced: no registry is reachable here), with the wheel built from the checkout;
- the appliance CA through kolla_copy_ca_into_containers: kolla-ansible's config.json of
  cinder-volume, then kolla's own kolla_set_configs and kolla_copy_cacerts in that container;
- every globals.yml variable the document sets is a kolla-ansible default, meaning what the
  document says.
kolla and kolla-ansible are pinned and cached by tests/support/kolla.py.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import jinja2
import pytest
import trustme
import yaml

from tests.integration.conftest import require_tools
from tests.support.compat_venv import run
from tests.support.driver_source import stage_driver_source
from tests.support.kolla import kolla_ansible_dir, kolla_package, kolla_venv

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / 'docs' / 'deployment-tools.md'
STANDIN = Path(__file__).parent / 'files' / 'kolla-cinder-volume-standin.Containerfile'
STANDIN_IMAGE = 'localhost/acme-kolla-cinder-volume-standin:latest'
BASE_BUILD = REPO / 'appliance' / 'container' / 'build'
CONTAINERFILE = "# Containerfile: kolla's cinder-volume image with the ACME driver"
CONFIG_FILES = '/var/lib/kolla/config_files'  # kolla-ansible's container_config_directory


def kolla_section() -> str:
    text = DOC.read_text()
    return text[text.index('## kolla-ansible\n'):]


def doc_blocks(first_line: str) -> list[str]:
    """The fenced blocks of the kolla-ansible section whose first line is ``first_line``."""
    blocks = re.findall(r'```[a-z]*\n(.*?)```', kolla_section(), re.DOTALL)
    found = [block for block in blocks if block.splitlines()[0] == first_line]
    assert found, f'no block starting with {first_line!r} in {DOC}'
    return found


def doc_command(program: str) -> list[str]:
    """The document's console command running ``program`` (continuation lines joined)."""
    for block in re.findall(r'```console\n(.*?)```', kolla_section(), re.DOTALL):
        command = block.replace('\\\n', ' ')
        for line in command.splitlines():
            if line.startswith(f'$ {program} '):
                return shlex.split(line[2:])
    raise AssertionError(f'no `{program}` command in {DOC}')


def globals_yml() -> dict:
    """Every /etc/kolla/globals.yml setting of the document."""
    settings: dict = {}
    for block in doc_blocks('# /etc/kolla/globals.yml'):
        settings.update(yaml.safe_load(block))
    return settings


def podman(*args: str | Path, timeout: int = 600) -> str:
    return run('podman', *args, timeout=timeout)


# --- step 3b: the kolla-build plugin -------------------------------------------------------

@pytest.fixture(scope='module')
def kolla_build_dockerfiles(tmp_path_factory) -> Path:
    """The docker/ directory the document's kolla-build command generates, template only."""
    work = tmp_path_factory.mktemp('kolla-build')
    conf, = doc_blocks('# /etc/kolla/kolla-build.conf')
    override, = doc_blocks('{# /etc/kolla/template-overrides.j2 #}')
    (work / 'kolla-build.conf').write_text(conf)
    (work / 'template-overrides.j2').write_text(override)
    argv = [str(work / 'template-overrides.j2') if arg.startswith('/etc/kolla/') else arg
            for arg in doc_command('kolla-build')]
    venv = kolla_venv()
    run(venv / 'bin' / argv[0], '--config-file', work / 'kolla-build.conf', '--template-only',
        '--work-dir', work / 'out', *argv[1:], timeout=600)
    return work / 'out' / 'docker'


def instructions(dockerfile: Path) -> list[str]:
    return [line.strip() for line in dockerfile.read_text().splitlines() if line.strip()]


def test_kolla_build_template_installs_the_driver_wheel_of_the_plugin(kolla_build_dockerfiles):
    lines = instructions(kolla_build_dockerfiles / 'cinder' / 'cinder-volume' / 'Dockerfile')
    conf, = doc_blocks('# /etc/kolla/kolla-build.conf')
    location = re.search(r'^location = (\S+)$', conf, re.MULTILINE)[1]
    # kolla archives a type=local directory under its own name, ADD unpacks it to /plugins/
    pip = ('RUN python3 -m pip --no-cache-dir install --no-deps '
           f'/plugins/{Path(location).name}/*.whl')
    assert lines[0] == 'FROM registry.example.com:4000/kolla/cinder-base:2026.2-debian-trixie'
    add, install = lines.index('ADD plugins-archive /'), lines.index(pip)
    kolla_packages = next(i for i, line in enumerate(lines) if 'nfs-common' in line)
    assert kolla_packages < add == install - 1
    # the last instruction, as in every kolla image: the wheel is installed as root before it
    assert lines[-1] == 'USER cinder' and 'USER' not in ' '.join(lines[:-1])
    assert 'acme' not in ' '.join(lines[:add])


def test_kolla_build_builds_the_parents_without_the_plugin(kolla_build_dockerfiles):
    """cinder-volume's parents are built too, without the driver; cinder-base installs Cinder's
    own etc/cinder (rootwrap.d/volume.filters, which admits the driver's root commands:
    tests/unit/driver/test_driver_rootwrap_filters.py)."""
    parents = [kolla_build_dockerfiles / name / 'Dockerfile'
               for name in ('base', 'openstack-base', 'cinder/cinder-base')]
    assert all(dockerfile.is_file() for dockerfile in parents)
    assert not any('acme' in dockerfile.read_text() for dockerfile in parents)
    assert '&& cp -r /cinder/etc/cinder/* /etc/cinder/ \\' in instructions(parents[-1])


# --- step 3a: the Containerfile over the release's image -----------------------------------

@pytest.fixture(scope='module')
def standin_image() -> str:
    """The stand-in of kolla's cinder-volume image, over the project's Debian base image."""
    require_tools('podman', 'runc', 'debootstrap')
    run(BASE_BUILD, '--base-only', timeout=1800)
    podman('build', '-q', '--layers', '-t', STANDIN_IMAGE, '-f', STANDIN, STANDIN.parent)
    return STANDIN_IMAGE


@pytest.fixture(scope='module')
def driver_wheel(tmp_path_factory) -> Path:
    """The driver's wheel, built from the checkout as the document builds it."""
    work = tmp_path_factory.mktemp('wheel')
    driver = stage_driver_source(work / 'source')
    run(sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', driver, '-w', work / 'dist')
    wheel, = (work / 'dist').glob('acme_cinder_driver-*.whl')
    return wheel


@pytest.mark.container
def test_containerfile_adds_the_driver_to_kolla_cinder_volume_image(
        standin_image, driver_wheel, tmp_path):
    containerfile, = doc_blocks(CONTAINERFILE)
    release_image = containerfile.splitlines()[1]
    assert release_image == 'FROM quay.io/openstack.kolla/cinder-volume:2026.2-debian-trixie'
    assert driver_wheel.name in containerfile  # the file name the document copies
    (tmp_path / 'Containerfile').write_text(
        containerfile.replace(release_image, f'FROM {standin_image}'))
    (tmp_path / driver_wheel.name).write_bytes(driver_wheel.read_bytes())
    image = 'localhost/acme-kolla-cinder-volume-acme:test'
    podman('build', '-q', '-t', image, tmp_path)
    try:
        shown = podman('run', '--rm', image, 'python3', '-c',
                       'import getpass, glob, importlib.metadata as m; '
                       'd = m.distribution("acme-cinder-driver"); '
                       'print(getpass.getuser(), d.version, d.locate_file("acme_cinder/nfs.py"), '
                       'glob.glob("/tmp/*.whl"))')
    finally:
        podman('rmi', '-f', image)
    user, version, nfs_py, leftovers = shown.split(maxsplit=3)
    assert user == 'cinder'
    assert driver_wheel.name.startswith(f'acme_cinder_driver-{version}-')
    assert nfs_py.startswith('/var/lib/kolla/venv/lib/python3')
    assert leftovers.strip() == '[]'


# --- step 2: the CA through kolla_copy_ca_into_containers -----------------------------------

def kolla_ansible_yaml(name: str) -> dict:
    return yaml.safe_load((kolla_ansible_dir() / name).read_text())


def cinder_volume_config_json(copy_ca: bool) -> dict:
    """kolla-ansible's config.json of the cinder-volume container, rendered with no backend
    of kolla's own and kolla_copy_ca_into_containers = ``copy_ca``."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters['bool'] = bool
    template = kolla_ansible_dir() / 'roles' / 'cinder' / 'templates' / 'cinder-volume.json.j2'
    return json.loads(env.from_string(template.read_text()).render(
        container_config_directory=CONFIG_FILES, kolla_copy_ca_into_containers=copy_ca,
        cinder_backend_huawei=False, cinder_backend_huawei_xml_files=[],
        cinder_backend_ceph=False, enable_cinder_backend_nfs=False))


def test_kolla_ansible_copies_the_ca_directory_into_cinder_volume_config():
    assert globals_yml()['kolla_copy_ca_into_containers'] is True
    haproxy = kolla_ansible_yaml('group_vars/all/haproxy.yml')
    common = kolla_ansible_yaml('group_vars/all/common.yml')
    assert haproxy['kolla_copy_ca_into_containers'] is False  # off unless globals.yml says so
    assert haproxy['kolla_certificates_dir'] == '{{ node_config }}/certificates'
    assert common['node_config'] == "{{ CONFIG_DIR | default('/etc/kolla') }}"
    cinder = kolla_ansible_yaml('roles/cinder/defaults/main.yml')
    assert cinder['cinder_copy_certs'].startswith('{{ kolla_copy_ca_into_containers | bool or')
    copy, = [task for task in kolla_ansible_yaml('roles/service-cert-copy/tasks/main.yml')
             if task['name'].startswith('Copying over extra CA certificates')]
    assert copy['ansible.builtin.copy']['src'] == '{{ kolla_certificates_dir }}/ca/'
    assert copy['ansible.builtin.copy']['dest'] == (
        '{{ node_config_directory }}/{{ item.key }}/ca-certificates')
    assert 'kolla_copy_ca_into_containers | bool' in copy['when']
    assert 'cinder-volume' in cinder['cinder_services']
    on, off = cinder_volume_config_json(True), cinder_volume_config_json(False)
    ca_dir = {'source': f'{CONFIG_FILES}/ca-certificates',
              'dest': '/var/lib/kolla/share/ca-certificates', 'owner': 'root', 'perm': '0644'}
    assert ca_dir in on['config_files'] and ca_dir not in off['config_files']


@pytest.mark.container
def test_kolla_container_start_puts_the_ca_into_the_system_store(standin_image, tmp_path):
    """kolla_set_configs (with kolla-ansible's config.json) then kolla_copy_cacerts, as
    kolla_start runs them, in the stand-in: the .crt is in the system bundle afterwards."""
    config = tmp_path / 'config_files'
    (config / 'ca-certificates').mkdir(parents=True)
    (config / 'config.json').write_text(json.dumps(cinder_volume_config_json(True)))
    (config / 'cinder.conf').write_text('[DEFAULT]\n')
    (config / 'hostnqn').write_text('nqn.2014-08.org.nvmexpress:uuid:acme-test\n')
    acme_ca, other = trustme.CA(), trustme.CA()
    copy_step = re.search(r'^\$ cp \S+ (\S+)$', kolla_section(), re.MULTILINE)[1]
    assert copy_step == '/etc/kolla/certificates/ca/acme-ca.crt'
    acme_ca.cert_pem.write_to_path(str(config / 'ca-certificates' / Path(copy_step).name))
    other.cert_pem.write_to_path(str(config / 'ca-certificates' / 'other.pem'))
    base = kolla_package(kolla_venv()) / 'docker' / 'base'
    yaml_lib = Path(yaml.__file__).parent  # kolla's images have python3-yaml; the stand-in not
    bundle = podman(
        'run', '--rm', '--user', 'root', '--env', 'KOLLA_CONFIG_STRATEGY=COPY_ALWAYS',
        '--env', 'PYTHONPATH=/opt/pyyaml', '--volume', f'{yaml_lib}:/opt/pyyaml/yaml:ro',
        '--volume', f'{config}:{CONFIG_FILES}:ro',
        '--volume', f'{base / "set_configs.py"}:/usr/local/bin/kolla_set_configs:ro',
        '--volume', f'{base / "copy_cacerts.sh"}:/usr/local/bin/kolla_copy_cacerts:ro',
        standin_image, 'bash', '-c',
        'python3 /usr/local/bin/kolla_set_configs >/dev/null 2>&1 '
        '&& bash /usr/local/bin/kolla_copy_cacerts >/dev/null '
        '&& cat /etc/ssl/certs/ca-certificates.crt')
    assert acme_ca.cert_pem.bytes().decode().strip() in bundle
    assert other.cert_pem.bytes().decode().strip() not in bundle  # not a .crt: left out
    assert '/etc/ssl/certs/ca-certificates.crt' in doc_blocks(
        '- name: ACME backends for kolla-ansible')[0]


# --- every globals.yml setting of the document ----------------------------------------------

def test_globals_yml_settings_are_kolla_ansible_variables():
    cinder = kolla_ansible_yaml('roles/cinder/defaults/main.yml')
    known = {**kolla_ansible_yaml('group_vars/all/common.yml'),
             **kolla_ansible_yaml('group_vars/all/haproxy.yml'), **cinder}
    assert set(globals_yml()) <= set(known)
    # the cinder-volume container runs cinder_volume_image:cinder_volume_tag
    assert cinder['cinder_services']['cinder-volume']['image'] == '{{ cinder_volume_image_full }}'
    assert cinder['cinder_volume_image_full'] == '{{ cinder_volume_image }}:{{ cinder_volume_tag }}'
    assert cinder['cinder_volume_image'] == '{{ docker_image_url }}cinder-volume'
    assert cinder['skip_cinder_backend_check'] is False
    assert globals_yml()['cinder_volume_tag'].startswith('2026.2-debian-trixie')
