"""Sizes as operators write them, to bytes (plugins/module_utils/acme_units.py)."""

import pytest
from ansible_collections.acme.nas.plugins.module_utils.acme_client import round_quota
from ansible_collections.acme.nas.plugins.module_utils.acme_units import (
    UNITS_HELP,
    SizeError,
    human_size,
    parse_size,
)

KIB, MIB, GIB, TIB = 1024, 1024 ** 2, 1024 ** 3, 1024 ** 4


@pytest.mark.parametrize('value, expected', [
    (0, 0),
    (1073741824, GIB),
    ('1073741824', GIB),
    ('20GiB', 20 * GIB),
    ('20 GiB', 20 * GIB),
    ('20gib', 20 * GIB),
    ('20G', 20 * GIB),
    ('20Gi', 20 * GIB),
    ('512MiB', 512 * MIB),
    ('512M', 512 * MIB),
    ('1.5TiB', 3 * TIB // 2),
    ('0.5KiB', 512),
    ('.5KiB', 512),
    ('7B', 7),
    ('7b', 7),
    ('10GB', 10 * 10 ** 9),
    ('1MB', 10 ** 6),
    ('2kB', 2000),
    ('1PiB', 1024 ** 5),
    (2.0, 2),
])
def test_parse_size(value, expected):
    assert parse_size(value) == expected


@pytest.mark.parametrize('value, reason', [
    ('x', 'use bytes'),
    ('', 'use bytes'),
    ('10XB', 'use bytes'),
    ('10iB', 'use bytes'),
    ('-1', 'use bytes'),
    ('1.1B', 'not a whole number of bytes'),
    ('0.3KiB', 'not a whole number of bytes'),
    (-5, 'cannot be negative'),
    (True, 'use bytes'),
    ('10 GiB 2', 'use bytes'),
])
def test_parse_size_rejects(value, reason):
    with pytest.raises(SizeError, match=reason):
        parse_size(value)


@pytest.mark.parametrize('value, unit', [
    ('10Gb', 'Gb'), ('10 Gb', 'Gb'), ('1Mb', 'Mb'), ('5Kb', 'Kb'), ('3Tb', 'Tb'), ('2Pb', 'Pb'),
    ('2Gib', 'Gib'), ('1.5Tib', 'Tib'),
])
def test_a_unit_of_bits_is_refused_with_the_units_accepted(value, unit):
    """A lowercase b after a capital prefix is bits (Gb, gigabit): not read as bytes."""
    with pytest.raises(SizeError) as error:
        parse_size(value)
    assert str(error.value) == (f'invalid size {value!r}: {unit} is a unit of bits, not bytes; '
                                f'use {UNITS_HELP}')


@pytest.mark.parametrize('spellings', [
    ('20GiB', '20480MiB', '20971520KiB', str(20 * GIB), 20 * GIB, '20G'),
    ('1000MB', '953.67431640625MiB', 10 ** 9),
    ('1', '1B', '1KiB', '1MiB'),
])
def test_spellings_of_one_size_round_to_the_same_quota(spellings):
    """The idempotence rule: every spelling of a size gives the quota the appliance stores."""
    quotas = {round_quota(parse_size(value)) for value in spellings}
    assert len(quotas) == 1
    assert quotas.pop() % MIB == 0


@pytest.mark.parametrize('size, text', [
    (None, 'none'), (0, '0 B'), (512, '512 B'), (KIB, '1 KiB'), (20 * GIB, '20 GiB'),
    (3 * TIB // 2, '1.5 TiB'), (10 ** 9, '953.67 MiB'),
])
def test_human_size(size, text):
    assert human_size(size) == text
