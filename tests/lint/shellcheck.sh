#!/usr/bin/env bash
# Lint every shell script git tracks with shellcheck, found by shebang (most have no .sh extension:
# lab/bin/*, appliance/run, appliance/container/*, the molecule shims), following sourced files.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
mapfile -t scripts < <(git ls-files -z | xargs -0 grep -lIE '^#!.*\b(ba)?sh\b' -- 2>/dev/null \
    | while IFS= read -r f; do head -n1 "$f" | grep -qE '^#!.*\b(ba)?sh\b' && echo "$f"; done)
shellcheck -x "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} scripts ok"
