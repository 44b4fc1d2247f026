# Environment of a recipe (sourced by durep.sh and local/data.sh from the recipe directory):
# the repository's virtualenv, NIST sclite, and the recipe helper scripts on PYTHONPATH.
durep_root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../.." && pwd)"
if [ ! -f "${durep_root}/tools/venv/bin/activate" ]; then
  echo "ERROR: ${durep_root}/tools/venv not found; run ${durep_root}/tools/setup.sh first" >&2
  return 1
fi
# shellcheck disable=SC1091
. "${durep_root}/tools/venv/bin/activate"
export PATH="${PATH}:/usr/lib/sctk/bin"
export PYTHONPATH="${PWD}/scripts${PYTHONPATH:+:${PYTHONPATH}}"
export PYTHONIOENCODING=UTF-8
# One thread per process: parallelism comes from --nj / --inference_nj jobs.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
