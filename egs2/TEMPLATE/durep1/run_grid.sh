#!/usr/bin/env bash
set -euo pipefail
# An experiment grid (conf/grid.yaml of the recipe; schema in espnet_durep/bin/grid.py): every
# experiment trained from scratch on the same data with the same number of updates, once per
# seed, decoded in full-context mode (with each of its full_searches) and streaming at every
# --chunk_sizes, and scored with sclite. Each run is an experiment <name>_seed<seed> in
# --expdir, trained and decoded by the recipe's run.sh (stages 9-12, so every durep.sh option
# applies) and recorded in <tag>/grid_run.json (command, hardware, code commit, and the wall
# time summed over its attempts when it was killed and resumed). Its evidence
# (record, config, train.log, metrics and sclite summaries of every decoding, hypotheses) is
# then copied to --records_dir, a small directory meant to be committed: experiment directories
# are large and local, the records outlive them. A run recorded in either is skipped (a teacher
# recorded but without its checkpoint here is trained again when a student needs it) and a
# killed run resumes from its last checkpoint, so a grid can be run in parts:
#   ./run_grid.sh --only "full_only dual" --seeds 0
# After every run --results is regenerated from the records (python -m espnet_durep.bin.grid
# compare): the grid, the relative change of each experiment against its baselines, the runs.

. scripts/options.sh
durep_usage="Usage: $0 [options]   (runs the experiment grid of --spec)"
durep_opt spec conf/grid.yaml "grid spec (experiments, seeds, training options)"
durep_opt expdir exp_grid "experiment directory of the grid"
durep_opt dumpdir dump "directory of formatted audio lists (durep.sh --dumpdir)"
durep_opt records_dir grid_records "evidence of finished runs, kept under version control"
durep_opt results RESULTS_grid.md "comparison tables written from --records_dir at the end"
durep_opt only "" "space-separated experiments to run, with the teachers they need (empty: all)"
durep_opt seeds "" "space-separated seeds (empty: the spec's)"
durep_opt chunk_sizes "4 8 16" "streaming decoding chunks in encoder frames (40 ms each)"
durep_opt left_chunks "-1" "streaming left contexts in chunks (-1: unlimited)"
durep_opt run_args "" "extra options for run.sh / durep.sh of every run"
durep_parse_opts "$@"

log() { echo "$(date "+%Y-%m-%dT%H:%M:%S") (run_grid.sh) $*"; }
. ./path.sh
[ -f "${spec}" ] || { echo "ERROR: grid spec ${spec} not found" >&2; exit 1; }
mkdir -p "${expdir}"

# Data, tokens and feature statistics of the grid. No speed perturbation: a grid trades
# absolute accuracy for the number of runs.
if [ ! -f "${expdir}/stats/train/feats_stats.npz" ]; then
  log "stages 1-6 for ${expdir}"
  # shellcheck disable=SC2086  # extra options are split on purpose
  ./run.sh --speed_perturb_factors "" --expdir "${expdir}" --dumpdir "${dumpdir}" --stop_stage 6 ${run_args}
fi

plan_args=(--spec "${spec}")
# shellcheck disable=SC2206  # word lists on purpose
[ -z "${only}" ] || plan_args+=(--only ${only})
# shellcheck disable=SC2206
[ -z "${seeds}" ] || plan_args+=(--seeds ${seeds})
python3 -m espnet_durep.bin.grid plan "${plan_args[@]}" --expdir "${expdir}" --records "${records_dir}" \
  > "${expdir}/grid_plan.tsv"
hardware="$(uname -m), $(nproc --all) cores"
if grep -q -m1 "model name" /proc/cpuinfo 2>/dev/null; then
  hardware="$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc --all) cores"
fi

# the code a run uses: the commit, "+modified" when the package or conf/ differ from it (changed
# or new files)
code_version() {
  local top version=unknown
  if top="$(git rev-parse --show-toplevel 2>/dev/null)"; then
    version="$(git rev-parse --short=12 HEAD)"
    if ! git diff --quiet HEAD -- "${top}/espnet_durep" conf \
        || [ -n "$(git ls-files --others --exclude-standard -- "${top}/espnet_durep" conf)" ]; then
      version+="+modified"
    fi
  fi
  echo "${version}"
}

