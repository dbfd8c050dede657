"""Invalid values for every option of acme_share and acme_snapshot fail clearly and leave the
appliance as it was (issue 14), in normal and in check mode; property-based (hypothesis).

Each example runs the real module against the real simulator holding share db01 with snapshot
s1: the result must be a failure whose message names the option (or the appliance's field), with
no traceback, and the simulator's shares, quotas, NFS rules and snapshots unchanged.
"""

from __future__ import annotations

import ipaddress
import re
import string

import pytest
from ansible.module_utils.parsing.convert_bool import BOOLEANS
from ansible_collections.acme.nas.plugins.modules.acme_share import ShareModule
from ansible_collections.acme.nas.plugins.modules.acme_snapshot import SnapshotModule
from hypothesis import given
from hypothesis import strategies as st

from tests.support.properties import examples, refused_names

PROPERTY_RUNS = examples(15)
NAME = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}')


def _is_client(value: str) -> bool:
    """One IPv4 or IPv6 address, a CIDR network, or '*' (the documented clients value)."""
    try:
        return value == '*' or bool(ipaddress.ip_network(value, strict=False))
    except ValueError:
        return False


def _not_bool(value: object) -> bool:
    return str(value).lower() not in {str(b) for b in BOOLEANS}


junk = st.one_of(st.lists(st.integers(), min_size=1, max_size=2),
                 st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=1))
bad_names = refused_names(NAME.pattern)
# An optional name left empty is left out (the Ansible idiom ``x: "{{ y | default('') }}"``).
bad_optional_names = bad_names.filter(bool)
bad_bools = st.one_of(st.text(string.ascii_letters, min_size=1, max_size=8).filter(_not_bool),
                      st.integers(min_value=2), junk)
bad_choices = st.text(max_size=12)
bad_numbers = st.one_of(st.text(string.ascii_letters + ' ', min_size=1, max_size=8)
                        .filter(str.strip), junk)
bad_sizes = st.one_of(
    st.integers(max_value=-1),
    st.builds('{}{}'.format, st.integers(min_value=1, max_value=999),
              st.sampled_from(['XB', 'KiBi', 'gigs', 'Q', 'iB', 'GiBs', 'B2',
                               'Gb', 'Mb', 'Tib'])),  # bits
    st.builds('{}.5B'.format, st.integers(min_value=0, max_value=999)),   # not whole bytes
    st.text(string.ascii_letters + ' ', min_size=1, max_size=10),
    st.booleans(), junk)
bad_clients = st.one_of(
    st.text(string.ascii_letters + string.digits + '.:/-', min_size=1, max_size=20),
    st.builds('10.0.{}.1'.format, st.integers(min_value=256, max_value=9999)),
    st.builds('10.0.0.0/{}'.format, st.integers(min_value=33, max_value=999)),
).filter(lambda s: not _is_client(s))


def _rules(**rule) -> dict:
    return {'rules': [dict({'clients': '10.0.0.1'}, **rule)]}


