"""Configuration options of the ACME NFS driver, grouped by concern.

Options Cinder already defines (``nas_*`` in ``cinder.volume.drivers.remotefs``
and ``nfs_*`` in ``cinder.volume.drivers.nfs``) are reused, not redefined: a
backend section that also loads Cinder's NFS driver must not see a second,
different definition of the same name.
"""

from __future__ import annotations

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
    cfg.StrOpt('nas_user',
               help='User name for the ACME appliance REST API.'),
    cfg.BoolOpt('acme_tls_verify', default=True,
                help='Verify the appliance TLS certificate. Never disable '
                     'outside a lab; use acme_ca_file for a private CA.'),
    cfg.StrOpt('acme_ca_file',
               help='CA bundle (PEM) that signed the appliance certificate. '
                    'Default: the system trust store.'),
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
]

ACME_SHARE_OPTS = [
    cfg.StrOpt('acme_pool',
               help='Appliance pool that holds the shares of this backend.'),
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
]

# Cinder's own NFS and NAS options that this driver honours.
ACME_NFS_OPTS = (
    _pick(cinder_remotefs.nas_opts, 'nas_password', 'nas_secure_file_operations',
          'nas_secure_file_permissions')
    + _pick(cinder_nfs.nfs_opts, 'nfs_sparsed_volumes', 'nfs_mount_point_base',
            'nfs_mount_options', 'nfs_mount_attempts')
)

ACME_OPTS = ACME_CONNECTION_OPTS + ACME_SHARE_OPTS + ACME_NFS_OPTS
