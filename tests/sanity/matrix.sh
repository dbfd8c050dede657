#!/usr/bin/env bash
# ansible-test sanity with each ansible-core of tests/sanity/ansible-core-matrix.txt, in the
# Debian 13 root (tests/compat/trixie-root.sh) with that release's virtualenv there
# (tests/compat/core-venv.sh; both built once, under .cache/trixie). Every version needs
# tests/sanity/ignore-<major.minor>.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
status=0
while read -r pin; do
    version=${pin#ansible-core==}
    echo "== ansible-test sanity, ansible-core $version (Debian 13 root)"
    tests/compat/trixie-root.sh tests/compat/core-venv.sh "$version" tests/sanity/run.sh "$@" \
        </dev/null || status=1
done < <(grep -v '^#' tests/sanity/ansible-core-matrix.txt)
exit "$status"
