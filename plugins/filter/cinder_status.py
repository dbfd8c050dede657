# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: cinder_status
short_description: The ACME backends as the appliance and Cinder see them, and every mismatch
version_added: 0.1.0
description:
  - Compares, for each ACME backend of O(_input) (the backends dict of C(acme.nas.cinder_backend),
    C(acme_cinder_backends); other drivers are left out), the appliance pools it is configured
    with (C(acme_pool) or C(acme_pools)), the pools Cinder's scheduler reports
    (C(GET /scheduler-stats/get_pools?detail=true)) and Cinder's C(cinder-volume) services.
  - "A Cinder pool or service belongs to a backend by the name after C(@) in its host
    (C(<host>@<backend>#<pool>), C(<host>@<backend>)), whatever the host or cluster name: all
    the hosts that serve a backend are checked."
  - "Mismatches: a backend Cinder has no pool of (never loaded - Cinder then shows its service
    down, as when cinder-volume is not running - or every service of it disabled: the scheduler
    leaves those out); an appliance pool of a backend
    that Cinder does not see (with C(acme_pool), Cinder names its one pool after the backend's
    C(volume_backend_name)); a Cinder pool of a backend that the inventory does not configure; a
    configured pool the appliance does not have; an appliance that could not be read; a
    C(cinder-volume) service of a backend that is down or disabled."
  - Used by the playbook C(acme.nas.status).
author:
  - ACME NAS maintainers (@acme-storage)
options:
  _input:
    description: The backends, keyed by section name, as in C(acme_cinder_backends).
    type: dict
    required: true
  appliances:
    description:
      - The appliance pools by C(acme_url) - each the C(pools) that M(acme.nas.acme_info)
        returns, or the whole result of M(acme.nas.acme_info) (its C(msg) when it failed), or a
        string, the error that reading that appliance gave.
    type: dict
    required: true
  cinder_pools:
    description: The C(pools) of Cinder's C(get_pools?detail=true) (C(name), C(capabilities)).
    type: list
    elements: dict
    required: true
  services:
    description:
      - Cinder's volume services as C(openstack.cloud.volume_service_info) returns them (C(host),
        C(binary), C(status), C(state), C(disabled_reason)); other binaries are left out.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Compare
  ansible.builtin.set_fact:
    status: >-
      {{ acme_cinder_backends | acme.nas.cinder_status(
           appliances={'https://nas1.example.com:8443': nas.pools},
           cinder_pools=pools.json.pools, services=services.volume_services) }}

- name: Fail on a mismatch
  ansible.builtin.assert:
    that: status.mismatches | length == 0
    fail_msg: "{{ status.mismatches }}"
"""

RETURN = r"""
_value:
  description: The backends side by side, and every mismatch.
  type: dict
  contains:
    backends:
      description:
        - One entry per ACME backend, sorted by name, with C(name), C(acme_url), C(pools) (one
          row per pool, C(appliance_pool), C(appliance_total_gib), C(appliance_free_gib),
          C(cinder_pool), C(cinder_total_gib), C(cinder_free_gib); V(null) where a side has
          none), C(services) (C(host), C(status), C(state)), C(mismatches) and C(table), the
          lines that show it.
      type: list
      elements: dict
    mismatches:
      description: Every mismatch, each a sentence that starts with its backend's name.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError  # noqa: E402 (after the documentation)
from ansible_collections.acme.nas.plugins.module_utils.cinder_conf import (  # noqa: E402
    ACME_DRIVER,
)

GIB = 1024 ** 3
VOLUME_BINARY = 'cinder-volume'


def configured_pools(name: str, backend: dict) -> list[str]:
    """The appliance pools of a backend: acme_pools (a list or cinder.conf's comma list),
    else acme_pool."""
    pools = backend.get('acme_pools') or []
    if isinstance(pools, str):
        pools = [pool.strip() for pool in pools.split(',') if pool.strip()]
    if pools:
        return [str(pool) for pool in pools]
    if backend.get('acme_pool'):
        return [str(backend['acme_pool'])]
    raise AnsibleFilterError(f'cinder_status: backend {name} sets neither acme_pool nor acme_pools')


