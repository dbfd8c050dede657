#!/usr/bin/env bash
# ansible-test units and integration, without containers: Python 3.11, --local.
#
#   tests/ansible-test/run.sh units         tests/unit/plugins (modules, module_utils)
#   tests/ansible-test/run.sh integration   tests/integration/targets (modules vs the simulator)
#   extra arguments go to ansible-test; the integration output is in build/ansible-test/integration.log
#
# pytest resolves the physical path of every conftest, so the symlink that sanity uses
# (build/ansible_collections/acme/nas -> the checkout) does not do here: the collection's files
# (git ls-files: tracked and not ignored) are copied under a temporary ansible_collections/acme/nas
# outside the checkout. The pip bootstrap works offline as for sanity (tests/sanity/run.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV_BIN=${VENV_BIN:-$ROOT/.venv/bin}
COMMAND=${1:?usage: run.sh units|integration [ansible-test arguments]}
shift

WORK=$(mktemp -d /tmp/acme-ansible-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
COPY=$WORK/ansible_collections/acme/nas
mkdir -p "$COPY"
(cd "$ROOT" && git ls-files -z -co --exclude-standard \
    | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -C "$COPY" -xf -

case $COMMAND in
    units) targets=(tests/unit/plugins/) ;;
    integration) ;;
    *) echo "run.sh: units or integration, not $COMMAND" >&2; exit 2 ;;
esac

cd "$COPY"
export PATH=$VENV_BIN:$PATH ANSIBLE_TEST_CONTENT_ROOT=$COPY
start=$(date +%s)
status=0
if [[ $COMMAND == integration ]]; then
    # the playbooks' output (expected failures included) goes to a log; the recaps are shown
    LOG=$ROOT/build/ansible-test/integration.log
    mkdir -p "$(dirname "$LOG")"
    ansible-test integration --python 3.11 --local --color no "$@" >"$LOG" 2>&1 || status=$?
    grep -E '^Running .* integration test role|^testhost +:' "$LOG" || true
    ((status == 0)) || { tail -60 "$LOG"; echo "log: $LOG"; }
else
    ansible-test "$COMMAND" --python 3.11 --local --color no "$@" "${targets[@]}" || status=$?
fi
echo "ansible-test $COMMAND: $(( $(date +%s) - start ))s, exit status $status"
exit "$status"
