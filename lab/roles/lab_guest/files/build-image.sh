#!/usr/bin/env bash
# Build the lab's cinder-volume guest image once (called by the lab_guest role).
#
# Everything comes from the environment (the role's defaults):
#   OUT          final directory: base.qcow2, vmlinuz, initrd.img, id_ed25519[.pub],
#                ssh_host_ed25519_key.pub, build.log, timings
#   SUITE MIRROR PACKAGES         debootstrap suite, mirror, --include list (comma separated)
#   HOST_PIP PIP_PACKAGES PIP_CONSTRAINTS WHEELHOUSE
#                pip used on the host to fill WHEELHOUSE (cached); the guest venv installs from
#                it with --no-index, in a chroot, at native speed
#   GUEST_VENV GUEST_USER GUEST_HOSTNAME GUEST_ADDRESS GUEST_GATEWAY DISK_SIZE MASK_UNITS
#   CINDER_SERVICES  systemd units written for the Cinder services of the volume host; empty
#                (a compute host: os-brick only) writes no /etc/cinder, sudoers entry or unit
#   IMPORT_CHECK Python statement run in the venv to prove the install (default: Cinder's)
#   OUTSIDE      command prefix that runs a download in the machine's root network namespace
#                (the lab namespace has no route out), e.g. "nsenter --net=/proc/1/ns/net"
# The rootfs is built under OUT.tmp and renamed to OUT only when complete.
set -euo pipefail

: "${OUT:?}" "${SUITE:?}" "${MIRROR:?}" "${PACKAGES:?}" "${HOST_PIP:?}" "${PIP_PACKAGES:?}"
: "${WHEELHOUSE:?}" "${GUEST_VENV:?}" "${GUEST_USER:?}" "${GUEST_HOSTNAME:?}"
: "${GUEST_ADDRESS:?}" "${GUEST_GATEWAY:?}" "${DISK_SIZE:?}"
PIP_CONSTRAINTS="${PIP_CONSTRAINTS:-}" CINDER_SERVICES="${CINDER_SERVICES-cinder-volume cinder-backup}" MASK_UNITS="${MASK_UNITS:-}" OUTSIDE="${OUTSIDE:-}"
IMPORT_CHECK="${IMPORT_CHECK:-from cinder import objects; objects.register_all(); import cinder.volume.manager, os_brick, psycopg2}"

WORK="$OUT.tmp"
ROOT="$WORK/rootfs"
START=$SECONDS
log() { printf '[guest-image %4ds] %s\n' "$((SECONDS - START))" "$*" | tee -a "$WORK/timings"; }

cleanup() {
    mountpoint -q "$ROOT/proc" 2>/dev/null && umount "$ROOT/proc"
    mountpoint -q "$ROOT/tmp/wheels" 2>/dev/null && umount "$ROOT/tmp/wheels"
    return 0
}
trap cleanup EXIT

