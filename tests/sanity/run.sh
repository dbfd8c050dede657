#!/usr/bin/env bash
# ansible-test sanity for the whole collection, without containers: --local, with the Python of
# VENV_BIN (default: the .venv's, 3.11; tests/sanity/matrix.sh runs it in the trixie root, 3.13).
#
#   tests/sanity/run.sh                 every sanity test
#   tests/sanity/run.sh --test pylint   extra arguments go to ansible-test sanity
#
# ansible-test wants the collection at .../ansible_collections/acme/nas/; the checkout is
# linked there (build/ is gitignored) and ANSIBLE_TEST_CONTENT_ROOT names the link, so the
# checkout itself stays where it is. Each sanity test (pylint, yamllint, validate-modules, ...)
# runs in its own pinned virtualenv under ~/.ansible/test/venv, created on first use.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
COLL=$ROOT/build/ansible_collections/acme/nas
VENV_BIN=${VENV_BIN:-$ROOT/.venv/bin}
PYTHON=$VENV_BIN/python
PYTHON_VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

mkdir -p "$(dirname "$COLL")"
[ -e "$COLL" ] || ln -sfn "$ROOT" "$COLL"

# ansible-test bootstraps pip in those virtualenvs with a get-pip script it downloads from
# ci-files.testing.ansible.com. This project talks only to PyPI and Debian, so the script is
# always the local stand-in ansible-test documents (saved as ~/.ansible/test/cache/
# get_pip_<version>.py): get_pip_offline.py (ensurepip, then pip from the package index).
PIP_VERSION=$("$PYTHON" - <<'EOF'
import pathlib, re, ansible_test
source = pathlib.Path(ansible_test.__file__).parent / '_internal' / 'python_requirements.py'
print(re.search(r"pip='([0-9.]+)'", source.read_text()).group(1))
EOF
)
CACHE=$HOME/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py
mkdir -p "$(dirname "$CACHE")"
cmp -s "$ROOT/tests/sanity/get_pip_offline.py" "$CACHE" || cp "$ROOT/tests/sanity/get_pip_offline.py" "$CACHE"

export ANSIBLE_TEST_CONTENT_ROOT=$COLL
cd "$ROOT"
start=$(date +%s)
status=0
"$VENV_BIN/ansible-test" sanity --python "$PYTHON_VERSION" --local --color no "$@" || status=$?
echo "ansible-test sanity: $(( $(date +%s) - start ))s, exit status $status"
exit "$status"
