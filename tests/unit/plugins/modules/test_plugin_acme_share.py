"""acme_share: argument handling, get -> decide -> apply, check mode, diff (real simulator)."""

import pytest
from ansible_collections.acme.nas.plugins.modules.acme_share import ShareModule

GIB, MIB = 1024 ** 3, 1024 ** 2
RULES = [{'clients': '10.0.0.0/24', 'access': 'rw', 'root_squash': False},
         {'clients': '*', 'access': 'ro', 'root_squash': True}]


@pytest.fixture
def share(run_module):
    def run(_check=False, **args):
        args.setdefault('name', 'db01')
        args.setdefault('pool', 'pool1')
        return run_module(ShareModule, _check=_check, **args)
    return run


# create and idempotence ------------------------------------------------------------------
def test_create_with_size_and_nfs(share, appliance):
    result = share(size='20GiB', nfs={'rules': RULES})
    assert result['changed'] and result['actions'] == ['create']
    assert result['share']['quota_bytes'] == 20 * GIB
    rules = sorted(RULES, key=lambda r: r['clients'])
    assert result['share']['nfs'] == {'enabled': True, 'rules': rules}
    assert result['diff']['before'] == {}
    assert result['diff']['after']['quota_bytes'] == 20 * GIB
    assert appliance.writes == ['POST /shares']


@pytest.mark.parametrize('again', ['20GiB', '20480MiB', '20G', 20 * GIB, str(20 * GIB),
                                   '21474836480B'])
def test_same_size_in_any_unit_is_no_change(share, appliance, again):
    share(size='20GiB')
    result = share(size=again)
    assert not result['changed'] and result['actions'] == []
    assert result['diff']['before'] == result['diff']['after']
    assert len(appliance.writes) == 1


@pytest.mark.parametrize('size, again', [('1000MB', '1000MB'), ('1000MB', '953.67431640625MiB'),
                                         ('1', '1MiB'), ('100000', '97.65625KiB')])
def test_size_compared_after_the_appliance_rounding(share, appliance, size, again):
    first = share(size=size)
    assert first['share']['quota_bytes'] % MIB == 0
    assert not share(size=again)['changed']


def test_second_run_without_options_is_no_change(share, appliance):
    share(size='1GiB', nfs={'rules': RULES})
    result = share()
    assert not result['changed']
    assert result['share']['id'] == appliance.share_named('db01').id


def test_check_mode_create_reports_and_writes_nothing(share, appliance):
    result = share(_check=True, size='512MiB', nfs={'enabled': False})
    assert result['changed'] and result['actions'] == ['create']
    assert 'id' not in result['share']
    assert result['share']['quota_bytes'] == 512 * MIB
    assert result['diff']['after']['nfs'] == {'enabled': False, 'rules': []}
    assert appliance.writes == [] and appliance.shares() == []


def test_bad_size_fails_before_any_call(share, appliance):
    result = share(size='ten GiB')
    assert result['failed'] and result['msg'].startswith("size: invalid size 'ten GiB'")
    assert appliance.calls == []


@pytest.mark.parametrize('args, option', [
    ({'name': 'bad/name'}, 'name'),
    ({'name': '.hidden'}, 'name'),
    ({'name': '-opt'}, 'name'),
    ({'name': 'a' * 65}, 'name'),
    ({'name': ''}, 'name'),
    ({'name': 'db 01', 'state': 'absent'}, 'name'),
    ({'new_name': 'db/02'}, 'new_name'),
    ({'name': 'copy', 'from_snapshot': {'share': '-db01', 'snapshot': 's1'}},
     'from_snapshot.share'),
])
@pytest.mark.parametrize('check', [True, False])
def test_invalid_share_name_fails_before_any_call(share, appliance, args, option, check):
    """The contract's name rule is checked locally (as acme_snapshot does): no request at all."""
    result = share(_check=check, **args)
    assert result['failed'], result
    assert result['msg'].startswith(f'{option}: ')
    assert 'is not a valid name (1 to 64' in result['msg']
    assert 'Traceback' not in result['msg'] and 'exception' not in result
    assert appliance.calls == []


def test_absent_does_not_check_the_names_it_ignores(share, appliance):
    ignored = dict(new_name='not/used', from_snapshot={'share': '-x', 'snapshot': 's1'})
    result = share(state='absent', **ignored)
    assert not result.get('failed') and not result['changed'], result


