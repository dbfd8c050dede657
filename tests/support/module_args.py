"""Module arguments for in-process module tests, on every supported ansible-core (2.17-2.19).

ansible-core 2.19 has the supported helper ``ansible.module_utils.testing.patch_module_args``;
2.17 and 2.18 read the arguments from ``basic._ANSIBLE_ARGS`` (the way their own unit tests
set them), so there the same context manager sets that buffer.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    from ansible.module_utils import basic

    @contextlib.contextmanager
    def patch_module_args(args: dict | None = None) -> Iterator[None]:
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({'ANSIBLE_MODULE_ARGS': args or {}}).encode()
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved

__all__ = ['patch_module_args']
