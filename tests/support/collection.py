"""The checkout under its collection name: build/ansible_collections/acme/nas -> the checkout.

Ansible finds the collection through ANSIBLE_COLLECTIONS_PATH=build, and tests import the
modules and the one client as ``ansible_collections.acme.nas...`` (the only name the client has
in a test run). ``make collection-link`` creates the same link.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / 'build'
LINK = BUILD / 'ansible_collections' / 'acme' / 'nas'


def collections_path() -> Path:
    """Create the link if it is missing, make it importable; return the collections path."""
    if not LINK.exists():
        LINK.parent.mkdir(parents=True, exist_ok=True)
        LINK.symlink_to(REPO)
    if str(BUILD) not in sys.path:
        sys.path.insert(0, str(BUILD))
    return BUILD


def alias_driver_client() -> None:
    """Let the driver import the client it ships (acme_cinder.acme_client, a symlink to the
    same file) as the very module the tests import, so one AcmeError class exists per run."""
    from ansible_collections.acme.nas.plugins.module_utils import acme_client
    try:
        import acme_cinder
    except ImportError:  # the driver is not installed (a collection-only environment)
        return
    sys.modules['acme_cinder.acme_client'] = acme_client
    acme_cinder.acme_client = acme_client
