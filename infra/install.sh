#!/usr/bin/env bash
# Installs everything EMSYNC needs on a fresh Debian machine: system packages, then a virtualenv in .venv
# built from the committed lock files (exact versions, SHA-256 hashes), so every install is the same program.
#   infra/install.sh          runtime (ffmpeg, FluidSynth, GM SoundFonts, requirements.lock)
#   infra/install.sh --triton runtime plus Triton (tritonserver and its python backend, from nvidia-pytriton;
#                             requirements-triton.lock): what `infra/triton.sh start` needs
#   infra/install.sh --dev    plus what the tests and training need (includes --triton) (PostgreSQL, Prometheus, Alertmanager,
#                             Chromium, MMA, Festival voices; requirements-dev.lock)
# Safe to re-run: every step checks before it acts. `make lock` refreshes the locks (infra/lock.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0; triton=0
case "${1:-}" in
  "") ;;
  --dev) dev=1 ;;
  --triton) triton=1 ;;
  *) echo "usage: $0 [--dev|--triton]" >&2; exit 2 ;;
esac

apt_pkgs=(ffmpeg fluidsynth timgm6mb-soundfont musescore-general-soundfont-small)
(( dev )) && apt_pkgs+=(postgresql prometheus prometheus-alertmanager chromium mma festival festvox-kallpc16k festvox-us-slt-hts
                        docker-compose)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if (( ${#missing[@]} )); then
  echo "installing Debian packages: ${missing[*]}"
  sudo_=""; [[ $(id -u) -ne 0 ]] && sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian enables and starts the packaged services; the tests start their own on loopback ports.
  for svc in prometheus prometheus-alertmanager prometheus-node-exporter; do
    $sudo_ systemctl disable --now "$svc" >/dev/null 2>&1 || $sudo_ service "$svc" stop >/dev/null 2>&1 || true
  done
fi

py=${PYTHON:-python3.11}
command -v "$py" >/dev/null || py=python3
[[ -x .venv/bin/python ]] || "$py" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
# Some machines list file:// package indexes that hold no folder for most names; pip warns once per name.
quiet_pip() { "${pip[@]}" "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2); }
lock=requirements.lock; (( triton )) && lock=requirements-triton.lock; (( dev )) && lock=requirements-dev.lock
# uv installs the locks (pip took ~13 minutes on two cores, uv under one); uv itself comes hash-checked.
quiet_pip --require-hashes --no-deps -r infra/lock/bootstrap.txt
# uv reads no pip.conf: the local folder that holds the CPU build of torch is passed on.
links=(); for d in ${PIP_FIND_LINKS:-} /opt/wheels; do [[ -d $d ]] && links+=(--find-links "$d"); done
# Compiled once here: where PYTHONDONTWRITEBYTECODE is set (as on our machines) every process would
# otherwise compile what it imports from source, 6 s or more on each CLI start.
uv_install=(.venv/bin/uv pip install --quiet --python .venv/bin/python --require-hashes --no-deps --compile-bytecode
            "${links[@]}")
# Hash-checked and without dependency resolution: the lock is the whole environment, nothing floats.
"${uv_install[@]}" -r "$lock"
# Packages we use only for files they ship (weights, lexicons), locked too, installed without their deps.
"${uv_install[@]}" -r requirements-nodeps.lock
quiet_pip --no-deps --no-build-isolation -e .
# `pip check` would flag the no-deps packages' unmet (unused) requirements; the lock check lives in the tests.
echo "EMSYNC installed in .venv ($(.venv/bin/python --version), from $lock)"
