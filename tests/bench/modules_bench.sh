#!/usr/bin/env bash
# Benchmark (not a test): 100 shares created in a playbook loop, the playbook run twice;
# prints both wall times and changed counts (see modules_bench.py). Used by `make bench`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
exec "${PYTHON:-$ROOT/.venv/bin/python}" "$ROOT/tests/bench/modules_bench.py" "$@"