def test_missing_pool_fails_also_in_check_mode(share, appliance):
    for check in (True, False):
        result = share(_check=check, pool='nope', size='1GiB')
        assert result['failed'] and result['msg'] == 'pool nope does not exist on the appliance'
    assert appliance.writes == []


def test_size_larger_than_the_pool_fails(share, appliance):
    result = share(pool='pool2', size='2GiB')
    assert result['failed'] and 'larger than pool pool2 (1 GiB)' in result['msg']
    assert appliance.writes == []


def test_invalid_choice_and_type_fail_in_argument_handling(share, appliance):
    assert 'value of state must be one of' in share(state='gone')['msg']
    assert 'access' in share(nfs={'rules': [{'clients': '*', 'access': 'rx'}]})['msg']
    assert 'clients' in share(nfs={'rules': [{'access': 'ro'}]})['msg']
    assert appliance.calls == []


# resize ------------------------------------------------------------------------------------
def test_resize_reports_before_and_after(share, appliance):
    share(size='10GiB')
    result = share(size='20GiB')
    assert result['changed'] and result['actions'] == ['resize']
    assert (result['diff']['before']['quota_bytes'], result['diff']['after']['quota_bytes']) == (
        10 * GIB, 20 * GIB)
    assert appliance.share_named('db01').quota_bytes == 20 * GIB


def test_check_mode_resize_predicts_and_writes_nothing(share, appliance):
    share(size='10GiB')
    result = share(_check=True, size='30GiB')
    assert result['changed'] and result['share']['quota_bytes'] == 30 * GIB
    assert appliance.share_named('db01').quota_bytes == 10 * GIB
    assert len(appliance.writes) == 1


@pytest.mark.parametrize('check', [False, True])
def test_shrinking_below_used_fails_clearly(share, appliance, refused, check):
    appliance.set_used(appliance.create_share('db01', quota_bytes=10 * GIB)['id'], 3 * GIB)
    assert refused(share(_check=check, size='2GiB')) == (
        'cannot resize share db01 to 2 GiB (2147483648 bytes): its files use '
        '3 GiB (3221225472 bytes); the size must be at least 3 GiB')


def test_size_zero_removes_the_quota(share, appliance):
    share(size='1GiB')
    result = share(size=0)
    assert result['changed'] and result['share']['quota_bytes'] == 0
    assert not share(size=0)['changed']


def test_appliance_error_during_apply_is_reported_with_its_code(share, appliance):
    share(size='1GiB')
    appliance.add_fault(method='PATCH', path='/shares/.*', code='NO_SPACE', message='pool full',
                        action='fail')
    result = share(size='2GiB')
    assert result['failed'] and result['error']['request_id']
    assert result['msg'] == ('cannot update share db01: NO_SPACE: pool full '
                             f"(HTTP 507, request {result['error']['request_id']})")


# nfs ---------------------------------------------------------------------------------------
def test_nfs_rules_order_does_not_matter(share, appliance):
    share(nfs={'rules': RULES})
    assert not share(nfs={'rules': list(reversed(RULES))})['changed']


def test_nfs_rule_defaults_are_rw_and_root_squash(share, appliance):
    result = share(nfs={'rules': [{'clients': '10.0.0.5'}]})
    assert result['share']['nfs']['rules'] == [
        {'clients': '10.0.0.5', 'access': 'rw', 'root_squash': True}]


def test_disable_nfs_keeps_the_rules(share, appliance):
    share(nfs={'rules': RULES})
    result = share(nfs={'enabled': False})
    assert result['changed'] and result['actions'] == ['nfs']
    before, after = result['diff']['before'], result['diff']['after']
    assert before['nfs']['enabled'] and not after['nfs']['enabled']
    assert result['diff']['after']['nfs']['rules'] == result['diff']['before']['nfs']['rules']
    assert appliance.writes[-1] == f"PUT /shares/{result['share']['id']}/nfs"
    assert not share(nfs={'enabled': False})['changed']


def test_change_one_rule(share, appliance):
    share(nfs={'rules': RULES})
    result = share(nfs={'rules': [dict(RULES[0], access='ro'), RULES[1]]})
    assert result['changed'] and result['actions'] == ['nfs']
    assert appliance.share_named('db01').nfs_rules[0].access == 'ro'


def test_empty_rules_exports_to_nobody(share, appliance):
    share(nfs={'rules': RULES})
    result = share(nfs={'rules': []})
    assert result['changed'] and result['share']['nfs'] == {'enabled': True, 'rules': []}


