#!/usr/bin/env bash
# ansible-lint, production profile, of the checkout (make lint), in two runs:
#   1. the lab (lab/roles, lab/playbooks, lab/molecule) with cwd lab/: its own lab/.ansible-lint,
#      and lab/ansible.cfg's roles_path for its roles' plain names (lab_network, ...)
#   2. the rest of the checkout (.ansible-lint, which leaves lab/ out): shipped roles and
#      playbooks, the collection's molecule scenarios
# The Galaxy tarball's own lint is tests/publish/run.sh (make publish-checks). The collection is
# found through ANSIBLE_COLLECTIONS_PATH (build/ansible_collections/acme/nas -> the checkout).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV_BIN=${VENV_BIN:-$ROOT/.venv/bin}
export PATH=$VENV_BIN:$PATH ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$ROOT/build}

status=0
for dir in lab .; do
    start=$SECONDS
    if (cd "$ROOT/$dir" && ansible-lint --offline --profile production --nocolor -q); then
        echo "ansible-lint $dir: ok, $((SECONDS - start))s"
    else
        echo "ansible-lint $dir: FAILED, $((SECONDS - start))s"; status=1
    fi
done
exit "$status"
