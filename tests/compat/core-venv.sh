#!/usr/bin/env bash
# Inside the trixie root (tests/compat/trixie-root.sh): makes the virtualenv of one ansible-core
# release once, then runs a command with it first on PATH and VENV_BIN set.
#
#   tests/compat/core-venv.sh 2.21.5 COMMAND [ARG...]   /opt/acme/ansible-core-2.21.5: that
#       ansible-core, the unit-test libraries, molecule with testinfra, the simulator and the driver
#   tests/compat/core-venv.sh target COMMAND [ARG...]   /opt/acme/target: what the molecule
#       scenarios' modules and verify run with (.venv/bin/python on the host): cinder and the driver
#
# Versions come from constraints.txt, less what belongs to the .venv's ansible-core (2.19).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# oslo.config: the cinder_conf filter's test reads the file back with it (Cinder's parser)
TEST_PKGS=(pytest pytest-timeout hypothesis requests urllib3 responses trustme httpx jmespath
           oslo.config molecule ansible-compat pytest-testinfra)
which=$1
shift
venv=/opt/acme/target
[ "$which" = target ] || venv=/opt/acme/ansible-core-$which
# a venv is rebuilt when this script or the pins change
stamp=$(cat "${BASH_SOURCE[0]}" "$ROOT/constraints.txt" "$ROOT/requirements-dev.txt" | sha256sum | cut -c1-16)

pip_install() {
    "$venv/bin/pip" install -q -c "$venv/constraints.txt" "$@" 2>&1 |
        { grep -vE '^WARNING: (Location|Url)' || true; }
}

make_venv() {
    echo "== virtualenv $venv (Python $(python3 -c 'import platform; print(platform.python_version())'))"
    local start=$SECONDS
    rm -rf "$venv"
    python3 -m venv "$venv"
    grep -vE '^(ansible|ansible-core|ansible-lint|ansible-runner|ansible-builder|galaxy_importer|antsibull[a-z-]*)==' \
        "$ROOT/constraints.txt" >"$venv/constraints.txt"
    if [ "$which" = target ]; then
        pip_install "$(grep '^cinder==' "$ROOT/requirements-dev.txt")"
        "$venv/bin/python" -c 'import cinder.cmd.volume, oslo_rootwrap'
    else
        pip_install "ansible-core==$which" "${TEST_PKGS[@]}" -e "$ROOT/appliance"
        "$venv/bin/python" -c 'import ansible, acme_appliance, pytest, molecule, testinfra'
    fi
    pip_install --no-deps -e "$ROOT/driver"
    "$venv/bin/python" -c 'import acme_cinder'
    echo "$venv: $(du -sh "$venv" | cut -f1), $((SECONDS - start))s"
    echo "$stamp" >"$venv/.acme-complete"
}

[ "$(cat "$venv/.acme-complete" 2>/dev/null)" = "$stamp" ] || make_venv
export VENV_BIN=$venv/bin PATH=$venv/bin:$PATH
exec "$@"
