"""Configuration options of the ACME NFS driver, grouped by concern.

Options Cinder already defines (``nas_*`` in ``cinder.volume.drivers.remotefs``
and ``nfs_*`` in ``cinder.volume.drivers.nfs``) are reused, not redefined: a
backend section that also loads Cinder's NFS driver must not see a second,
different definition of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oslo_config import cfg

from cinder.volume.drivers import nfs as cinder_nfs
from cinder.volume.drivers import remotefs as cinder_remotefs


def _pick(opts: list[cfg.Opt], *names: str) -> list[cfg.Opt]:
    by_name = {opt.name: opt for opt in opts}
    return [by_name[name] for name in names]


# Mount options used when nfs_mount_options is not set: NFSv3 over TCP, the
# design's default (v3 needs no idmapping and works with every ACME release).
DEFAULT_NFS_MOUNT_OPTIONS = 'vers=3,proto=tcp'

ACME_CONNECTION_OPTS = [
    cfg.URIOpt('acme_url', schemes=['https', 'http'],
               help='Management URL of the ACME appliance, for example '
                    'https://nas.example.com:8443 (the /api/v1 suffix is '
                    'optional). Plain http only for labs.'),
    cfg.StrOpt('nas_user', deprecated_for_removal=True,
               deprecated_reason='Cinder names the NAS user nas_login; set that.',
               help='Deprecated name of nas_login (the appliance REST API user). '
                    'When set, it wins over nas_login.'),
    cfg.BoolOpt('acme_tls_verify', default=True,
                help='Verify the appliance TLS certificate. Never disable '
                     'outside a lab; use acme_ca_file for a private CA.'),
    cfg.StrOpt('acme_ca_file',
               help='CA bundle (PEM) that signed the appliance certificate. '
                    'Default: the system trust store (Python\'s ssl '
                    'defaults).'),
    cfg.FloatOpt('acme_connect_timeout', default=10.0, min=0.1,
                 help='Seconds to wait for a connection to the appliance.'),
    cfg.FloatOpt('acme_read_timeout', default=60.0, min=0.1,
                 help='Seconds to wait for an appliance response.'),
    cfg.IntOpt('acme_retries', default=4, min=0,
               help='Retries of an appliance call on BUSY or connection '
                    'errors (idempotent calls and adoptable creates only).'),
    cfg.FloatOpt('acme_backoff', default=0.5, min=0.0,
                 help='Base of the exponential back-off between retries, '
                      'in seconds.'),
    cfg.FloatOpt('acme_retry_after_max', default=60.0, min=0.0,
                 help='Longest wait, in seconds, that a Retry-After header of '
                      'a BUSY appliance may impose before a retry.'),
]

ACME_SHARE_OPTS = [
    cfg.StrOpt('acme_pool',
               help='Appliance pool that holds the shares of this backend, reported '
                    'to Cinder as one pool named after volume_backend_name. Set '
                    'this or acme_pools.'),
    cfg.ListOpt('acme_pools', default=[],
                help='Appliance pools that hold the shares of this backend, each '
                     "reported to Cinder as a pool of its own (host@backend#<pool>) "
                     'with its own capacity, so the scheduler places each volume. '
                     'Set this or acme_pool. Volumes made while acme_pool was set '
                     'keep host@backend#<volume_backend_name> until cinder-manage '
                     'volume update_host moves them to their pool.'),
    cfg.StrOpt('acme_share_prefix', default='cinder-',
               help='Prefix of the share name of each volume (the share is '
                    'named <prefix><volume name>).'),
    cfg.HostAddressOpt('acme_nfs_address',
                       help='NFS data address that clients mount. Default: '
                            'the address in the export the appliance '
                            'reports.'),
    cfg.IntOpt('acme_file_wait_timeout', default=30, min=1,
               help='Seconds to wait for the volume file of a fresh clone '
                    'to become visible through NFS (attribute caches lag).'),
    cfg.FloatOpt('acme_share_quota_headroom', default=1.0, min=0.0, max=100.0,
                 help='Percent of the volume size added to the quota of its '
                      "share, for the appliance's file system metadata: a "
                      'volume written to its last byte uses a little more '
                      'than its size. A clone also gets at least the used '
                      "bytes of its origin snapshot. The pool's provisioned "
                      'capacity (the sum of quotas) includes the headroom.'),
]

# Ownership of a share's root directory in secure NAS mode
# (nas_secure_file_operations = true): the cinder-volume user must be able to
# create and rename the volume file there without root.
ACME_SECURE_OPTS = [
    cfg.IntOpt('acme_share_root_uid', min=0,
               help="Owner (uid) of a new share's root directory in secure NAS "
                    'mode. Default: the uid cinder-volume runs as. Set it when '
                    'the hosts of an active-active cluster differ.'),
    cfg.IntOpt('acme_share_root_gid', min=0,
               help="Group (gid) of a new share's root directory in secure NAS "
                    'mode. Default: the gid cinder-volume runs as (make the '
                    'hypervisor user a member of it).'),
    cfg.StrOpt('acme_share_root_mode', default='0775', regex=r'^0?[0-7]{3}$',
               help="Mode of a new share's root directory in secure NAS mode "
                    '(volume files follow nas_secure_file_permissions).'),
]

# Cinder's own NFS and NAS options that this driver honours.
ACME_NFS_OPTS = (
    _pick(cinder_remotefs.nas_opts, 'nas_login', 'nas_password',
          'nas_secure_file_operations',
          'nas_secure_file_permissions')
    + _pick(cinder_nfs.nfs_opts, 'nfs_sparsed_volumes', 'nfs_mount_point_base',
            'nfs_mount_options', 'nfs_mount_attempts')
)

ACME_OPTS = ACME_CONNECTION_OPTS + ACME_SHARE_OPTS + ACME_SECURE_OPTS + ACME_NFS_OPTS


REQUIRED_OPTIONS = ('acme_url', 'nas_password')
POOL_OPTIONS = ('acme_pool', 'acme_pools')


def setting_problems(value: Callable[[str], Any]) -> list[tuple[str, str]]:
    """(option, what is wrong) for each required setting a backend section lacks:
    ``value(name)`` is the option's value in it (empty or None when unset)."""
    found = [(name, 'is required') for name in REQUIRED_OPTIONS if not value(name)]
    pools = [name for name in POOL_OPTIONS if value(name)]
    if not pools:
        found.append(('acme_pool', 'or acme_pools is required'))
    elif len(pools) > 1:
        found.append(('acme_pools', 'and acme_pool are both set: set one of them'))
    return found


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """Entry point ``oslo.config.opts: acme_cinder`` for oslo-config-generator."""
    # 'backend' is Cinder's placeholder for a section named in enabled_backends.
    return [('backend', list(ACME_OPTS))]