def test_resize_and_nfs_in_one_run(share, appliance):
    share(size='1GiB')
    result = share(size='2GiB', nfs={'rules': RULES})
    assert result['actions'] == ['resize', 'nfs']


# rename --------------------------------------------------------------------------------------
def test_rename_then_rerun_is_no_change(share, appliance):
    share(size='1GiB')
    result = share(new_name='db02')
    assert result['changed'] and result['actions'] == ['rename']
    assert result['share']['name'] == 'db02' and result['share']['path'] == '/pool1/db02'
    assert (result['diff']['before']['name'], result['diff']['after']['name']) == ('db01', 'db02')
    again = share(new_name='db02')
    assert not again['changed'] and again['share']['name'] == 'db02'


def test_check_mode_rename(share, appliance):
    share()
    result = share(_check=True, new_name='db02')
    assert result['changed'] and result['share']['name'] == 'db02'
    assert appliance.share_named('db01') is not None


def test_rename_onto_an_existing_share_fails(share, appliance):
    share()
    share(name='db02')
    result = share(new_name='db02')
    assert result['failed'] and 'already has a share named db02' in result['msg']


def test_rename_of_nothing_fails(share, appliance):
    result = share(new_name='db02')
    assert result['failed'] and 'has no share named db01 (nor db02)' in result['msg']
    assert appliance.writes == []


def test_rename_and_resize_in_one_patch(share, appliance):
    share(size='1GiB')
    result = share(new_name='db02', size='2GiB')
    assert result['actions'] == ['rename', 'resize']
    updates = [call.json for call in appliance.calls if call.method == 'PATCH']
    assert updates == [{'quota_bytes': 2 * GIB, 'name': 'db02'}]


# clones and promote ----------------------------------------------------------------------------
@pytest.fixture
def origin(appliance):
    share = appliance.create_share('db01', quota_bytes=5 * GIB)
    older = appliance.create_snapshot(share['id'], 'older')
    snapshot = appliance.create_snapshot(share['id'], 'nightly')
    appliance.create_snapshot(share['id'], 'newer')
    return dict(share=share, snapshot=snapshot, older=older)


def test_clone_from_a_snapshot_by_name(share, appliance, origin):
    result = share(name='c1', from_snapshot={'share': 'db01', 'snapshot': 'nightly'})
    assert result['changed'] and result['actions'] == ['create']
    assert result['share']['origin_snapshot_id'] == origin['snapshot']['id']
    assert result['share']['quota_bytes'] == 5 * GIB
    assert not share(name='c1', from_snapshot={'share': 'db01', 'snapshot': 'nightly'})['changed']


def test_clone_from_a_snapshot_by_id(share, appliance, origin):
    result = share(name='c1', from_snapshot={'snapshot': origin['snapshot']['id']})
    assert result['share']['origin_snapshot_id'] == origin['snapshot']['id']


def test_clone_from_an_id_given_with_its_share(share, appliance, origin):
    result = share(name='c1', from_snapshot={'share': 'db01', 'snapshot': 'snap-0000'})
    assert result['failed']  # not a UUID: looked up by name only, never as an id
    assert not [c for c in appliance.calls if c.path.startswith('/snapshots/')]
    snapshot_id = origin['snapshot']['id']
    result = share(name='c1', from_snapshot={'share': 'db01', 'snapshot': snapshot_id})
    assert result['share']['origin_snapshot_id'] == snapshot_id


def test_check_mode_clone_plans_the_origin_quota(share, appliance, origin):
    result = share(_check=True, name='c1', from_snapshot={'share': 'db01', 'snapshot': 'nightly'})
    assert result['changed'] and result['share']['quota_bytes'] == 5 * GIB
    assert result['diff']['after']['origin_snapshot_id'] == origin['snapshot']['id']
    assert appliance.writes == []


@pytest.mark.parametrize('spec, message', [
    ({'share': 'db01', 'snapshot': 'nope'}, 'share db01 in pool pool1 has no snapshot nope'),
    ({'share': 'nope', 'snapshot': 'nightly'}, 'pool pool1 has no share named nope'),
    ({'share': 'db01', 'pool': 'pool2', 'snapshot': 'nightly'},
     'pool pool2 has no share named db01'),
    ({'snapshot': 'nightly'}, 'no snapshot has the id nightly'),
])
def test_missing_origin_fails_clearly(share, appliance, origin, spec, message):
    for check in (True, False):
        result = share(_check=check, name='c1', from_snapshot=spec)
        assert result['failed'] and message in result['msg']
    assert appliance.writes == []