# 6. disk: ext4 filled from the directory (no loop device), qcow2 base, kernel + initrd beside it
finish_disk() {
    rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/tmp/*
    cp "$(find "$ROOT"/boot -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -1)" "$WORK/vmlinuz"
    cp "$(find "$ROOT"/boot -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -1)" "$WORK/initrd.img"
    mkfs.ext4 -q -F -L acme-root -d "$ROOT" "$WORK/base.raw" "$DISK_SIZE" >&3 2>&1
    qemu-img convert -O qcow2 "$WORK/base.raw" "$WORK/base.qcow2"
    rm -f "$WORK/base.raw"
    rm -rf "$ROOT"
    log "disk $(du -h "$WORK/base.qcow2" | cut -f1) qcow2 ($DISK_SIZE virtual)"
    trap - EXIT
    rm -rf "$OUT"
    mv "$WORK" "$OUT"
    echo "guest image ready in $OUT ($((SECONDS - START)) s)"
}

rm -rf "$WORK"
mkdir -p "$WORK"
exec 3>>"$WORK/build.log"
echo "downloads run with: ${OUTSIDE:-(this namespace)}" >&3

# 1. wheelhouse (host pip, root network namespace, cached by content key)
if [[ ! -d $WHEELHOUSE ]]; then
    constraint=()
    [[ -n $PIP_CONSTRAINTS ]] && constraint=(-c "$PIP_CONSTRAINTS")
    # shellcheck disable=SC2086
    $OUTSIDE "$HOST_PIP" wheel -q -w "$WHEELHOUSE.tmp" "${constraint[@]}" $PIP_PACKAGES >&3 2>&1 \
        || { tail -20 "$WORK/build.log"; exit 1; }
    mv "$WHEELHOUSE.tmp" "$WHEELHOUSE"
    log "wheelhouse $(find "$WHEELHOUSE" -maxdepth 1 -name '*.whl' | wc -l) wheels"
fi

# 2. rootfs: debootstrap once per suite, mirror and package list (the slow, download-bound
#    step; both lab guests share it), kept as a tarball beside the images
ROOTFS_TAR="$(dirname "$OUT")/rootfs-$(printf '%s\n' "$SUITE" "$MIRROR" "$PACKAGES" | sha256sum | cut -c1-16).tar"
if [[ -f $ROOTFS_TAR ]]; then
    mkdir -p "$ROOT"
    tar -C "$ROOT" --numeric-owner -xf "$ROOTFS_TAR"
    log "rootfs from $(basename "$ROOTFS_TAR")"
else
    # shellcheck disable=SC2086
    $OUTSIDE debootstrap --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" >&3 2>&1 \
        || { tail -20 "$WORK/build.log"; exit 1; }
    tar -C "$ROOT" --numeric-owner -cf "$ROOTFS_TAR.tmp" . && mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
    log "debootstrap $SUITE"
fi

# 3. configuration baked into the image
echo "$GUEST_HOSTNAME" > "$ROOT/etc/hostname"
cat > "$ROOT/etc/hosts" <<HOSTS
127.0.0.1 localhost
${GUEST_ADDRESS%/*} $GUEST_HOSTNAME
HOSTS
echo "/dev/vda / ext4 defaults,errors=remount-ro 0 1" > "$ROOT/etc/fstab"
: > "$ROOT/etc/resolv.conf"   # the lab network has no DNS and no route out
mkdir -p "$ROOT/etc/systemd/network"
cat > "$ROOT/etc/systemd/network/10-lab.network" <<NET
[Match]
Name=en* eth*

[Network]
Address=$GUEST_ADDRESS
Gateway=$GUEST_GATEWAY
LinkLocalAddressing=no
IPv6AcceptRA=no
NET
chroot "$ROOT" systemctl enable systemd-networkd.service >&3 2>&1
for unit in $MASK_UNITS; do chroot "$ROOT" systemctl mask "$unit" >&3 2>&1; done

# the host's apt and pip settings and CA certificates (the image is offline at run time,
# but a later, networked use of the image should behave like the host)
cp -a /etc/apt/apt.conf.d/. "$ROOT/etc/apt/apt.conf.d/" 2>/dev/null || true
[[ -f /etc/pip.conf ]] && cp /etc/pip.conf "$ROOT/etc/pip.conf"
[[ -d /etc/xdg/pip ]] && mkdir -p "$ROOT/etc/xdg" && cp -a /etc/xdg/pip "$ROOT/etc/xdg/"
if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
    cp -a /usr/local/share/ca-certificates/. "$ROOT/usr/local/share/ca-certificates/"
    chroot "$ROOT" update-ca-certificates >&3 2>&1
fi

# SSH: a key pair that belongs to this image, root login by key only
ssh-keygen -q -t ed25519 -N '' -C "acme-lab@$GUEST_HOSTNAME" -f "$WORK/id_ed25519"
install -d -m 0700 "$ROOT/root/.ssh"
install -m 0600 "$WORK/id_ed25519.pub" "$ROOT/root/.ssh/authorized_keys"
mkdir -p "$ROOT/etc/ssh/sshd_config.d"
printf 'PasswordAuthentication no\nPermitRootLogin prohibit-password\nUseDNS no\n' \
    > "$ROOT/etc/ssh/sshd_config.d/acme-lab.conf"
[[ -f $ROOT/etc/ssh/ssh_host_ed25519_key ]] || chroot "$ROOT" ssh-keygen -A >&3 2>&1
cp "$ROOT/etc/ssh/ssh_host_ed25519_key.pub" "$WORK/ssh_host_ed25519_key.pub"

# the service user (cinder-volume runs as it; on a compute host, the hypervisor's user)
chroot "$ROOT" useradd --system --user-group --home-dir "/var/lib/$GUEST_USER" --create-home \
    --shell /bin/false "$GUEST_USER" >&3 2>&1
log "configuration"

# 4. Cinder venv, in a chroot at native speed, from the wheelhouse only
mount --bind /proc "$ROOT/proc"
mkdir -p "$ROOT/tmp/wheels"
mount --bind -o ro "$WHEELHOUSE" "$ROOT/tmp/wheels"
# shellcheck disable=SC2086
chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root PIP_CONFIG_FILE=/dev/null \
    PIP_DISABLE_PIP_VERSION_CHECK=1 sh -ec "
        python3 -m venv $GUEST_VENV
        $GUEST_VENV/bin/pip install -q --no-index --find-links /tmp/wheels $PIP_PACKAGES
        $GUEST_VENV/bin/python -W ignore -c '$IMPORT_CHECK'
    " >&3 2>&1 || { tail -20 "$WORK/build.log"; exit 1; }
umount "$ROOT/tmp/wheels"
umount "$ROOT/proc"
rmdir "$ROOT/tmp/wheels"
chroot "$ROOT" "$GUEST_VENV/bin/pip" freeze > "$WORK/pip-freeze.txt" 2>&3
log "venv $GUEST_VENV: $(grep -iE '^(cinder|os-brick)==' "$WORK/pip-freeze.txt" | tr '\n' ' ')"

# os-brick and oslo.privsep run `sudo privsep-helper ...` when their root helper is plain sudo
# (e.g. as root): on sudo's secure_path, as distribution packages install it
ln -sf "$GUEST_VENV/bin/privsep-helper" "$ROOT/usr/local/bin/privsep-helper"
if [[ -z $CINDER_SERVICES ]]; then
    finish_disk
    exit 0
fi

# 5. what a distribution's Cinder packages would provide: /etc/cinder with the stock files,
#    rootwrap through sudo, state and log directories, systemd units (enabled, but they only
#    start once /etc/cinder/cinder.conf exists: the production roles write it)
install -d -m 0750 -g "$(chroot "$ROOT" id -g "$GUEST_USER")" "$ROOT/etc/cinder"
cp -a "$ROOT$GUEST_VENV/etc/cinder/." "$ROOT/etc/cinder/"
sed -i "s|^exec_dirs=|exec_dirs=$GUEST_VENV/bin,|" "$ROOT/etc/cinder/rootwrap.conf"
# on sudo's secure_path, as distribution packages install them
ln -sf "$GUEST_VENV/bin/cinder-rootwrap" "$ROOT/usr/local/bin/cinder-rootwrap"
cat > "$ROOT/etc/sudoers.d/cinder" <<SUDO
Defaults:$GUEST_USER !requiretty
$GUEST_USER ALL = (root) NOPASSWD: /usr/local/bin/cinder-rootwrap /etc/cinder/rootwrap.conf *
$GUEST_USER ALL = (root) NOPASSWD: /usr/local/bin/privsep-helper *
SUDO
chmod 0440 "$ROOT/etc/sudoers.d/cinder"
install -d -m 0750 -o "$(chroot "$ROOT" id -u "$GUEST_USER")" -g "$(chroot "$ROOT" id -g "$GUEST_USER")" \
    "$ROOT/var/log/cinder" "$ROOT/var/lib/cinder"
for svc in $CINDER_SERVICES; do
    cat > "$ROOT/etc/systemd/system/$svc.service" <<UNIT
[Unit]
Description=OpenStack Cinder ${svc#cinder-} (acme.nas lab image)
After=network-online.target
Wants=network-online.target
ConditionPathExists=/etc/cinder/cinder.conf

[Service]
Type=simple
User=$GUEST_USER
Group=$GUEST_USER
ExecStart=$GUEST_VENV/bin/$svc --config-file /etc/cinder/cinder.conf --log-file /var/log/cinder/$svc.log
Restart=on-failure
RestartSec=10

[Install]
WantedBy=multi-user.target
UNIT
    chroot "$ROOT" systemctl enable "$svc.service" >&3 2>&1
done
log "cinder host files: /etc/cinder, rootwrap, units ($CINDER_SERVICES)"

finish_disk
