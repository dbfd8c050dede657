# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

from ansible_collections.acme.nas.plugins.plugin_utils.acme_action import AcmeAction


class ActionModule(AcmeAction):
    """acme_info in the controller's worker when its task would run it there."""
