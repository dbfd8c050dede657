# shellcheck shell=bash
# Sourced by lab/bin/lab-up and lab/bin/lab-infra: the lab's paths and settings, the phase
# marks and ansible-playbook inside the namespace. Sets REPO, NS, STATE, CACHE, VENV, START.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NS="${ACME_LAB_NETNS:-acme-lab}"
STATE="${ACME_LAB_STATE:-$REPO/lab/state}"
CACHE="${ACME_LAB_CACHE:-$REPO/.cache/lab}"
VENV="$REPO/.venv"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$REPO/build}"
# the lab's roles by name (roles_path); molecule's stages use molecule's own ansible.cfg
export ANSIBLE_CONFIG="$REPO/lab/ansible.cfg"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}" ANSIBLE_NOCOLOR="${ANSIBLE_NOCOLOR:-1}"
# The lab's own tag: a build of localhost/acme-appliance:latest from another checkout (make test,
# molecule/appliance) must not replace the lab's image. podman_container compares the image's
# labels (acme.inputs, the hash of the simulator's sources) with the running container's: a
# replaced image made the next converge of the lab recreate the appliance container.
export ACME_LAB_IMAGE="${ACME_LAB_IMAGE:-localhost/acme-lab-appliance:latest}"
START=$SECONDS

phase() { # phase NAME: a mark in phases.log (the report's wall times) and on the output
    echo "$1 $(date +%s.%N)" >> "$STATE/phases.log"
    printf '== [lab %4ds] %s\n' "$((SECONDS - START))" "$1"
}

lab_playbook() { # lab_playbook PLAYBOOK: ansible-playbook inside the namespace, lab inventory
    # nsenter --net (not ip netns exec): /sys, and so podman's cgroups, stay visible
    # shellcheck disable=SC2086
    nsenter --net="/run/netns/$NS" "$VENV/bin/ansible-playbook" -i "$STATE/inventory.yml" \
        -e "acme_lab_netns=$NS" -e "acme_lab_state_dir=$STATE" -e "acme_lab_cache_dir=$CACHE" \
        ${ACME_LAB_ANSIBLE_ARGS:-} "$1"
}
