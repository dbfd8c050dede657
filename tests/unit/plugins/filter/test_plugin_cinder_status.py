"""acme.nas.cinder_status: the comparison behind acme.nas.status (the appliance's pools,
Cinder's scheduler pools and cinder-volume services), every kind of mismatch."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.acme.nas.plugins.filter.cinder_status import cinder_status

ACME = 'acme_cinder.nfs.AcmeNfsDriver'
URL = 'https://nas1.example.com:8443'
GIB = 1024 ** 3
BACKENDS = {
    'acme-b': {'volume_driver': ACME, 'acme_url': URL, 'acme_pools': ['pool1', 'pool2']},
    'acme-a': {'volume_driver': ACME, 'acme_url': URL, 'acme_pool': 'pool1'},
    'lvm': {'volume_driver': 'cinder.volume.drivers.lvm.LVMVolumeDriver'},
}
APPLIANCES = {URL: [
    {'name': 'pool1', 'total_bytes': 100 * GIB, 'free_bytes': 99 * GIB},
    {'name': 'pool2', 'total_bytes': 1 * GIB, 'free_bytes': GIB // 2},
]}


def pool(name, total=100.0, free=99.0):
    return {'name': name, 'capabilities': {'pool_name': name.partition('#')[2],
                                           'total_capacity_gb': total,
                                           'free_capacity_gb': free}}


def service(host, status='enabled', state='up', reason=None):
    return {'binary': 'cinder-volume', 'host': host, 'status': status, 'state': state,
            'disabled_reason': reason}


POOLS = [pool('vol1@acme-a#acme-a'), pool('vol1@acme-b#pool1'),
         pool('vol1@acme-b#pool2', 1.0, 0.5), pool('vol1@lvm#lvm')]
SERVICES = [service('vol1@acme-a'), service('vol1@acme-b'), service('vol1@lvm', state='down'),
            {'binary': 'cinder-scheduler', 'host': 'ctl', 'status': 'enabled', 'state': 'down'}]


def status(backends=None, appliances=None, pools=None, services=None):
    return cinder_status(BACKENDS if backends is None else backends,
                         APPLIANCES if appliances is None else appliances,
                         POOLS if pools is None else pools,
                         SERVICES if services is None else services)


def test_all_good_has_no_mismatch_and_shows_both_sides_of_every_acme_backend():
    result = status()
    assert result['mismatches'] == []
    assert [b['name'] for b in result['backends']] == ['acme-a', 'acme-b']  # no lvm
    acme_a, acme_b = result['backends']
    assert acme_a['pools'] == [{
        'appliance_pool': 'pool1', 'appliance_total_gib': 100.0, 'appliance_free_gib': 99.0,
        'cinder_pool': 'vol1@acme-a#acme-a', 'cinder_total_gib': 100.0,
        'cinder_free_gib': 99.0}]
    assert [(r['appliance_pool'], r['cinder_pool'], r['cinder_free_gib'])
            for r in acme_b['pools']] == [('pool1', 'vol1@acme-b#pool1', 99.0),
                                          ('pool2', 'vol1@acme-b#pool2', 0.5)]
    assert acme_b['services'] == [
        {'host': 'vol1@acme-b', 'status': 'enabled', 'state': 'up', 'disabled_reason': None}]


def test_the_table_puts_the_appliance_and_cinder_on_one_line_per_pool():
    lines = status()['backends'][1]['table']
    assert lines[0] == f'acme-b ({URL})'
    assert lines[1].split() == ['appliance', 'pool', 'total', 'GiB', 'free', 'GiB', '|',
                                'Cinder', 'pool', 'total', 'GiB', 'free', 'GiB']
    assert lines[2].split() == ['pool1', '100.00', '99.00', '|', 'vol1@acme-b#pool1',
                                '100.00', '99.00']
    assert lines[3].split() == ['pool2', '1.00', '0.50', '|', 'vol1@acme-b#pool2', '1.00',
                                '0.50']
    assert lines[2].index('|') == lines[1].index('|') == lines[3].index('|')
    assert lines[4:] == ['  cinder-volume vol1@acme-b: enabled, up']


def test_a_backend_cinder_never_loaded_is_named_with_its_service():
    """cinder-volume sends no heartbeat for a backend whose driver failed to set up."""
    pools = [p for p in POOLS if '@acme-a' not in p['name']]
    services = [dict(s, state='down') if s['host'] == 'vol1@acme-a' else s for s in SERVICES]
    result = status(pools=pools, services=services)
    assert result['mismatches'] == [
        'acme-a: Cinder has no pool of this backend: cinder-volume never loaded it or is not '
        'running (a backend whose driver fails to set up sends no heartbeat: its service is '
        'down); see the cinder-volume log of vol1@acme-a',
        'acme-a: cinder-volume service vol1@acme-a is down']
    assert result['backends'][0]['pools'][0]['cinder_pool'] is None
    assert '  MISMATCH ' + result['mismatches'][0] in result['backends'][0]['table']


def test_a_backend_up_without_capabilities_yet_is_named():
    pools = [p for p in POOLS if '@acme-a' not in p['name']]
    assert status(pools=pools)['mismatches'] == [
        'acme-a: Cinder has no pool of this backend: its driver has reported no capabilities '
        '(cinder-volume just started, or the driver did not initialize: see the cinder-volume '
        'log of vol1@acme-a)']


def test_a_backend_without_pool_or_service_was_never_enabled():
    backends = dict(BACKENDS, **{'acme-new': {'volume_driver': ACME, 'acme_url': URL,
                                              'acme_pool': 'pool2'}})
    [mismatch] = status(backends=backends)['mismatches']
    assert mismatch == (
        'acme-new: Cinder has no pool of this backend, cinder-volume never loaded it: no '
        'cinder-volume service has it (not in enabled_backends, or cinder-volume was not '
        'restarted)')


def test_an_appliance_pool_cinder_does_not_see_is_named():
    backends = dict(BACKENDS, **{'acme-a': dict(BACKENDS['acme-a'], acme_pool=None,
                                                acme_pools='pool1, pool2')})
    result = status(backends=backends)
    assert result['mismatches'] == [
        'acme-a: appliance pool pool1 is configured but Cinder does not see it',
        'acme-a: appliance pool pool2 is configured but Cinder does not see it',
        'acme-a: Cinder has pool vol1@acme-a#acme-a, which the inventory does not configure '
        '(acme_pool, acme_pools)']


def test_one_missing_pool_of_several_is_named_alone():
    pools = [p for p in POOLS if p['name'] != 'vol1@acme-b#pool2']
    assert status(pools=pools)['mismatches'] == [
        'acme-b: appliance pool pool2 is configured but Cinder does not see it']


def test_volume_backend_name_names_the_single_pool():
    backends = {'acme-a': dict(BACKENDS['acme-a'], volume_backend_name='gold')}
    pools = [pool('vol1@acme-a#gold')]
    assert status(backends=backends, pools=pools)['mismatches'] == []


def test_a_pool_missing_on_the_appliance_and_an_unreadable_appliance_are_named():
    appliances = {URL: APPLIANCES[URL][:1]}
    assert status(appliances=appliances)['mismatches'] == [
        f'acme-b: pool pool2 does not exist on the appliance at {URL}']
    unreadable = status(appliances={URL: 'UNAUTHORIZED: invalid username or password'})
    assert unreadable['mismatches'] == [
        f'acme-a: the appliance at {URL} could not be read: UNAUTHORIZED: invalid username '
        'or password',
        f'acme-b: the appliance at {URL} could not be read: UNAUTHORIZED: invalid username '
        'or password']
    assert unreadable['backends'][0]['pools'][0]['appliance_total_gib'] is None


@pytest.mark.parametrize('change, expected', [
    ({'state': 'down'}, ['acme-b: cinder-volume service vol1@acme-b is down']),
    ({'status': 'disabled', 'disabled_reason': 'maintenance'},
     ['acme-b: cinder-volume service vol1@acme-b is disabled (maintenance)']),
    ({'status': 'disabled', 'state': 'down'},
     ['acme-b: cinder-volume service vol1@acme-b is down',
      'acme-b: cinder-volume service vol1@acme-b is disabled (no reason given)']),
])
def test_a_service_down_or_disabled_is_named(change, expected):
    services = [dict(s, **change) if s['host'] == 'vol1@acme-b' else s for s in SERVICES]
    assert status(services=services)['mismatches'] == expected


def test_a_backend_whose_services_are_disabled_has_no_pool_for_that_reason():
    """The scheduler leaves disabled services out: no "never loaded" for them."""
    services = [dict(s, status='disabled', disabled_reason='maintenance')
                if s['host'] == 'vol1@acme-b' else s for s in SERVICES]
    pools = [p for p in POOLS if '@acme-b' not in p['name']]
    assert status(pools=pools, services=services)['mismatches'] == [
        'acme-b: Cinder has no pool of this backend: every cinder-volume service of it is '
        'disabled',
        'acme-b: cinder-volume service vol1@acme-b is disabled (maintenance)']


def test_every_host_of_a_backend_is_checked():
    pools = POOLS + [pool('vol2@acme-a#acme-a', 100.0, 99.0)]
    services = SERVICES + [service('vol2@acme-a', state='down')]
    result = status(pools=pools, services=services)
    assert result['mismatches'] == ['acme-a: cinder-volume service vol2@acme-a is down']
    rows = result['backends'][0]['pools']
    assert [r['cinder_pool'] for r in rows] == ['vol1@acme-a#acme-a', 'vol2@acme-a#acme-a']


def test_a_backend_with_no_pool_setting_is_refused():
    with pytest.raises(AnsibleFilterError, match='acme-x sets neither acme_pool nor acme_pools'):
        status(backends={'acme-x': {'volume_driver': ACME, 'acme_url': URL}})


def test_appliances_may_be_acme_info_results():
    ok = {'changed': False, 'pools': APPLIANCES[URL]}
    assert status(appliances={URL: ok}) == status()
    failed = {'failed': True, 'msg': 'cannot list pools: connection refused'}
    assert status(appliances={URL: failed})['mismatches'][0] == (
        f'acme-a: the appliance at {URL} could not be read: cannot list pools: connection refused')
    assert status(appliances={})['mismatches'][0] == (
        f'acme-a: the appliance at {URL} could not be read: its pools were not read')
