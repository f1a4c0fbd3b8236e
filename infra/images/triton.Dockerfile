# The EMSYNC Triton image: Triton Inference Server, the locked runtime (torch, emsync_models) and the
# project installed in one Python 3.11 virtualenv, and the model repository baked in at /models, so the
# python-backend models import the same code the workers run and load without anything mounted.
#
# BASE_IMAGE: NVIDIA's tritonserver image on GPU hosts (production; it brings CUDA and the driver
# libraries), or the local Debian base that infra/images/base.sh makes with debootstrap (machines without
# a registry). Either way the server and the python backend are the ones the nvidia-pytriton wheel of
# requirements-triton.lock ships (built for this Python; NVIDIA's image carries 3.10), started by
# `infra/triton.sh run`. Build from the repository root:
#   podman build -f infra/images/triton.Dockerfile -t emsync-triton:0.1.0 .
ARG BASE_IMAGE=nvcr.io/nvidia/tritonserver:24.08-py3
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# python3.11 and its shared libpython (the backend stub embeds it); curl for the healthcheck.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl python3.11 python3.11-venv libpython3.11 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/emsync-src
COPY requirements-triton.lock ./
COPY infra/lock/bootstrap.txt infra/lock/bootstrap.txt
ENV VIRTUAL_ENV=/opt/emsync PATH=/opt/emsync/bin:$PATH UV_LINK_MODE=copy
# Build arguments as in worker.Dockerfile, declared after the apt step so changing them does not redo it.
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
    uv pip install --require-hashes --no-deps $opts -r requirements-triton.lock
# The project in one layer (.dockerignore lets in only what the package needs), installed (not a checkout
# on a path): model.py imports it from this interpreter.
COPY . ./
RUN cp infra/triton.sh /opt/emsync/bin/emsync-triton \
 && pip install --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation . \
 && cp -r serving/model_repository /models \
 && cd / && rm -rf /opt/emsync-src \
 && useradd --create-home --uid 10001 emsync \
 && mkdir -p /var/lib/emsync-triton && chown emsync /var/lib/emsync-triton
WORKDIR /home/emsync
USER 10001
ENV EMSYNC_TRITON_REPOSITORY=/models \
    EMSYNC_TRITON_DIR=/var/lib/emsync-triton \
    PYTHON=/opt/emsync/bin/python \
    PYTHONUNBUFFERED=1
EXPOSE 8000 8002
HEALTHCHECK --interval=10s --timeout=5s --start-period=300s --retries=3 \
  CMD ["sh", "-c", "curl -fsS -o /dev/null http://127.0.0.1:${EMSYNC_TRITON_HTTP_PORT:-8000}/v2/health/ready"]
ENTRYPOINT ["emsync-triton", "run"]
