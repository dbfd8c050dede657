#!/usr/bin/env bash
# Benchmark (not a test): 100 shares created in a playbook loop, the playbook run twice, against
# a no-op module looped over the same items (ansible's floor);
# prints the wall times, changed counts and both ratios (see modules_bench.py). `make bench`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
exec "${PYTHON:-$ROOT/.venv/bin/python}" "$ROOT/tests/bench/modules_bench.py" "$@"
