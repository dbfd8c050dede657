# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)
"""cinder.conf backend sections from the backends dict of acme.nas.cinder_backend: the one
builder behind the role's template and openstack-ansible's cinder_backends."""

from __future__ import annotations

ACME_DRIVER = 'acme_cinder.nfs.AcmeNfsDriver'
ROLE_KEYS = ('volume_type',)


class BackendError(ValueError):
    """A backends dict that cannot become cinder.conf sections."""


def option_text(value: object) -> str:
    """A value as oslo.config reads it: true/false, lists joined with commas."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ','.join(option_text(item) for item in value)
    return str(value)


def file_text(value: object) -> str:
    """A value as written into a file oslo.config reads: its option_text with every ``$``
    doubled, because oslo.config reads ``$name`` as the value of another option (a password
    ``pa$word`` would become an error or another option's value) and ``$$`` as ``$``."""
    return option_text(value).replace('$', '$$')


def file_sections(conf: dict) -> dict:
    """A {section: {key: value}} map with every value as written into the file; nulls left
    out."""
    return {section: {key: file_text(value) for key, value in options.items()
                      if value is not None}
            for section, options in conf.items()}


def backend_section(name: str, backend: dict, ca_file: str = '',
                    role_keys: tuple | list = ROLE_KEYS) -> dict:
    """One backend's section: volume_backend_name defaults to the section name, an ACME
    backend gets ``acme_ca_file`` when a CA file is given, role keys and nulls are left out."""
    if not isinstance(backend, dict) or 'volume_driver' not in backend:
        raise BackendError(f'backend {name}: a map with volume_driver is needed')
    section = {'volume_backend_name': name}
    if ca_file and backend['volume_driver'] == ACME_DRIVER:
        section['acme_ca_file'] = ca_file
    section.update((key, option_text(value)) for key, value in backend.items()
                   if key not in role_keys and value is not None)
    return section


def backend_sections(backends: dict, ca_file: str = '',
                     role_keys: tuple | list = ROLE_KEYS) -> dict:
    """Every backend's section, keyed (and sorted) by section name."""
    if not isinstance(backends, dict):
        raise BackendError('a dict of backends, keyed by section name, is needed')
    return {name: backend_section(name, backend, ca_file, role_keys)
            for name, backend in sorted(backends.items())}