def test_clone_and_promote_at_creation(share, appliance, origin):
    result = share(name='c1', from_snapshot={'share': 'db01', 'snapshot': 'nightly'}, promote=True)
    assert result['actions'] == ['create', 'promote']
    assert result['share']['origin_snapshot_id'] is None
    assert appliance.share_named('db01').origin_snapshot_id == origin['snapshot']['id']
    again = share(name='c1', from_snapshot={'share': 'db01', 'snapshot': 'nightly'}, promote=True)
    assert not again['changed']


def test_promote_an_existing_clone(share, appliance, origin):
    share(name='c1', from_snapshot={'share': 'db01', 'snapshot': 'nightly'})
    checked = share(_check=True, name='c1', promote=True)
    assert checked['changed'] and checked['share']['origin_snapshot_id'] is None
    assert appliance.share_named('c1').origin_snapshot_id == origin['snapshot']['id']
    result = share(name='c1', promote=True)
    assert result['actions'] == ['promote']
    assert result['diff']['before']['origin_snapshot_id'] == origin['snapshot']['id']
    assert result['diff']['after']['origin_snapshot_id'] is None
    assert not share(name='c1', promote=True)['changed']


def test_promote_a_clone_of_a_clone_until_independent(share, appliance, origin):
    share(name='c1', from_snapshot={'share': 'db01', 'snapshot': 'nightly'})
    appliance.create_snapshot(appliance.share_named('c1').id, 'c1snap')
    share(name='c2', from_snapshot={'share': 'c1', 'snapshot': 'c1snap'})
    result = share(name='c2', promote=True)
    assert result['share']['origin_snapshot_id'] is None
    assert len([w for w in appliance.writes if w.endswith('/promote')]) == 2


def test_promote_false_or_not_a_clone_is_no_change(share, appliance, origin):
    assert not share(promote=True)['changed']
    share(name='c1', from_snapshot={'share': 'db01', 'snapshot': 'nightly'})
    assert not share(name='c1')['changed']


# delete ----------------------------------------------------------------------------------------
def test_delete_then_absent_rerun(share, appliance):
    share(size='1GiB')
    result = share(state='absent')
    assert result['changed'] and result['actions'] == ['delete'] and result['share'] == {}
    assert result['diff']['after'] == {} and result['diff']['before']['name'] == 'db01'
    again = share(state='absent')
    assert not again['changed'] and again['diff'] == {'before': {}, 'after': {}}


def test_check_mode_delete(share, appliance):
    share()
    result = share(_check=True, state='absent')
    assert result['changed'] and appliance.share_named('db01') is not None


@pytest.mark.parametrize('check', [False, True])
def test_delete_with_snapshots_needs_force(share, refused, origin, check):
    assert refused(share(_check=check, state='absent')) == (
        'share db01 has 3 snapshot(s) (older, nightly, newer); set force=true '
        'to delete them with the share')


def test_force_deletes_recursively(share, appliance, origin):
    result = share(state='absent', force=True)
    assert result['changed']
    assert appliance.writes == [f"DELETE /shares/{origin['share']['id']}?recursive=true"]
    assert appliance.snapshots() == []


def test_force_does_not_delete_clones(share, appliance, origin):
    share(name='c1', from_snapshot={'share': 'db01', 'snapshot': 'nightly'})
    result = share(state='absent', force=True)
    assert result['failed']
    assert result['msg'] == ('cannot delete share db01: shares were cloned from its snapshot(s) '
                             'nightly: pool1/c1; delete them or promote them first')
    assert appliance.writes == ['POST /shares']


def test_absent_ignores_the_present_only_options(share, appliance):
    share()
    result = share(state='absent', size='1GiB', new_name='x')
    assert result['changed'] and appliance.shares() == []


@pytest.mark.parametrize('clients', ['fe80::1%eth0', 'fe80::%eth0/64', '10.0.0.5/24',
                                     'FD00::1', 'fd00:0::1'])
def test_nfs_clients_not_written_canonically_fail_and_change_nothing(
        share, appliance, clients):
    """Issue 24: a zone id passed the module and the appliance and made ganesha's exports
    file unparsable; a client is exported as written, so only the canonical form is taken."""
    share(nfs={'rules': RULES})
    before = appliance.share_named('db01').nfs_rules
    for check_mode in (True, False):
        result = share(_check=check_mode, nfs={'rules': [{'clients': clients}]})
        assert result.get('failed') and 'clients' in result['msg'], result
    assert appliance.share_named('db01').nfs_rules == before