# the plan is read on fd 3, so that nothing a run starts can consume it from stdin
while IFS=$'\t' read -r -u 3 tag name seed config teacher train_args inference_config inference_model \
    full_searches; do
  opts=(--speed_perturb_factors "" --expdir "${expdir}" --dumpdir "${dumpdir}" --stage 9 --stop_stage 12 --seed "${seed}"
        --student_tag "${tag}" --student_config "${config}" --student_init_from_teacher false
        --decode_modes "full streaming" --chunk_sizes "${chunk_sizes}" --left_chunks "${left_chunks}")
  if [ "${teacher}" = - ]; then
    opts+=(--skip_teacher true)
  else
    opts+=(--skip_teacher false --teacher_tag "${teacher}" --teacher_decode false)
  fi
  [ "${train_args}" = - ] || opts+=(--student_args "${train_args}")
  [ "${inference_config}" = - ] || opts+=(--inference_config "${inference_config}")
  [ "${inference_model}" = - ] || opts+=(--inference_model "${inference_model}")
  [ "${full_searches}" = - ] || opts+=(--full_searches "${full_searches}")
  # shellcheck disable=SC2206  # extra options are split on purpose
  opts+=(${run_args})
  command="./run.sh$(printf ' %q' "${opts[@]}")"
  code="$(code_version)"
  log "${tag} (${name}, seed ${seed}, code ${code}): ${command}"
  # Wall time over every attempt of a run (a killed run resumes): each attempt's file in
  # <tag>/grid_attempts/ is named by its start time and holds the last time it was seen alive.
  attempts="${expdir}/${tag}/grid_attempts"
  mkdir -p "${attempts}"
  start=$(date +%s)
  # a failed write (disk full) must not end the heartbeat, nor its kill below end the grid
  ( while :; do date +%s > "${attempts}/${start}" || true; sleep 30; done ) &
  heartbeat=$!
  trap 'kill "${heartbeat}" 2>/dev/null || true' EXIT
  ./run.sh "${opts[@]}"
  kill "${heartbeat}" 2>/dev/null || true; wait "${heartbeat}" 2>/dev/null || true
  date +%s > "${attempts}/${start}"
  wall=0 n_attempts=0
  for f in "${attempts}"/*; do
    seen="$(cat "${f}")"  # empty only if an attempt was killed while writing it
    wall=$(( wall + ${seen:-$(basename "${f}")} - $(basename "${f}") )); n_attempts=$(( n_attempts + 1 ))
  done
  # the code at the end: a commit made while the run trained is what decoded it
  python3 - "${expdir}/${tag}/grid_run.json" "${command}" "${hardware}" "${wall}" "${code}" "$(code_version)" \
    "${n_attempts}" <<'EOF'
import datetime, json, sys
out, command, hardware, wall, code, code_at_end, attempts = sys.argv[1:]
record = {"command": command, "hardware": hardware, "wall_seconds": int(wall), "attempts": int(attempts),
          "code": code, "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
if code_at_end != code:
    record["code_at_end"] = code_at_end
open(out, "w", encoding="utf-8").write(json.dumps(record, indent=2) + "\n")
EOF
  log "${tag}: finished in $(( wall / 60 )) min $(( wall % 60 )) s"
  python3 -m espnet_durep.bin.grid archive --spec "${spec}" --expdir "${expdir}" --records "${records_dir}"
  # the table is current after every run, so that a grid stopped part-way leaves it up to date
  python3 -m espnet_durep.bin.grid compare --spec "${spec}" --expdir "${records_dir}" --out "${results}"
done 3< "${expdir}/grid_plan.tsv"
# also runs finished here whose archiving was interrupted
python3 -m espnet_durep.bin.grid archive --spec "${spec}" --expdir "${expdir}" --records "${records_dir}"

python3 -m espnet_durep.bin.grid compare --spec "${spec}" --expdir "${records_dir}" --out "${results}"
