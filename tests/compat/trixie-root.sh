#!/usr/bin/env bash
# Runs a command inside a Debian 13 (trixie) root, for the ansible-core releases that need
# Python 3.12 or later on the controller (this machine is Debian 12: Python 3.11).
#
#   tests/compat/trixie-root.sh COMMAND [ARG...]     the command runs in the checkout, as root
#
# The root is .cache/trixie/root, made once with debootstrap (suite and mirror below; Debian
# packages only; 257 MB, 134-210 s seen here) and reused while .cache/trixie/root.complete
# exists. Each run enters a private mount namespace (unshare): /proc, /dev and the checkout (at
# its own path, so absolute paths and the build/ansible_collections link stay valid) are
# mounted there, and every mount goes with the namespace when the command ends, also when it
# fails or is killed; outside it the root holds no mount (rm -rf .cache never reaches the
# checkout). A worktree's git directory, when it lies outside the checkout, is mounted too
# (ansible-test lists files with git). TRIXIE_TARGET_VENV names a venv inside the root to mount
# over the checkout's .venv (the molecule scenarios run their modules with .venv/bin/python).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SUITE=trixie
MIRROR=${TRIXIE_MIRROR:-http://deb.debian.org/debian}
# The controller (python3, python3-venv), git (ansible-test lists the collection's files with
# it) and the shellcheck of ansible-test's shellcheck sanity test (skipped without it).
PACKAGES=python3,python3-venv,git,shellcheck
ROOTFS=$ROOT/.cache/trixie/root
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

build_root() {
    echo "== debootstrap $SUITE into $ROOTFS ($MIRROR)"
    local start=$SECONDS
    rm -rf "$ROOTFS" "$ROOTFS.complete"
    mkdir -p "$ROOTFS"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
        >"$ROOTFS.log" 2>&1 || { tail -20 "$ROOTFS.log" >&2; exit 1; }
    # what no test reads: package caches, documentation, translations
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
        "$ROOTFS"/usr/share/{doc,man,info,locale}
    echo "$SUITE root: $(du -sh "$ROOTFS" | cut -f1), $(chroot "$ROOTFS" python3 --version)," \
        "built in $((SECONDS - start))s"
    touch "$ROOTFS.complete"
}

# Files the root needs from this host at each run: name resolution and the CAs it trusts.
copy_host_files() {
    mkdir -p "$ROOTFS/etc/ssl/certs"
    cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
    cmp -s "$CA_BUNDLE" "$ROOTFS$CA_BUNDLE" || cp -L "$CA_BUNDLE" "$ROOTFS$CA_BUNDLE"
}

# Runs in the private mount namespace: mounts, then chroot with a clean environment.
enter() {
    mount -t proc proc "$ROOTFS/proc"
    mount --rbind /dev "$ROOTFS/dev"
    mkdir -p "$ROOTFS$ROOT"
    mount --rbind "$ROOT" "$ROOTFS$ROOT"
    local gitdir
    gitdir=$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
    if [ -n "$gitdir" ] && [ "${gitdir#"$ROOT"/}" = "$gitdir" ]; then
        mkdir -p "$ROOTFS$gitdir"
        mount --bind "$gitdir" "$ROOTFS$gitdir"
    fi
    if [ -n "${TRIXIE_TARGET_VENV:-}" ]; then
        local venv
        venv=$(readlink -f "$ROOT/.venv" 2>/dev/null || echo "$ROOT/.venv")
        mkdir -p "$ROOTFS$venv"
        mount --bind "$ROOTFS$TRIXIE_TARGET_VENV" "$ROOTFS$venv"
    fi
    local env=(HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8
               PIP_DISABLE_PIP_VERSION_CHECK=1 "PIP_CERT=$CA_BUNDLE" "SSL_CERT_FILE=$CA_BUNDLE"
               "REQUESTS_CA_BUNDLE=$CA_BUNDLE")
    local name
    for name in ANSIBLE_COLLECTIONS_PATH PIP_INDEX_URL PIP_DEFAULT_TIMEOUT http_proxy https_proxy \
            no_proxy; do
        [ -z "${!name:-}" ] || env+=("$name=${!name}")
    done
    exec chroot "$ROOTFS" /usr/bin/env -i --chdir="$ROOT" "${env[@]}" "$@"
}

if [ "${1:-}" = --inside ]; then
    shift
    enter "$@"
fi
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }
[ -e "$ROOTFS.complete" ] || build_root
copy_host_files
exec unshare --mount --propagation private -- "$0" --inside "$@"
