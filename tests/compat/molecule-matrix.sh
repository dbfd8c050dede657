#!/usr/bin/env bash
# molecule test of the scenarios that run on the controller itself (cinder_backend, driver) with
# each ansible-core of tests/sanity/ansible-core-matrix.txt as the controller, in the Debian 13
# root (tests/compat/trixie-root.sh). The scenarios run their modules and verify with the
# checkout's .venv/bin/python (.config/molecule/config.yml): in the root that path is
# /opt/acme/target (cinder and the driver, Python 3.13), mounted there for the run.
# The appliance scenario stays with the .venv's ansible-core: it runs the simulator with podman,
# which the root does not have. Logs: build/molecule/NAME-<version>.log.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SCENARIOS=(cinder_backend driver)
cd "$ROOT"
mkdir -p build/molecule
export ANSIBLE_COLLECTIONS_PATH=$ROOT/build
tests/compat/trixie-root.sh tests/compat/core-venv.sh target true </dev/null
status=0
while read -r pin; do
    version=${pin#ansible-core==}
    for scenario in "${SCENARIOS[@]}"; do
        log=build/molecule/$scenario-$version.log
        start=$(date +%s)
        if TRIXIE_TARGET_VENV=/opt/acme/target tests/compat/trixie-root.sh \
               tests/compat/core-venv.sh "$version" sh -c 'ansible --version && exec "$@"' sh \
               molecule test -s "$scenario" --no-command-borders >"$log" 2>&1 </dev/null; then
            echo "molecule test -s $scenario, ansible-core $version (Debian 13 root):" \
                 "passed in $(( $(date +%s) - start ))s"
        else
            tail -60 "$log"
            echo "molecule test -s $scenario, ansible-core $version: FAILED ($log)"
            status=1
        fi
    done
done < <(grep -v '^#' tests/sanity/ansible-core-matrix.txt)
exit "$status"
