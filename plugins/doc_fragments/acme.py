# Copyright: (c) 2026, ACME STORAGE, Inc
# Apache License 2.0 (see LICENSE)
"""Documentation of the options every acme.nas module shares (``acme_argument_spec()``)."""

from __future__ import annotations


class ModuleDocFragment:
    """Used as ``extends_documentation_fragment: [acme.nas.acme]``; matches the spec key for key."""

    DOCUMENTATION = r"""
options:
  appliance_url:
    description:
      - URL of the appliance's REST API, for example V(https://nas1.example.com:8443).
      - The API prefix C(/api/v1) is added when missing.
      - If not set, the value of the E(ACME_URL) environment variable is used.
    type: str
    required: true
  username:
    description:
      - User that logs in to the appliance.
      - If not set, the value of the E(ACME_USERNAME) environment variable is used.
    type: str
    required: true
  password:
    description:
      - Password of O(username). It is never logged or returned.
      - If not set, the value of the E(ACME_PASSWORD) environment variable is used.
    type: str
    required: true
  validate_certs:
    description:
      - Whether to verify the appliance's TLS certificate.
      - Set to V(false) only on a trusted lab network.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the certificate authority that signed the appliance's certificate,
        used instead of the system's trust store when O(validate_certs=true).
      - If not set, the value of the E(ACME_CA_PATH) environment variable is used.
      - A path that does not exist fails before any request (unless O(validate_certs=false)).
    type: path
  timeout:
    description:
      - Seconds to wait for an answer of the appliance to one request.
      - Connecting waits at most 10 seconds (or O(timeout) if lower).
      - Must be above V(0).
    type: int
    default: 60
  retry_after_max:
    description:
      - Longest wait, in seconds, before repeating a call the appliance answered with BUSY and a
        C(Retry-After) header; a server asking for longer waits this long.
      - If not set, the value of the E(ACME_RETRY_AFTER_MAX) environment variable is used.
    type: float
    default: 60
  retries:
    description:
      - How many times a call is repeated after the appliance answered BUSY (HTTP 503) or could
        not be reached, with a growing wait in between, before the task fails.
      - V(0) sends each call once. Only calls that are safe to repeat are repeated (reads,
        updates, deletes, the login, and creates, which adopt what a first attempt made).
      - If not set, the value of the E(ACME_RETRIES) environment variable is used.
    type: int
    default: 4
notes:
  - The module runs where the task runs, usually C(localhost) (C(delegate_to), C(connection=local)),
    and needs the Python library C(urllib3) there.
  - When the task would run the module on the controller anyway (a C(local) connection, the
    controller's own Python, no C(become), not C(async)), the module's action plugin runs the
    module's code in the controller's worker process instead of a new Python per item, with the
    same options, results and C(environment); every item of a loop shares one login. Set
    C(ansible_python_interpreter) to another Python to run it as a module process there.
  - All acme.nas modules belong to the action group C(acme.nas.acme), so C(module_defaults) can
    set the connection options once for all of them.
  - Errors report the appliance's error code, message and request id.
requirements:
  - urllib3 >= 1.26.5
"""

    ATTRIBUTES = r"""
attributes:
  action_group:
    description:
      - Use C(group/acme.nas.acme) in C(module_defaults) to set the connection options of all
        acme.nas modules.
    support: full
    membership:
      - acme.nas.acme
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: all
"""
