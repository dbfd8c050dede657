#!/usr/bin/env bash
# Publish checks on the Galaxy tarball, as Galaxy and a collection maintainer would run them:
#   1. ansible-galaxy collection build (galaxy.yml's build_ignore decides what ships)
#   2. ansible-lint --profile production on the unpacked tarball (offline: no Galaxy)
#   3. galaxy-importer on the tarball (tests/publish/galaxy-importer.cfg: no containers)
#   4. antsibull-changelog lint of the fragments and changelogs/changelog.yaml
# Every step prints its result and time; a failed build stops the run, a failed check does not
# stop the others, and the run fails when any of them did.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV_BIN=${VENV_BIN:-$ROOT/.venv/bin}
OUT=$ROOT/build/publish
UNPACKED=$OUT/collections/ansible_collections/acme/nas
# The importer may warn about this and nothing else: the ignore file's entries are
# validate-modules:missing-gplv3-license for Apache-2.0 modules (tests/sanity/ignore-2.19.txt).
ALLOWED_WARNING='Ignore files skip ansible-test sanity tests'
export PATH=$VENV_BIN:$PATH

FAILED=()
timed() { # timed LABEL CMD...: run CMD, then print LABEL, its result and the seconds it took
    local label=$1 start=$SECONDS status=0
    shift
    "$@" || status=$?
    if [ "$status" -eq 0 ]; then
        echo "$label: ok, $((SECONDS - start))s"
    else
        echo "$label: FAILED (exit status $status), $((SECONDS - start))s"
        FAILED+=("$label")
    fi
}

build() {
    rm -rf "$OUT"
    # The unpacked tarball holds a copy of the client; it must not outlive the checks.
    trap 'rm -rf "$OUT"' EXIT
    mkdir -p "$UNPACKED"
    ansible-galaxy collection build --force --output-path "$OUT" "$ROOT" >/dev/null
    TARBALL=$(echo "$OUT"/acme-nas-*.tar.gz)
    tar -xzf "$TARBALL" -C "$UNPACKED"
    cp "$ROOT/galaxy.yml" "$UNPACKED/"  # ansible-lint's galaxy rule reads it
    echo "tarball $(basename "$TARBALL"): $(tar -tzf "$TARBALL" | grep -cv '/$') files," \
         "$(stat -c %s "$TARBALL") bytes"
}

lint() {
    (cd "$UNPACKED" && ANSIBLE_COLLECTIONS_PATH=$OUT/collections \
        ansible-lint --offline --profile production --nocolor -q -c "$ROOT/.ansible-lint" \
            --ignore-file "$ROOT/.ansible-lint-ignore")
}

importer() {
    local log=$OUT/galaxy-importer.log status=0 unexpected
    (cd "$OUT" && GALAXY_IMPORTER_CONFIG=$ROOT/tests/publish/galaxy-importer.cfg \
        python -m galaxy_importer.main "$TARBALL") >"$log" 2>&1 || status=$?
    unexpected=$(grep -E '^(WARNING|ERROR)' "$log" | grep -v "$ALLOWED_WARNING" || true)
    if [ "$status" -ne 0 ] || [ -n "$unexpected" ]; then
        cat "$log"
        echo "galaxy-importer: rejected or warned (exit status $status)" >&2
        return 1
    fi
    grep -F 'Importer processing completed successfully' "$log"
}

changelog() {
    (cd "$ROOT" && antsibull-changelog lint \
        && antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml)
}

build_start=$SECONDS
build
echo "ansible-galaxy collection build: ok, $((SECONDS - build_start))s"
timed 'ansible-lint --profile production' lint
timed 'galaxy-importer' importer
timed 'antsibull-changelog lint' changelog
if [ ${#FAILED[@]} -gt 0 ]; then
    echo "publish checks failed: ${FAILED[*]}" >&2
    exit 1
fi
