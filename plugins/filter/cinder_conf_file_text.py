# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: cinder_conf_file_text
short_description: cinder.conf sections with every value as it must be written
version_added: 0.1.0
description:
  - Turns a map of cinder.conf sections (section name to a map of option names and values)
    into the text each value must have in the file so that oslo.config reads the value given -
    C(true)/C(false) for booleans, lists joined with commas, C(null) left out, and every C($)
    doubled (oslo.config reads C($name) as the value of another option, C($$) as C($)).
  - Values are literal; a reference to another option (C($state_path)) cannot be written.
options:
  _input:
    description: cinder.conf sections, keyed by section name.
    type: dict
    required: true
author:
  - ACME NAS maintainers (@acme-storage)
"""

EXAMPLES = r"""
- name: A password with a dollar sign, as cinder.conf must say it
  ansible.builtin.debug:
    msg: "{{ {'acme-1': {'nas_password': 'pa$word'}} | acme.nas.cinder_conf_file_text }}"
  # {'acme-1': {'nas_password': 'pa$$word'}}
"""

RETURN = r"""
_value:
  description: The same sections; each value the text to write after C(key = ).
  type: dict
"""

from ansible.errors import AnsibleFilterError  # noqa: E402 (after the documentation)
from ansible_collections.acme.nas.plugins.module_utils.cinder_conf import (  # noqa: E402
    file_sections,
)


def cinder_conf_file_text(conf: dict) -> dict:
    """{section: {key: value}} -> the same with every value as written into cinder.conf."""
    if not isinstance(conf, dict) or not all(isinstance(v, dict) for v in conf.values()):
        raise AnsibleFilterError('cinder_conf_file_text: a dict of sections (dicts) is needed')
    return file_sections(conf)


class FilterModule:
    def filters(self) -> dict:
        return {'cinder_conf_file_text': cinder_conf_file_text}
