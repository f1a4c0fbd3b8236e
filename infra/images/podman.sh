#!/usr/bin/env bash
# Sourced by infra/images/*.sh and infra/smoke.sh: `pm ARGS...` is podman with the settings these
# machines need (see infra/README.md, "Images"): runc (crun fails on cgroups in hybrid mode), the vfs
# storage driver, cgroupfs, and a containers.conf without default ulimits (setting RLIMIT_NOFILE is
# refused here). Storage lives under $EMSYNC_PODMAN_DIR, outside the repository.
EMSYNC_PODMAN_DIR="${EMSYNC_PODMAN_DIR:-/var/tmp/emsync-podman}"
mkdir -p "$EMSYNC_PODMAN_DIR"
if [[ ! -f "$EMSYNC_PODMAN_DIR/containers.conf" ]]; then
    printf '[containers]\ndefault_ulimits = []\n' >"$EMSYNC_PODMAN_DIR/containers.conf"
fi
export CONTAINERS_CONF="$EMSYNC_PODMAN_DIR/containers.conf"
pm() {
    podman --root "$EMSYNC_PODMAN_DIR/storage" --runroot "$EMSYNC_PODMAN_DIR/run" \
        --storage-driver vfs --runtime runc --cgroup-manager cgroupfs "$@"
}
