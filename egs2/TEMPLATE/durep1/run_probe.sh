#!/usr/bin/env bash
set -euo pipefail
# Layer probes of trained models (what each encoder layer holds, in each mode): for every
# --models experiment, extract every layer's representations of --data_set in full-context
# mode and streaming at each --chunk_sizes (python -m espnet_durep.bin.extract_feats, the
# incremental path), then train per-layer and weighted-sum probes on them
# (python -m espnet_durep.bin.probe_layers: speaker, gender, age group, CTC characters, as
# far as the data directory has the files). Output per model: <model>/probe_<set>/probe.md,
# probe.png and probe.json; features in <model>/feats_<set>_<mode>/. With --compare_dir, one
# more report probes every model's features side by side (curves <model>_<mode>), e.g. a
# distilled model against the same model trained without KD:
#   ./run_probe.sh --models "exp_grid/dual_seed0 exp_grid/dual_teacher_seed0" --data_set test \
#     --compare_dir exp_grid/probe_test_dual_vs_dual_teacher

. scripts/options.sh
durep_usage="Usage: $0 --models \"EXP ...\" [options]"
durep_opt models "" "space-separated experiment directories (config.yaml + model file)"
durep_opt model_file "" "model file in each experiment (empty: the best one found)"
durep_opt data_set test "data/<set> to extract and probe (utt2spk; spk2gender, spk2age, text if present)"
durep_opt chunk_sizes "8 16" "streaming chunks in encoder frames (40 ms each)"
durep_opt num_left_chunks -1 "streaming left context in chunks (-1: unlimited)"
durep_opt layers all "layers to extract: all, or comma-separated block numbers"
durep_opt epochs 20 "probe training epochs"
durep_opt dumpdir dump "directory of formatted audio lists (wav.scp of --data_set)"
durep_opt compare_dir "" "also probe all models' features together into this directory (empty: no)"
durep_parse_opts "$@"

log() { echo "$(date "+%Y-%m-%dT%H:%M:%S") (run_probe.sh) $*"; }
. ./path.sh
[ -n "${models}" ] || { echo "ERROR: --models is required (see --help)" >&2; exit 2; }
data="data/${data_set}"
audio="${dumpdir}/raw/${data_set}"
[ -f "${audio}/wav.scp" ] || { echo "ERROR: ${audio}/wav.scp not found: run the recipe's stages 1-3" >&2; exit 1; }
[ -f "${data}/utt2spk" ] || { echo "ERROR: ${data}/utt2spk not found" >&2; exit 1; }
# labels from the data directory, audio from the dump (formatted at the model's rate)
labels="$(mktemp -d)"
trap 'rm -rf "${labels}"' EXIT
cp "${audio}/wav.scp" "${labels}/wav.scp"
for f in utt2spk spk2gender spk2age text; do
  if [ -f "${data}/${f}" ]; then cp "${data}/${f}" "${labels}/${f}"; fi
done

compare_args=()
for model in ${models}; do
  [ -f "${model}/config.yaml" ] || { echo "ERROR: ${model}/config.yaml not found" >&2; exit 1; }
  file_args=()
  [ -z "${model_file}" ] || file_args=(--model_file "${model_file}")
  feats_args=()
  settings=("full:full" )
  for c in ${chunk_sizes}; do settings+=("streaming${c}:streaming:${c}"); done
  for s in "${settings[@]}"; do
    IFS=: read -r name mode chunk <<< "${s}"
    out="${model}/feats_${data_set}_${name}"
    mode_args=(--mode "${mode}")
    [ "${mode}" = full ] || mode_args+=(--chunk_size "${chunk}" --num_left_chunks "${num_left_chunks}")
    log "${model}: extracting ${name} -> ${out}"
    python3 -m espnet_durep.bin.extract_feats --model_dir "${model}" "${file_args[@]}" --data_dir "${labels}" \
      --output_dir "${out}" --layers "${layers}" "${mode_args[@]}"
    label="${name}"
    if [ "${mode}" = streaming ]; then
      label="streaming$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['chunk_ms']))" \
        "${out}/feats.json")ms"
    fi
    feats_args+=(--feats "${label}=${out}")
    compare_args+=(--feats "$(basename "${model}")_${label}=${out}")
  done
  log "${model}: probes"
  python3 -m espnet_durep.bin.probe_layers "${feats_args[@]}" --data_dir "${labels}" \
    --output_dir "${model}/probe_${data_set}" --epochs "${epochs}"
  log "${model}: wrote ${model}/probe_${data_set}/probe.md"
done

if [ -n "${compare_dir}" ]; then
  log "all models side by side -> ${compare_dir}"
  python3 -m espnet_durep.bin.probe_layers "${compare_args[@]}" --data_dir "${labels}" \
    --output_dir "${compare_dir}" --epochs "${epochs}"
  log "wrote ${compare_dir}/probe.md"
fi
