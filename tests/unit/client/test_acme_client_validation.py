"""Requests outside the appliance's schema, generated from it (property-based, hypothesis):
through the client, each is 422 INVALID (the client's ``Invalid``) naming the field, and
nothing is created or changed, in the simulator's records or on its disk.

Generated: names outside NAME_PATTERN (or too long), bodies that are not objects or lack,
mistype or add a field, quotas outside a JSON integer of 0..2**63-1, share roots with ids
outside 0..2**31-1 or modes that are not 3 octal digits (4 with a leading 0), list limits
outside 1..1000, login bodies. Elsewhere: NFS rules not written canonically
(test_appliance_nfs.py), forged cursors (test_appliance_hostile_input.py), the 422s that
depend on the state (a quota below the used bytes: test_appliance_shares.py).
"""

from __future__ import annotations

import os
import re
import string

import pytest
from acme_appliance.config import NAME_PATTERN
from acme_appliance.models import MAX_ID, MODE_PATTERN
from ansible_collections.acme.nas.plugins.module_utils import acme_client as ac
from hypothesis import given
from hypothesis import strategies as st

from tests.support.properties import examples, refused_names

PROPERTY_RUNS = examples(40)
ROOT = {'uid': 165, 'gid': 165, 'mode': '0770'}


def _not(pattern: str):
    return lambda value: re.fullmatch(pattern, value) is None


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5))
json_values = st.one_of(json_scalars, st.lists(st.integers(), max_size=2),
                        st.dictionaries(st.text(max_size=3), st.integers(), max_size=1))
not_objects = json_values.filter(lambda v: v is not None and not isinstance(v, dict))
not_strings = json_values.filter(lambda v: not isinstance(v, str))
bad_names = st.one_of(refused_names(NAME_PATTERN), not_strings)
bad_quotas = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63),
                       json_values.filter(lambda v: not isinstance(v, int) or
                                          isinstance(v, bool)).filter(lambda v: v is not None))
bad_ids = st.one_of(st.integers(max_value=-1), st.integers(min_value=MAX_ID + 1),
                    json_values.filter(lambda v: not isinstance(v, int) or isinstance(v, bool)))
bad_modes = st.one_of(
    st.text('0123456789', max_size=6).filter(_not(MODE_PATTERN)),
    st.builds('{}{}'.format, st.sampled_from('1234567'), st.text('01234567', min_size=3,
                                                                 max_size=3)),  # special bits
    st.text(max_size=6).filter(_not(MODE_PATTERN)), not_strings)


def unknown_keys(*known: str):
    return st.text(min_size=1, max_size=8).filter(lambda key: key not in known)


def one_bad_field(valid: dict, required: tuple[str, ...] = (), **bad):
    """(the field the 422 must name, a body): ``valid`` with one field bad, a required one
    left out, or an unknown one added; or no object at all (the field is then the body)."""
    changes = [strategy.map(lambda v, k=key: (k, {**valid, k: v})) for key, strategy in bad.items()]
    missing = [st.just((key, {k: v for k, v in valid.items() if k != key})) for key in required]
    extra = unknown_keys(*valid, *bad).map(lambda k: (k, {**valid, k: 1}))
    return st.one_of(*changes, *missing, extra, not_objects.map(lambda b: ('body', b)))


def longer_than(limit: int):
    return st.builds(lambda c, n: c * n, st.characters(), st.integers(limit + 1, limit + 50))


bad_roots = st.one_of(
    one_bad_field(ROOT, uid=bad_ids, gid=bad_ids, mode=bad_modes)
    .filter(lambda case: case[0] != 'body').map(lambda case: case[1]),
    not_objects)


@pytest.fixture
def world(appliance):
    """The simulator with a share 'vol' owned by ROOT, with a snapshot 's'."""
    share = appliance.create_share('vol', root=ROOT)
    return appliance, share, appliance.create_snapshot(share['id'], 's')


def state(appliance) -> tuple:
    """The simulator's records and what is on its disk (owners and modes included)."""
    files = sorted((str(p.relative_to(appliance.data_dir)), p.stat().st_uid, p.stat().st_gid,
                    p.stat().st_mode) for p in appliance.data_dir.rglob('*')
                   if not p.name.startswith('state.db'))
    return appliance.shares(), appliance.snapshots(), files, os.listdir(appliance.state_dir)


def assert_invalid(appliance, field: str, method: str, path: str, body=None,
                   params=None) -> None:
    before = state(appliance)
    with pytest.raises(ac.Invalid) as raised:
        appliance.client(retries=0).http.request(method, path, body, params)
    error = raised.value
    assert (error.status, error.code) == (422, 'INVALID'), error
    assert field in error.details['errors'][0]['loc'], error.details
    assert state(appliance) == before


@PROPERTY_RUNS
@given(case=st.one_of(
    one_bad_field({'name': 'new', 'pool': 'pool1'}, ('name', 'pool'), name=bad_names,
                  pool=bad_names, quota_bytes=bad_quotas),
    bad_roots.map(lambda root: ('root', {'name': 'new', 'pool': 'pool1', 'root': root}))))
def test_invalid_share_create_is_422_and_creates_nothing(world, case):
    appliance, _share, _snap = world
    assert_invalid(appliance, case[0], 'POST', '/shares', case[1])


@PROPERTY_RUNS
@given(case=st.one_of(
    bad_names.filter(lambda v: v is not None).map(lambda v: ('name', {'name': v})),
    bad_quotas.map(lambda v: ('quota_bytes', {'quota_bytes': v})),
    bad_roots.map(lambda root: ('root', {'root': root})),
    unknown_keys('name', 'quota_bytes', 'root').map(lambda k: (k, {k: 1})),
    not_objects.map(lambda b: ('body', b))))
def test_invalid_share_update_is_422_and_changes_nothing(world, case):
    appliance, share, _snap = world
    assert_invalid(appliance, case[0], 'PATCH', f"/shares/{share['id']}", case[1])


@PROPERTY_RUNS
@given(case=one_bad_field({'name': 'new'}, ('name',), name=bad_names), rename=st.booleans())
def test_invalid_snapshot_create_or_rename_is_422_and_changes_nothing(world, case, rename):
    appliance, share, snap = world
    path = f"/shares/{share['id']}/snapshots" + (f"/{snap['id']}" if rename else '')
    assert_invalid(appliance, case[0], 'PATCH' if rename else 'POST', path, case[1])


bad_limits = st.one_of(st.integers(max_value=0), st.integers(min_value=1001),
                       st.text(string.ascii_letters, min_size=1, max_size=5))
bad_filters = bad_names.filter(lambda v: isinstance(v, str) and v != '')


@PROPERTY_RUNS
@given(params=st.one_of(bad_limits.map(lambda v: {'limit': v}),
                        bad_filters.map(lambda v: {'name': v}),
                        bad_filters.map(lambda v: {'pool': v})),
       snapshots=st.booleans())
def test_invalid_list_parameters_are_422(world, params, snapshots):
    appliance, share, _snap = world
    field, = params
    path = f"/shares/{share['id']}/snapshots" if snapshots and field != 'pool' else '/shares'
    assert_invalid(appliance, field, 'GET', path, params=params)


@PROPERTY_RUNS
@given(case=one_bad_field({'username': 'admin', 'password': 'x'}, ('username', 'password'),
                          username=st.one_of(not_strings, longer_than(256)),
                          password=st.one_of(not_strings, longer_than(1024))))
def test_invalid_login_body_is_422(world, case):
    assert_invalid(world[0], case[0], 'POST', '/auth/login', case[1])
