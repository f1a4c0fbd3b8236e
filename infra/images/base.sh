#!/usr/bin/env bash
# Builds the local base image localhost/emsync-debian-base:bookworm from Debian's own packages
# (debootstrap, ~80 s), for machines that reach Debian's mirror but no image registry. Production builds
# use a registry base instead (BASE_IMAGE build argument of the Dockerfiles). Skips the work when the
# image exists; `--force` rebuilds it.
#   infra/images/base.sh [--force]      prints the image name as the last stdout line
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=infra/images/podman.sh
source "$HERE/podman.sh"
IMAGE="${EMSYNC_BASE_IMAGE_NAME:-localhost/emsync-debian-base:bookworm}"
if [[ "${1:-}" != "--force" ]] && pm image exists "$IMAGE"; then
    echo "$IMAGE"
    exit 0
fi
command -v debootstrap >/dev/null || { echo "base.sh: apt-get install debootstrap podman runc" >&2; exit 1; }
# The mirror the machine itself uses, so the image's apt-get reaches the same packages.
sources=/etc/apt/sources.list.d/debian.sources
mirror="$(sed -n 's/^URIs: *//p' "$sources" 2>/dev/null | head -n1)"
mirror="${mirror:-http://deb.debian.org/debian}"
rootfs="$(mktemp -d "$EMSYNC_PODMAN_DIR/rootfs.XXXXXX")"
# mktemp makes the folder 0700 and the tar below carries that onto the image's `/`: without 755 no non-root
# user in the images (USER 10001) can reach any file ("stat /bin/ls: permission denied").
chmod 755 "$rootfs"
trap 'rm -rf "$rootfs"' EXIT
echo "base.sh: debootstrap bookworm from $mirror" >&2
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$EMSYNC_PODMAN_DIR/debootstrap.log" 2>&1 \
    || { tail -n 20 "$EMSYNC_PODMAN_DIR/debootstrap.log" >&2; exit 1; }
[[ -f "$sources" ]] && { rm -f "$rootfs/etc/apt/sources.list"; cp "$sources" "$rootfs/etc/apt/sources.list.d/"; }
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | pm import --change 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
echo "$IMAGE"
