"""OpenStack Cinder volume driver for the ACME NAS appliance (one NFS share per volume)."""

__version__ = '1.0.0'