# option -> (strategy of invalid values -> the module arguments, the word the message must hold)
SHARE_OPTIONS = {
    'name': (bad_names.map(lambda v: {'name': v}), 'name'),
    'pool': (bad_names.map(lambda v: {'pool': v}), 'pool'),
    'new_name': (bad_optional_names.map(lambda v: {'new_name': v}), 'name'),
    'state': (bad_choices.filter(lambda v: v not in ('present', 'absent'))
              .map(lambda v: {'state': v}), 'state'),
    'size': (bad_sizes.map(lambda v: {'size': v}), 'size'),
    'promote': (bad_bools.map(lambda v: {'promote': v}), 'promote'),
    'force': (bad_bools.map(lambda v: {'force': v, 'state': 'absent'}), 'force'),
    # (an integer makes ansible-core's own dict check raise TypeError: upstream, left out)
    'nfs': (st.text(string.ascii_letters, min_size=1).map(lambda v: {'nfs': v}), 'dictionary'),
    'nfs.enabled': (bad_bools.map(lambda v: {'nfs': {'enabled': v}}), 'enabled'),
    'nfs.rules': (st.one_of(st.integers(), st.lists(st.integers(), min_size=1, max_size=2))
                  .map(lambda v: {'nfs': {'rules': v}}), 'rules'),
    'nfs.rules.clients': (bad_clients.map(lambda v: {'nfs': _rules(clients=v)}), 'clients'),
    'nfs.rules.clients (twice)': (st.sampled_from(['*', '10.0.0.1', '10.0.0.0/24', '::1'])
                                  .map(lambda v: {'nfs': {'rules': [{'clients': v}] * 2}}),
                                  'clients'),
    'nfs.rules.access': (bad_choices.filter(lambda v: v not in ('rw', 'ro'))
                         .map(lambda v: {'nfs': _rules(access=v)}), 'access'),
    'nfs.rules.root_squash': (bad_bools.map(lambda v: {'nfs': _rules(root_squash=v)}),
                              'root_squash'),
    'from_snapshot.share': (bad_names.map(lambda v: {'name': 'new', 'from_snapshot': {
        'share': v, 'snapshot': 's1'}}), 'name'),
    'from_snapshot.pool': (bad_optional_names.map(lambda v: {'name': 'new', 'from_snapshot': {
        'share': 'db01', 'pool': v, 'snapshot': 's1'}}), 'pool'),
    'from_snapshot.snapshot': (bad_names.map(lambda v: {'name': 'new', 'from_snapshot': {
        'share': 'db01', 'snapshot': v}}), 'snapshot'),
}
SNAPSHOT_OPTIONS = {
    'share': (bad_names.map(lambda v: {'share': v}), 'share'),
    'pool': (bad_optional_names.map(lambda v: {'pool': v}), 'pool'),
    'name': (bad_names.map(lambda v: {'name': v}), 'name'),
    'state': (bad_choices.filter(lambda v: v not in ('present', 'absent', 'rolled_back'))
              .map(lambda v: {'state': v}), 'state'),
    'destroy_newer': (bad_bools.map(lambda v: {'destroy_newer': v, 'state': 'rolled_back'}),
                      'destroy_newer'),
}
# The connection options (the acme doc fragment) are the same in every module.
CONNECTION_OPTIONS = {
    'validate_certs': (bad_bools.map(lambda v: {'validate_certs': v}), 'validate_certs'),
    'timeout': (bad_numbers.map(lambda v: {'timeout': v}), 'timeout'),
    'timeout (not above 0)': (st.integers(max_value=0).map(lambda v: {'timeout': v}), 'timeout'),
    'retry_after_max': (bad_numbers.map(lambda v: {'retry_after_max': v}), 'retry_after_max'),
    'retries': (st.one_of(bad_numbers, st.integers(max_value=-1))
                .map(lambda v: {'retries': v}), 'retries'),
    'unknown option': (st.from_regex(r'[a-z]{3,12}_x', fullmatch=True)
                       .map(lambda v: {v: 'x'}), 'Unsupported parameters'),
}


@pytest.fixture
def origin(appliance) -> dict:
    rule = {'clients': '10.0.0.1', 'access': 'rw', 'root_squash': True}
    share = appliance.create_share('db01', quota_bytes=1 << 30,
                                   nfs={'enabled': True, 'rules': [rule]})
    appliance.create_snapshot(share['id'], 's1')
    return share


@pytest.fixture
def fails_cleanly(run_module, appliance, origin):
    """``fails_cleanly(Module, args, word)``: check mode and a real run fail naming ``word``;
    nothing changes."""
    def state() -> tuple:
        shares = sorted((s.name, s.quota_bytes, s.nfs_enabled, str(s.nfs_rules))
                        for s in appliance.shares())
        return shares, sorted(s.name for s in appliance.snapshots())

    before = state()

    def check(module_class, args: dict, word: str, modes: tuple = (True, False)) -> None:
        for check_mode in modes:
            result = run_module(module_class, _check=check_mode, **args)
            message = str(result.get('msg', ''))
            assert result.get('failed'), (check_mode, args, result)
            assert word in message and 'Traceback' not in message, (check_mode, args, message)
            assert state() == before, (check_mode, args)
    return check


# Check mode predicts a change the appliance then refuses (422): the module leaves the
# validation of NFS clients and snapshot names to the appliance. Their real runs fail cleanly.
MODULES = {'acme_share': (ShareModule, {'name': 'db01', 'pool': 'pool1'}, SHARE_OPTIONS),
           'acme_snapshot': (SnapshotModule, {'share': 'db01', 'pool': 'pool1', 'name': 's2'},
                             SNAPSHOT_OPTIONS)}
CASES = [(module, option) for module, (*_unused, options) in MODULES.items()
         for option in [*options, *CONNECTION_OPTIONS]]


@pytest.mark.parametrize('module, option', CASES)
def test_invalid_values_fail_and_change_nothing_in_check_mode_too(fails_cleanly, module,
                                                                  option):
    module_class, base, options = MODULES[module]
    strategy, word = {**options, **CONNECTION_OPTIONS}[option]

    @PROPERTY_RUNS
    @given(args=strategy)
    def run(args):
        fails_cleanly(module_class, {**base, **args}, word, (True, False))
    run()
