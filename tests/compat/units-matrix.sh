#!/usr/bin/env bash
# The unit tests of the modules and the client (tests/unit/plugins, tests/unit/client) with each
# ansible-core of tests/sanity/ansible-core-matrix.txt, in the Debian 13 root
# (tests/compat/trixie-root.sh) with that release's virtualenv there (tests/compat/core-venv.sh:
# that ansible-core, the test libraries and the simulator at the versions constraints.txt pins,
# the driver without deps; both built once, under .cache/trixie).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
status=0
while read -r pin; do
    version=${pin#ansible-core==}
    echo "== unit tests (plugins, client), ansible-core $version (Debian 13 root)"
    start=$(date +%s)
    tests/compat/trixie-root.sh tests/compat/core-venv.sh "$version" \
        python -m pytest -q -p no:cacheprovider tests/unit/plugins tests/unit/client \
        </dev/null | tail -1 || status=1
    echo "ansible-core $version units: $(( $(date +%s) - start ))s"
done < <(grep -v '^#' tests/sanity/ansible-core-matrix.txt)
exit "$status"
