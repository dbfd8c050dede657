#!/usr/bin/env bash
# The unit tests of the modules and the client (tests/unit/plugins, tests/unit/client) with each
# older supported ansible-core (tests/sanity/ansible-core-matrix.txt), each in a virtualenv of
# its own under .cache/compat/units-ansible-core-<version> (built once): that ansible-core, the
# test libraries and the simulator at the versions constraints.txt pins (less what belongs to
# the newer ansible-core), the simulator and the driver installed editable without deps.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TEST_PKGS=(pytest pytest-timeout hypothesis requests urllib3 responses trustme httpx jmespath)
cd "$ROOT"
status=0
while read -r pin; do
    version=${pin#ansible-core==}
    venv=$ROOT/.cache/compat/units-ansible-core-$version
    if [ ! -e "$venv/.acme-complete" ]; then
        rm -rf "$venv"
        python3 -m venv "$venv"
        constraints=$venv/constraints.txt
        grep -vE '^(ansible|ansible-core|ansible-compat|ansible-lint|ansible-runner|ansible-builder|galaxy_importer|antsibull[a-z-]*|resolvelib)==' \
            constraints.txt >"$constraints"
        { "$venv/bin/pip" install -q --disable-pip-version-check "$pin" "${TEST_PKGS[@]}" \
              -e appliance -c "$constraints" &&
          "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e driver; } 2>&1 |
            grep -v '^WARNING: Location' || true
        "$venv/bin/python" -c 'import ansible, acme_appliance, acme_cinder, pytest'
        touch "$venv/.acme-complete"
    fi
    echo "== unit tests (plugins, client), ansible-core $version"
    start=$(date +%s)
    "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit/plugins tests/unit/client \
        </dev/null | tail -1 || status=1
    echo "ansible-core $version units: $(( $(date +%s) - start ))s"
done < <(grep -v '^#' tests/sanity/ansible-core-matrix.txt)
exit "$status"
