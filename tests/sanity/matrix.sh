#!/usr/bin/env bash
# ansible-test sanity with each older supported ansible-core (tests/sanity/ansible-core-matrix.txt),
# each in a virtualenv of its own under .cache/compat/ansible-core-<version> (built once).
# Every version needs tests/sanity/ignore-<major.minor>.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
status=0
while read -r pin; do
    version=${pin#ansible-core==}
    venv=$ROOT/.cache/compat/ansible-core-$version
    if [ ! -e "$venv/.acme-complete" ]; then
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check "$pin" 2>&1 | grep -v '^WARNING: Location' || true
        "$venv/bin/ansible-test" --version >/dev/null
        touch "$venv/.acme-complete"
    fi
    echo "== ansible-test sanity, ansible-core $version"
    VENV_BIN=$venv/bin "$ROOT/tests/sanity/run.sh" "$@" </dev/null || status=1
done < <(grep -v '^#' "$ROOT/tests/sanity/ansible-core-matrix.txt")
exit "$status"
