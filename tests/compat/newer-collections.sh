#!/usr/bin/env bash
# Link the collections of requirements-collections.txt into build/ansible_collections, taking
# each out of the pinned `ansible` wheel (the collection is kept in .cache/collections/<wheel>/;
# the 50 MB wheel is downloaded once per collection and deleted). Idempotent; one line per
# collection.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${ACME_CACHE_DIR:-$ROOT/.cache}/collections"
PINS="$ROOT/requirements-collections.txt"
PY="${ACME_PYTHON:-$ROOT/.venv/bin/python}"
[[ -x $PY ]] || PY=python3

extract() { # extract WHEEL_PIN COLLECTION_PATH DEST: one collection of the wheel into DEST
    local pin="$1" path="$2" dest="$3" tmp
    tmp="$(mktemp -d)"
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.13 \
        --disable-pip-version-check --dest "$tmp" "$pin" 2>&1 | { grep -v '^WARNING: Location' || true; }
    "$PY" - "$tmp" "ansible_collections/$path/" <<'PY'
import pathlib, sys, zipfile
tmp, prefix = pathlib.Path(sys.argv[1]), sys.argv[2]
with zipfile.ZipFile(next(tmp.glob('*.whl'))) as wheel:
    wheel.extractall(tmp / 'x', [n for n in wheel.namelist() if n.startswith(prefix)])
PY
    rm -rf "$dest"
    mkdir -p "$(dirname "$dest")"
    mv "$tmp/x/ansible_collections/$path" "$dest"
    rm -rf "$tmp"
}

manifest_version() { # manifest_version DIR
    "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["collection_info"]["version"])' \
        "$1/MANIFEST.json"
}

while read -r pin collection version; do
    [[ -z $pin || $pin == \#* ]] && continue
    store="$CACHE/${pin/==/-}"
    path="${collection/.//}"
    [[ -f $store/$path/MANIFEST.json ]] || extract "$pin" "$path" "$store/$path"
    found="$(manifest_version "$store/$path")"
    if [[ $found != "$version" ]]; then
        echo "newer-collections: $pin ships $collection $found, not $version ($PINS)" >&2
        exit 1
    fi
    link="$ROOT/build/ansible_collections/$path"
    mkdir -p "$(dirname "$link")"
    ln -sfn "$store/$path" "$link"
    echo "newer-collections: $collection $version (from $pin) -> build/ansible_collections/$path"
done < "$PINS"
