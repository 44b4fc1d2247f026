#!/usr/bin/env bash
# Install everything espnet_durep needs on a fresh Debian/Ubuntu machine (idempotent):
#   1. Debian packages: sox, flac (audio tools) and sctk (NIST sclite, used for scoring)
#   2. tools/venv: a Python 3.11 virtualenv with this package installed editable and
#      its pinned stack (torch 2.12.1, torchaudio 2.11.0, espnet 202511; see setup.py)
# Re-running is fast: each step is skipped when already satisfied.
#   usage: tools/setup.sh [--no-apt]
set -euo pipefail

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(dirname "${tools_dir}")"
venv="${tools_dir}/venv"
python="${PYTHON:-python3.11}"
use_apt=true
[ "${1:-}" = "--no-apt" ] && use_apt=false

log() { echo "[setup] $*"; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }

# -- 1. Debian packages ------------------------------------------------------------------
need_pkgs=()
command -v sox >/dev/null 2>&1 || need_pkgs+=(sox)
command -v flac >/dev/null 2>&1 || need_pkgs+=(flac)
[ -x /usr/lib/sctk/bin/sclite ] || command -v sclite >/dev/null 2>&1 || need_pkgs+=(sctk)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if ! ${use_apt}; then
    die "missing Debian packages: ${need_pkgs[*]} (install them: apt-get install ${need_pkgs[*]})"
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root or sudo to install: ${need_pkgs[*]}"
    sudo="sudo"
  fi
  log "installing Debian packages: ${need_pkgs[*]}"
  ${sudo} apt-get update -qq
  DEBIAN_FRONTEND=noninteractive ${sudo} apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
else
  log "Debian packages present: sox, flac, sctk"
fi

# -- 2. virtualenv -----------------------------------------------------------------------
command -v "${python}" >/dev/null 2>&1 || die "${python} not found; espnet 202511 needs Python 3.11 (set PYTHON=...)"
if [ ! -x "${venv}/bin/python" ]; then
  log "creating ${venv}"
  "${python}" -m venv "${venv}"
fi
stamp="${venv}/.espnet_durep_installed"
want="$(sha256sum "${repo_dir}/setup.py" | cut -d' ' -f1)"
if [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${want}" ]; then
  log "python packages up to date (${venv})"
else
  log "installing python packages into ${venv} (first time: a few minutes)"
  "${venv}/bin/python" -m pip install -q --upgrade "pip<26" "setuptools<74" wheel
  "${venv}/bin/python" -m pip install -q -e "${repo_dir}[test]"
  echo "${want}" > "${stamp}"
fi
"${venv}/bin/python" -c "import espnet_durep, torch, torchaudio, espnet; print('[setup] ok: torch', torch.__version__, 'torchaudio', torchaudio.__version__, 'espnet', espnet.__version__)"
