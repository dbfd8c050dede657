"""OpenStack Cinder volume driver for the ACME NAS appliance (one NFS share per volume)."""

# The driver's one version (pyproject.toml reads it): always the collection's version
# (galaxy.yml), as the two are released together (make release; tests/unit/release checks).
__version__ = '0.1.0'
