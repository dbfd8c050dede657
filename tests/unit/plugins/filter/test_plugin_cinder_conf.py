"""The one builder of cinder.conf backend sections (plugins/module_utils/cinder_conf.py) and
its filters: acme.nas.cinder_backend_sections and acme.nas.cinder_conf_file_text (the role's
template) and acme.nas.osa_cinder_backends (openstack-ansible's cinder_backends)."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.acme.nas.plugins.filter.cinder_backend_sections import (
    cinder_backend_sections,
)
from ansible_collections.acme.nas.plugins.filter.cinder_conf_file_text import (
    cinder_conf_file_text,
)
from ansible_collections.acme.nas.plugins.filter.osa_cinder_backends import osa_cinder_backends

ACME = 'acme_cinder.nfs.AcmeNfsDriver'
BACKENDS = {
    'acme-b': {'volume_driver': ACME, 'acme_pool': 'pool2', 'nfs_sparsed_volumes': False,
               'acme_retries': 3, 'nfs_mount_options': ['vers=4.1', 'proto=tcp'],
               'acme_nfs_address': None, 'volume_type': 'gold'},
    'acme-a': {'volume_driver': ACME, 'acme_pool': 'pool1', 'volume_type': 'acme-a'},
    'generic': {'volume_driver': 'cinder.volume.drivers.nfs.NfsDriver',
                'volume_backend_name': 'NFS'},
}


def test_sections_are_what_oslo_config_reads_sorted_by_name():
    sections = cinder_backend_sections(BACKENDS, ca_file='/etc/cinder/acme-ca.pem')
    assert list(sections) == ['acme-a', 'acme-b', 'generic']
    assert sections['acme-b'] == {
        'volume_backend_name': 'acme-b', 'acme_ca_file': '/etc/cinder/acme-ca.pem',
        'volume_driver': ACME, 'acme_pool': 'pool2', 'nfs_sparsed_volumes': 'false',
        'acme_retries': '3', 'nfs_mount_options': 'vers=4.1,proto=tcp'}
    assert sections['generic'] == {  # no CA file for another driver; its own backend name
        'volume_backend_name': 'NFS', 'volume_driver': 'cinder.volume.drivers.nfs.NfsDriver'}


def test_a_ca_file_of_the_backend_wins_and_none_is_added_without_one():
    backends = {'a': {'volume_driver': ACME, 'acme_ca_file': '/srv/ca.pem'}}
    assert cinder_backend_sections(backends, ca_file='/x.pem')['a']['acme_ca_file'] == '/srv/ca.pem'
    assert 'acme_ca_file' not in cinder_backend_sections(BACKENDS)['acme-a']


def test_role_keys_are_left_out_and_configurable():
    sections = cinder_backend_sections(BACKENDS, role_keys=['volume_type', 'acme_pool'])
    assert 'acme_pool' not in sections['acme-a'] and 'volume_type' not in sections['acme-b']


def test_osa_backends_are_the_same_sections_plus_other_volume_types():
    sections = cinder_backend_sections(BACKENDS, ca_file='/c.pem')
    osa = osa_cinder_backends(BACKENDS, ca_file='/c.pem')
    assert osa['acme-b'] == {**sections['acme-b'], 'extra_volume_types': ['gold']}
    assert osa['acme-a'] == sections['acme-a']  # its type is named after the section
    assert osa['generic'] == sections['generic']


@pytest.mark.parametrize('bad, message', [
    ([], 'a dict of backends'), ({'a': {'acme_pool': 'p'}}, 'backend a: a map with volume_driver'),
    ({'a': 'text'}, 'backend a: a map with volume_driver')])
def test_bad_backends_are_a_clear_filter_error(bad, message):
    for build in (cinder_backend_sections, osa_cinder_backends):
        with pytest.raises(AnsibleFilterError, match=message):
            build(bad)


DOLLAR = {'volume_driver': ACME, 'nas_password': 'pa$word$', 'acme_retries': 3,
          'nfs_mount_options': ['a$b', 'c']}


def test_what_is_written_doubles_every_dollar_so_oslo_config_reads_the_value_given(tmp_path):
    # oslo.config comes with Cinder (the units-matrix venvs have it without Cinder)
    cfg = pytest.importorskip('oslo_config.cfg')
    written = cinder_conf_file_text({'acme': cinder_backend_sections({'acme': DOLLAR})['acme'],
                                     'DEFAULT': {'debug': True, 'host': None}})
    assert written == {'DEFAULT': {'debug': 'true'}, 'acme': {
        'volume_backend_name': 'acme', 'volume_driver': ACME, 'nas_password': 'pa$$word$$',
        'acme_retries': '3', 'nfs_mount_options': 'a$$b,c'}}
    assert osa_cinder_backends({'acme': DOLLAR})['acme'] == written['acme']
    path = tmp_path / 'cinder.conf'
    path.write_text(''.join(f'[{section}]\n' + ''.join(f'{k} = {v}\n' for k, v in opts.items())
                            for section, opts in written.items()))
    conf = cfg.ConfigOpts()
    conf.register_opts([cfg.StrOpt('nas_password', secret=True),
                        cfg.StrOpt('nfs_mount_options')], group='acme')
    conf(args=[], default_config_files=[str(path)], default_config_dirs=[], use_env=False)
    assert (conf.acme.nas_password, conf.acme.nfs_mount_options) == ('pa$word$', 'a$b,c')


def test_file_text_of_something_that_is_not_sections_is_a_clear_filter_error():
    for bad in ([], {'acme': 'text'}):
        with pytest.raises(AnsibleFilterError, match='a dict of sections'):
            cinder_conf_file_text(bad)