def cinder_pool_names(name: str, backend: dict, pools: list[str]) -> dict[str, str]:
    """Appliance pool -> the pool name Cinder gives it: the pool itself with acme_pools, the
    backend's volume_backend_name with acme_pool (the driver then reports no pools list)."""
    if backend.get('acme_pools'):
        return {pool: pool for pool in pools}
    return {pools[0]: str(backend.get('volume_backend_name') or name)}


def backend_of(host: str) -> str:
    """``host@backend#pool`` or ``host@backend`` -> ``backend`` ('' without an @)."""
    return host.partition('@')[2].partition('#')[0] if '@' in host else ''


def gib(value: object) -> float | None:
    return None if value is None else round(float(value), 2)


def cinder_rows(pools: list[dict], backend: str) -> dict[str, list[dict]]:
    """Cinder's pools of one backend by pool name (several when several hosts serve it)."""
    rows: dict[str, list[dict]] = {}
    for pool in pools:
        name = str(pool.get('name', ''))
        if backend_of(name) != backend:
            continue
        capabilities = pool.get('capabilities') or {}
        pool_name = capabilities.get('pool_name') or name.partition('#')[2]
        rows.setdefault(str(pool_name), []).append({
            'cinder_pool': name,
            'cinder_total_gib': gib(capabilities.get('total_capacity_gb')),
            'cinder_free_gib': gib(capabilities.get('free_capacity_gb'))})
    return rows


def appliance_row(pool: str, appliance: list | str) -> dict:
    found = [p for p in appliance if p.get('name') == pool] if isinstance(appliance, list) else []
    return {'appliance_pool': pool,
            'appliance_total_gib': gib(found[0]['total_bytes'] / GIB) if found else None,
            'appliance_free_gib': gib(found[0]['free_bytes'] / GIB) if found else None}


NO_CINDER = {'cinder_pool': None, 'cinder_total_gib': None, 'cinder_free_gib': None}
NO_APPLIANCE = {'appliance_pool': None, 'appliance_total_gib': None, 'appliance_free_gib': None}


def pool_rows(name: str, backend: dict, appliance: list | str, pools: list[dict]) -> list[dict]:
    """One row per configured pool and Cinder pool of it, then Cinder's pools of the backend
    that no configured pool explains."""
    names = cinder_pool_names(name, backend, configured_pools(name, backend))
    in_cinder = cinder_rows(pools, name)
    rows = []
    for pool, cinder_name in names.items():
        for cinder in in_cinder.pop(cinder_name, None) or [NO_CINDER]:
            rows.append({**appliance_row(pool, appliance), **cinder})
    rows.extend({**NO_APPLIANCE, **cinder} for extra in in_cinder.values() for cinder in extra)
    return rows


def backend_services(services: list[dict], backend: str) -> list[dict]:
    return sorted(({'host': s.get('host'), 'status': s.get('status'), 'state': s.get('state'),
                    'disabled_reason': s.get('disabled_reason')}
                   for s in services if s.get('binary') == VOLUME_BINARY
                   and backend_of(str(s.get('host', ''))) == backend),
                  key=lambda service: str(service['host']))


def no_pool(name: str, services: list[dict]) -> str:
    """Why Cinder has no pool of a backend: the scheduler reports only the backends whose
    cinder-volume service is up and enabled and has sent the driver's capabilities."""
    hosts = ', '.join(str(s['host']) for s in services)
    prefix = f'{name}: Cinder has no pool of this backend'
    if not services:
        return (f'{prefix}, cinder-volume never loaded it: no cinder-volume service has it (not '
                f'in enabled_backends, or cinder-volume was not restarted)')
    if any(s['state'] == 'up' and s['status'] == 'enabled' for s in services):
        return (f'{prefix}: its driver has reported no capabilities (cinder-volume just started, '
                f'or the driver did not initialize: see the cinder-volume log of {hosts})')
    if all(s['state'] == 'up' for s in services):
        return f'{prefix}: every cinder-volume service of it is disabled'
    return (f'{prefix}: cinder-volume never loaded it or is not running (a backend whose driver '
            f'fails to set up sends no heartbeat: its service is down); see the cinder-volume '
            f'log of {hosts}')


