# The EMSYNC worker image: the package, its command line and the media tools the stages call, installed
# from the same hash-checked lock files as `make demo` (infra/install.sh), so production runs the tested program.
#
# BASE_IMAGE is any Debian bookworm image: python:3.11.10-slim-bookworm from a registry (production), or
# the local base that infra/images/base.sh makes with debootstrap (machines without a registry; then
# Debian's own python3.11 is installed). Build from the repository root:
#   podman build -f infra/images/worker.Dockerfile -t emsync-worker:0.1.0 .
ARG BASE_IMAGE=python:3.11.10-slim-bookworm
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
      ffmpeg fluidsynth timgm6mb-soundfont musescore-general-soundfont-small \
      $(command -v python3.11 >/dev/null || echo python3.11 python3.11-venv) \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock requirements-nodeps.lock ./
COPY infra/lock/bootstrap.txt infra/lock/bootstrap.txt
# One virtualenv on either base; uv (itself hash-checked) installs the locks without resolving anything.
ENV VIRTUAL_ENV=/opt/emsync PATH=/opt/emsync/bin:$PATH UV_LINK_MODE=copy
# torch is locked as the CPU build (2.13.0+cpu): its wheel comes from PyTorch's CPU index, checked by hash.
# Builds without that index pass indexes of their own (space-separated) and a folder of wheels (WHEELS_DIR).
# Declared after the apt step, so changing them does not redo it.
ARG EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG WHEELS_DIR=
# The CA bundle pip and uv trust (a build behind an HTTPS-inspecting proxy lends its own).
ARG CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
# uv's download cache is a build cache mount: kept between builds, never in the image.
RUN --mount=type=cache,target=/root/.cache/uv \
    set -e; export SSL_CERT_FILE="$CA_BUNDLE" PIP_CERT="$CA_BUNDLE"; \
    opts=""; for url in $EXTRA_INDEX_URL; do opts="$opts --extra-index-url $url"; done; \
    [ -z "$WHEELS_DIR" ] || opts="$opts --find-links $WHEELS_DIR"; \
    python3.11 -m venv /opt/emsync; \
    pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps -r infra/lock/bootstrap.txt; \
    uv pip install --require-hashes --no-deps $opts -r requirements.lock; \
    uv pip install --require-hashes --no-deps $opts -r requirements-nodeps.lock
# The project in one layer (.dockerignore lets in only what the package and prefect.yaml need).
COPY . ./
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation . \
 && rm -rf build *.egg-info \
 && useradd --create-home --uid 10001 emsync \
 && chown emsync /app
USER 10001
ENV EMSYNC_DATA_DIR=/home/emsync/.emsync \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1 \
    PYTHONUNBUFFERED=1
# Workers start with `prefect worker start --with-healthcheck`, which serves /health on 8080 and fails it
# when the worker stops polling; one-shot commands (db upgrade, deploy) exit before the first check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)"]
ENTRYPOINT ["emsync"]
