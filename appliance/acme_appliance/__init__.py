"""ACME NAS appliance simulator: the REST API of the acme.nas contract over local directories."""

__version__ = "1.0.0"
