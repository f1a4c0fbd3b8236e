#!/usr/bin/env bash
# Builds EMSYNC's two images with podman from the committed locks:
#   localhost/emsync-worker:VERSION  (infra/images/worker.Dockerfile)
#   localhost/emsync-triton:VERSION  (infra/images/triton.Dockerfile, model repository baked in at /models)
#
#   infra/images/build.sh [worker|triton]...    default both; prints the image names, one per line
#
# BASE_IMAGE (environment) is the base of both; default the local Debian base of infra/images/base.sh,
# made first when missing (these machines reach no image registry). With a registry, set
# BASE_IMAGE_WORKER=python:3.11.10-slim-bookworm / BASE_IMAGE_TRITON=nvcr.io/nvidia/tritonserver:24.08-py3
# (the Dockerfiles' defaults) or build with docker directly. Without PyTorch's CPU index, the folder of
# wheels in PIP_FIND_LINKS (default /opt/wheels) is lent to the build.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=infra/images/podman.sh
source "$REPO/infra/images/podman.sh"
cd "$REPO"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n1)"
base="${BASE_IMAGE:-}"
if [[ -z "$base" && ( -z "${BASE_IMAGE_WORKER:-}" || -z "${BASE_IMAGE_TRITON:-}" ) ]]; then
    base="$(bash infra/images/base.sh | tail -n1)"
fi

# What the build may read from this machine: the CPU torch wheel (PyTorch's CPU index, the Dockerfiles'
# default, is unreachable from some machines; the rest of the lock comes from PyPI, checked by hash).
lend=()
links="${PIP_FIND_LINKS:-/opt/wheels}"
if [[ -d "$links" ]]; then lend+=(-v "$links:/wheels:ro" --build-arg WHEELS_DIR=/wheels); fi
if ! curl -fsS -m 5 -o /dev/null https://download.pytorch.org/whl/cpu/ 2>/dev/null; then
    lend+=(--build-arg "EXTRA_INDEX_URL=")
fi
# A machine whose HTTPS goes through its own CA (pip.conf's `cert`) lends that bundle to pip and uv.
ca="$(sed -n 's/^cert *= *//p' /etc/pip.conf "$HOME/.config/pip/pip.conf" 2>/dev/null | tail -n1)"
if [[ -n "$ca" && -f "$ca" ]]; then
    lend+=(-v "$ca:/run/emsync-build-ca.crt:ro" --build-arg CA_BUNDLE=/run/emsync-build-ca.crt)
fi

targets=("$@"); (( ${#targets[@]} )) || targets=(worker triton)
for target in "${targets[@]}"; do
    case "$target" in
        worker) from="${BASE_IMAGE_WORKER:-$base}" ;;
        triton) from="${BASE_IMAGE_TRITON:-$base}" ;;
        *) echo "build.sh: unknown image $target (worker or triton)" >&2; exit 2 ;;
    esac
    image="localhost/emsync-$target:$version"
    start=$SECONDS
    echo "build.sh: building $image from $from" >&2
    # One working container, committed once: with the vfs driver every committed layer is a full copy of
    # the tree (several GB here), so per-step layers cost minutes and tens of GB. uv's download cache is a
    # cache mount, so a rebuild re-installs from it. EMSYNC_BUILD_LAYERS=true keeps per-step layers.
    pm build --network host --format docker --layers="${EMSYNC_BUILD_LAYERS:-false}" \
        -f "infra/images/$target.Dockerfile" --build-arg "BASE_IMAGE=$from" "${lend[@]}" -t "$image" . >&2
    pm image prune -f >/dev/null 2>&1 || true  # the previous build of this tag, now untagged
    echo "build.sh: $image built in $((SECONDS - start)) s" >&2
    echo "$image"
done