def pool_mismatches(name: str, rows: list[dict], services: list[dict]) -> list[str]:
    if not any(row['cinder_pool'] for row in rows):
        return [no_pool(name, services)]
    found = []
    for row in rows:
        if row['appliance_pool'] and not row['cinder_pool']:
            found.append(f"{name}: appliance pool {row['appliance_pool']} is configured but "
                         f"Cinder does not see it")
        if not row['appliance_pool']:
            found.append(f"{name}: Cinder has pool {row['cinder_pool']}, which the inventory "
                         f"does not configure (acme_pool, acme_pools)")
    return found


def appliance_mismatches(name: str, url: str, appliance: list | str,
                         rows: list[dict]) -> list[str]:
    if isinstance(appliance, str):
        return [f'{name}: the appliance at {url} could not be read: {appliance}']
    return [f"{name}: pool {row['appliance_pool']} does not exist on the appliance at {url}"
            for row in rows
            if row['appliance_pool'] and row['appliance_total_gib'] is None]


def service_mismatches(name: str, services: list[dict]) -> list[str]:
    found = []
    for service in services:
        if service['state'] != 'up':
            found.append(f"{name}: cinder-volume service {service['host']} is {service['state']}")
        if service['status'] != 'enabled':
            reason = service['disabled_reason'] or 'no reason given'
            found.append(f"{name}: cinder-volume service {service['host']} is "
                         f"{service['status']} ({reason})")
    return found


def cell(value: object) -> str:
    return '-' if value is None else f'{value:.2f}' if isinstance(value, float) else str(value)


def table(entry: dict) -> list[str]:
    """The lines that show one backend: its pools side by side, then its services."""
    header = ('appliance pool', 'total GiB', 'free GiB', 'Cinder pool', 'total GiB', 'free GiB')
    keys = ('appliance_pool', 'appliance_total_gib', 'appliance_free_gib',
            'cinder_pool', 'cinder_total_gib', 'cinder_free_gib')
    cells = [header] + [tuple(cell(row[key]) for key in keys) for row in entry['pools']]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = [f"{entry['name']} ({entry['acme_url']})"]
    for line in cells:
        left = ' '.join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(line[:3], widths[:3], strict=True)))
        right = ' '.join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(line[3:], widths[3:], strict=True)))
        lines.append(f'  {left} | {right}'.rstrip())
    lines.extend(f"  cinder-volume {s['host']}: {s['status']}, {s['state']}"
                 for s in entry['services'])
    if not entry['services']:
        lines.append('  cinder-volume: no service')
    lines.extend(f'  MISMATCH {mismatch}' for mismatch in entry['mismatches'])
    return lines


def appliance_pools(value: object) -> list | str:
    """Pools, or why there are none: a list, an acme_info result, or an error message."""
    if isinstance(value, dict):
        return value['pools'] if isinstance(value.get('pools'), list) else \
            str(value.get('msg') or 'acme.nas.acme_info returned no pools')
    return value if isinstance(value, list) else str(value)


def backend_status(name: str, backend: dict, appliances: dict, cinder_pools: list[dict],
                   services: list[dict]) -> dict:
    url = str(backend.get('acme_url', ''))
    appliance = appliance_pools(appliances.get(url, 'its pools were not read'))
    rows = pool_rows(name, backend, appliance, cinder_pools)
    own_services = backend_services(services, name)
    entry = {'name': name, 'acme_url': url, 'pools': rows, 'services': own_services,
             'mismatches': pool_mismatches(name, rows, own_services)
             + appliance_mismatches(name, url, appliance, rows)
             + service_mismatches(name, own_services)}
    entry['table'] = table(entry)
    return entry


def cinder_status(backends: dict, appliances: dict, cinder_pools: list[dict],
                  services: list[dict]) -> dict:
    """Each ACME backend of ``backends`` as the appliance and Cinder see it, and every
    mismatch (see DOCUMENTATION)."""
    entries = [backend_status(name, backend, appliances, cinder_pools or [], services or [])
               for name, backend in sorted(backends.items())
               if (backend or {}).get('volume_driver') == ACME_DRIVER]
    return {'backends': entries,
            'mismatches': [mismatch for entry in entries for mismatch in entry['mismatches']]}


class FilterModule:
    def filters(self) -> dict:
        return {'cinder_status': cinder_status}
