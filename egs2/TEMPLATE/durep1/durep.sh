#!/usr/bin/env bash
# Dual-mode (streaming + full-context) ASR recipe: data, teacher, distilled dual-mode
# student, decoding in every mode, sclite scoring, RESULTS.md and a packed model.
#
# Run from a recipe directory (egs2/<corpus>/durep1) whose run.sh passes the corpus
# settings; that directory provides path.sh, cmd.sh, db.sh, local/data.sh, conf/ and the
# symlinks durep.sh and scripts/. See --help for every option and stage.
set -euo pipefail
# The whole script is one { ... } block: bash parses it completely before running it, so
# editing durep.sh (or pulling a new version) while a recipe runs cannot break that run.
{

log() { echo "$(date "+%Y-%m-%dT%H:%M:%S") (durep.sh) $*"; }
die() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (durep.sh) ERROR: $*" >&2; exit 1; }

# shellcheck source=scripts/options.sh
. scripts/options.sh
durep_usage="Usage: $0 --train_set SET --valid_set SET --test_sets \"SET ...\" [options]

Stages:
   1 data preparation (local/data.sh)          8 teacher decoding (optional; full by default)
   2 speed perturbation (sox, optional)        9 dual-mode student training with the teacher
   3 format audio, utt2num_samples, checks    10 student decoding: every mode x chunk x left
   4 filter too short/long train/valid utts   11 sclite scoring (WER, and CER if asked)
   5 token list (sentencepiece or chars)      12 RESULTS.md
   6 feature statistics (parallel, merged)    13 packed model zip
   7 teacher training (full context)"

durep_opt stage 1 "first stage to run"
durep_opt stop_stage 13 "last stage to run"
durep_opt ngpu 0 "GPUs for training; >1 uses ESPnet's DDP on this node (--multiprocessing_distributed true)"
durep_opt train_threads 1 "CPU threads of a training job (OMP_NUM_THREADS); decoding and data jobs keep 1 each"
durep_opt seed 0 "random seed of training (ESPnet's --seed)"
durep_opt nj 4 "parallel jobs for data preparation and statistics"
durep_opt inference_nj 4 "parallel decoding jobs per test set"
durep_opt inference_ngpu 0 "GPUs per decoding job"
durep_opt expdir exp "experiment directory"
durep_opt dumpdir dump "directory of formatted audio lists"
durep_opt train_set "" "training data set (data/<name>)"
durep_opt valid_set "" "validation data set (data/<name>), used for model selection"
durep_opt test_sets "" "space-separated evaluation data sets (data/<name>)"
durep_opt local_data_opts "" "options passed to local/data.sh"
durep_opt fs 16000 "sample rate in Hz; other rates are converted with sox in stage 3"
durep_opt speed_perturb_factors "" "speed perturbation factors for training, e.g. \"0.9 1.0 1.1\" (empty: off)"
durep_opt min_wav_duration 0.1 "stage 4: shortest training/validation utterance kept (s)"
durep_opt max_wav_duration 20 "stage 4: longest training/validation utterance kept (s)"
durep_opt token_type bpe "bpe (sentencepiece) or char"
durep_opt nbpe 30 "sentencepiece vocabulary size"
durep_opt bpemode unigram "sentencepiece model type: unigram or bpe"
durep_opt teacher_config "" "training YAML of the full-context teacher"
durep_opt student_config "" "training YAML of the dual-mode student"
durep_opt inference_config "" "decoding YAML passed to durep_inference --config (empty: its defaults)"
durep_opt teacher_args "" "extra options for teacher training (e.g. \"--max_epoch 10\")"
durep_opt student_args "" "extra options for student training"
durep_opt student_init_from_teacher false "true: the student starts from the teacher's weights (same architecture; ESPnet's --init_param)"
durep_opt inference_args "" "extra options for durep_inference"
durep_opt teacher_tag teacher "teacher experiment name (<expdir>/<tag>)"
durep_opt student_tag student "student experiment name (<expdir>/<tag>)"
durep_opt skip_teacher false "true: no teacher (stages 7-8 skipped, student trained without distillation)"
durep_opt teacher_decode true "run stage 8 (decode the teacher)"
durep_opt teacher_decode_modes full "stage 8: decoding modes of the teacher, full and/or streaming (for a teacher that streams)"
durep_opt inference_model valid.acc.ave.pth "model file (in the experiment directory) used for decoding, distillation and packing"
durep_opt decode_modes "full streaming" "decoding modes of the student: full and/or streaming"
durep_opt chunk_sizes "16" "streaming chunk sizes in encoder frames (e.g. \"4 8 16\")"
durep_opt left_chunks "-1" "streaming left contexts in chunks (-1: unlimited)"
durep_opt full_searches "" "full-context decoding searches, one decode_full_<search> dir each, e.g. \"attention_rescoring joint\" (empty: the decoding config's full_search in decode_full)"
durep_opt score_wer true "score word error rate"
durep_opt score_cer false "score character error rate"
durep_opt feats_normalize global_mvn "feature normalisation: global_mvn (stats from stage 6) or as in the config"
durep_opt speech_fold_length 80000 "ESPnet --fold_length of speech (samples) for folded batches"
durep_opt text_fold_length 150 "ESPnet --fold_length of text (tokens) for folded batches"
durep_parse_opts "$@"

for f in path.sh cmd.sh; do
  [ -f "${f}" ] || die "${f} not found: run durep.sh from a recipe directory (egs2/<corpus>/durep1)"
done
. ./path.sh
. ./cmd.sh

[ -n "${train_set}" ] || die "--train_set is required (see --help)"
[ -n "${valid_set}" ] || die "--valid_set is required (see --help)"
[ -n "${test_sets}" ] || die "--test_sets is required (see --help)"
for t in ${test_sets}; do
  if [ "${t}" = "${train_set}" ] || [ "${t}" = "${valid_set}" ]; then
    die "test set '${t}' is also the training or validation set; give the validation set its own data dir"
  fi
done
for m in ${decode_modes}; do
  case "${m}" in full|streaming) ;; *) die "--decode_modes: unknown mode '${m}' (full, streaming)" ;; esac
done
for m in ${teacher_decode_modes}; do
  case "${m}" in full|streaming) ;; *) die "--teacher_decode_modes: unknown mode '${m}' (full, streaming)" ;; esac
done
for s in ${full_searches}; do
  case "${s}" in joint|attention_rescoring|ctc_prefix_beam|ctc_greedy) ;;
    *) die "--full_searches: unknown search '${s}' (joint, attention_rescoring, ctc_prefix_beam, ctc_greedy)" ;; esac
done
case "${token_type}" in bpe|char) ;; *) die "--token_type must be bpe or char, got '${token_type}'" ;; esac
[ "${score_wer}" = true ] || [ "${score_cer}" = true ] || die "--score_wer and --score_cer are both false"

launch=(python3 scripts/launch.py)
python=python3
train_sp="${train_set}"
[ -n "${speed_perturb_factors}" ] && train_sp="${train_set}_sp"
stats_dir="${expdir}/stats"
stage_logs="${expdir}/log"
if [ "${token_type}" = bpe ]; then
  token_dir="data/token_list/bpe_${bpemode}${nbpe}"
  token_args=(--token_type bpe --bpemodel "${token_dir}/bpe.model" --token_list "${token_dir}/tokens.txt")
else
  token_dir="data/token_list/char"
  token_args=(--token_type char --bpemodel none --token_list "${token_dir}/tokens.txt")
fi
teacher_dir="${expdir}/${teacher_tag}"
student_dir="${expdir}/${student_tag}"
models=()
[ "${skip_teacher}" = true ] || models+=("${teacher_tag}")
models+=("${student_tag}")

# run_logged [--gpu N] [JOB=1:N] LOG COMMAND...: run COMMAND through the job runner
# (scripts/launch.py, backend from cmd.sh) with its output in LOG; show the last lines of
# a single job's output; on failure stop the recipe naming the log.
run_logged() {
  local opts=() log_file
  if [ "$1" = --gpu ]; then opts+=("$1" "$2"); shift 2; fi
  if [[ "$1" == JOB=* ]]; then opts+=("$1"); shift; fi
  log_file="$1"; shift
  log "running: $*"
  log "  log: ${log_file}"
  "${launch[@]}" "${opts[@]}" "${log_file}" "$@" || die "stage ${current_stage} failed, see ${log_file}"
  if [[ "${log_file}" != *JOB* ]]; then
    grep -v '^# ' "${log_file}" | tail -n 3 | sed 's/^/    /' || true
  fi
}

# num_lines FILE: number of lines.
num_lines() { wc -l < "$1" | tr -d ' '; }

# min A B
min() { if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi; }

# format_set SRC_DIR DST_DIR: stage 3 for one data dir, in parallel parts.
format_set() {
  local src="$1" dst="$2" n
  n=$(min "${nj}" "$(num_lines "${src}/text")")
  rm -rf "${dst}"
  run_logged JOB=1:"${n}" "${stage_logs}/format_$(basename "${dst}").JOB.log" \
    ${python} scripts/format_audio.py part "${src}" "${dst}" --fs "${fs}" --job JOB --num_jobs "${n}"
  run_logged "${stage_logs}/format_$(basename "${dst}").log" ${python} scripts/format_audio.py merge "${src}" "${dst}" --num_jobs "${n}" --fs "${fs}"
}

# train_model DIR CONFIG EXTRA_ARGS TEACHER_DIR: stages 7 and 9 (TEACHER_DIR empty: no teacher).
train_model() {
  local dir="$1" config="$2" extra="$3" teacher="$4" dist_args=() teacher_args_=() norm_args=()
  [ -f "${config}" ] || die "training config not found: ${config}"
  [ -f "${stats_dir}/train/feats_stats.npz" ] || die "no feature statistics in ${stats_dir}: run stage 6"
  if [ -n "${teacher}" ]; then
    [ -f "${teacher}/config.yaml" ] && [ -f "${teacher}/${inference_model}" ] || \
      die "teacher model ${teacher}/${inference_model} not found: run stage 7 or pass --skip_teacher true"
    teacher_args_=(--teacher_asr_train_config "${teacher}/config.yaml"
                   --teacher_asr_model_file "${teacher}/${inference_model}")
  fi
  [ "${ngpu}" -gt 1 ] && dist_args=(--multiprocessing_distributed true)
  [ "${feats_normalize}" = global_mvn ] && \
    norm_args=(--normalize global_mvn --normalize_conf "stats_file=${stats_dir}/train/feats_stats.npz")
  mkdir -p "${dir}"
  # a resumed run keeps the log of every earlier attempt: train.log -> train.1.log, train.2.log, ...
  if [ -f "${dir}/train.log" ]; then
    local attempt=1
    while [ -e "${dir}/train.${attempt}.log" ]; do attempt=$((attempt + 1)); done
    mv "${dir}/train.log" "${dir}/train.${attempt}.log"
    log "  earlier attempt's log kept as ${dir}/train.${attempt}.log"
  fi
  # shellcheck disable=SC2086  # extra options are split on purpose
  run_logged --gpu "${ngpu}" "${dir}/train.log" \
    env OMP_NUM_THREADS="${train_threads}" ${python} -m espnet_durep.bin.durep_train \
      --use_preprocessor true "${token_args[@]}" "${norm_args[@]}" \
      --train_data_path_and_name_and_type "${dumpdir}/raw/${train_sp}/wav.scp,speech,sound" \
      --train_data_path_and_name_and_type "${dumpdir}/raw/${train_sp}/text,text,text" \
      --valid_data_path_and_name_and_type "${dumpdir}/raw/${valid_set}/wav.scp,speech,sound" \
      --valid_data_path_and_name_and_type "${dumpdir}/raw/${valid_set}/text,text,text" \
      --train_shape_file "${stats_dir}/train/speech_shape" --train_shape_file "${stats_dir}/train/text_shape" \
      --valid_shape_file "${stats_dir}/valid/speech_shape" --valid_shape_file "${stats_dir}/valid/text_shape" \
      --fold_length "${speech_fold_length}" --fold_length "${text_fold_length}" \
      --resume true --output_dir "${dir}" --config "${config}" --ngpu "${ngpu}" --seed "${seed}" \
      "${dist_args[@]}" "${teacher_args_[@]}" ${extra}
  [ -f "${dir}/${inference_model}" ] || \
    die "training finished but ${dir}/${inference_model} is missing (found: $(cd "${dir}" && ls -- *.pth 2>/dev/null | tr '\n' ' ')); set --inference_model"
}

# decode_tag MODE CHUNK LEFT SEARCH: directory name of a decoding setting (SEARCH "-": the
# decoding config's search, no suffix).
decode_tag() {
  local suffix=""
  [ "$4" = - ] || suffix="_$4"
  if [ "$1" = full ]; then echo "decode_full${suffix}"; else echo "decode_streaming_chunk$2_left$3"; fi
}

# decode_settings MODES: "mode chunk left search" lines of the grid (full mode once per
# --full_searches entry).
decode_settings() {
  local m c l s
  for m in $1; do
    if [ "${m}" = full ]; then
      for s in ${full_searches:--}; do echo "full 0 -1 ${s}"; done
      continue
    fi
    for c in ${chunk_sizes}; do for l in ${left_chunks}; do echo "streaming ${c} ${l} -"; done; done
  done
}

# decode_model DIR MODES: decode every test set with every setting, merge job outputs.
decode_model() {
  local model_dir="$1" modes="$2" mode chunk left search test_set dir logdir n f mode_args
  [ -f "${model_dir}/${inference_model}" ] || die "model not found: ${model_dir}/${inference_model}"
  [ -z "${inference_config}" ] || [ -f "${inference_config}" ] || die "decoding config not found: ${inference_config}"
  while read -r mode chunk left search; do
    mode_args=(--decode_mode "${mode}" --num_left_chunks "${left}")
    [ "${mode}" = streaming ] && mode_args+=(--chunk_size "${chunk}")
    [ "${search}" = - ] || mode_args+=(--full_search "${search}")
    for test_set in ${test_sets}; do
      dir="${model_dir}/$(decode_tag "${mode}" "${chunk}" "${left}" "${search}")/${test_set}"
      logdir="${dir}/logdir"
      rm -rf "${dir}"; mkdir -p "${logdir}"
      n=$(min "${inference_nj}" "$(num_lines "${dumpdir}/raw/${test_set}/wav.scp")")
      ${python} scripts/split_scp.py "${dumpdir}/raw/${test_set}/wav.scp" \
        $(for j in $(seq "${n}"); do echo "${logdir}/keys.${j}.scp"; done)
      # shellcheck disable=SC2086
      run_logged --gpu "${inference_ngpu}" JOB=1:"${n}" "${logdir}/decode.JOB.log" \
        ${python} -m espnet_durep.bin.durep_inference \
          --asr_train_config "${model_dir}/config.yaml" --asr_model_file "${model_dir}/${inference_model}" \
          --data_path_and_name_and_type "${dumpdir}/raw/${test_set}/wav.scp,speech,sound" \
          --key_file "${logdir}/keys.JOB.scp" --output_dir "${logdir}/output.JOB" \
          --ref_text "${dumpdir}/raw/${test_set}/text" \
          --ngpu "${inference_ngpu}" "${mode_args[@]}" \
          ${inference_config:+--config "${inference_config}"} ${inference_args}
      mkdir -p "${dir}/1best_recog"
      for f in text token token_int score token_times; do
        if [ -f "${logdir}/output.1/1best_recog/${f}" ]; then
          cat "${logdir}"/output.*/1best_recog/"${f}" | LC_ALL=C sort > "${dir}/1best_recog/${f}"
        fi
      done
      cat "${logdir}"/output.*/failed_utts > "${dir}/failed_utts"
      if [ "$(num_lines "${dir}/failed_utts")" -ge "$(num_lines "${dumpdir}/raw/${test_set}/wav.scp")" ]; then
        die "no utterance of ${test_set} could be decoded in ${dir}; the reason for each is in ${dir}/failed_utts"
      fi
      if [ -s "${dir}/failed_utts" ]; then
        log "WARNING: $(num_lines "${dir}/failed_utts") utterances could not be decoded (empty hypotheses), see ${dir}/failed_utts"
      fi
      { grep -hv '^#' "${logdir}"/output.*/timing || true; } | LC_ALL=C sort > "${dir}/timing"
      run_logged "${logdir}/merge_metrics.log" ${python} -m espnet_durep.bin.make_results merge_metrics \
        "${dir}/metrics.json" "${logdir}"/output.*/metrics.json
      log "decoded ${dir}"
    done
  done < <(decode_settings "${modes}")
}

# score_model DIR MODES: sclite scoring of every decoding of a model.
score_model() {
  local model_dir="$1" modes="$2" mode chunk left search test_set dir
  while read -r mode chunk left search; do
    for test_set in ${test_sets}; do
      dir="${model_dir}/$(decode_tag "${mode}" "${chunk}" "${left}" "${search}")/${test_set}"
      [ -f "${dir}/1best_recog/text" ] || die "no decoding output ${dir}/1best_recog/text: run the decoding stage"
      if [ "${score_wer}" = true ]; then
        run_logged "${dir}/score_wer.log" scripts/score_sclite.sh --unit word \
          "${dumpdir}/raw/${test_set}/text" "${dir}/1best_recog/text" "${dumpdir}/raw/${test_set}/utt2spk" "${dir}/score_wer"
      fi
      if [ "${score_cer}" = true ]; then
        run_logged "${dir}/score_cer.log" scripts/score_sclite.sh --unit char \
          "${dumpdir}/raw/${test_set}/text" "${dir}/1best_recog/text" "${dumpdir}/raw/${test_set}/utt2spk" "${dir}/score_cer"
      fi
    done
  done < <(decode_settings "${modes}")
}

mkdir -p "${stage_logs}"
current_stage=0
stage_started=0
# begin_stage N: close the running stage (its wall time goes to <expdir>/log/stage_times.tsv,
# "<stage>\t<seconds>\t<date>", read by RESULTS.md) and start stage N (0: none).
begin_stage() {
  local now
  now=$(date +%s)
  if [ "${current_stage}" -gt 0 ]; then
    printf '%s\t%s\t%s\n' "${current_stage}" "$((now - stage_started))" "$(date -Iseconds)" \
      >> "${stage_logs}/stage_times.tsv"
  fi
  current_stage="$1"; stage_started="${now}"
}

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
  begin_stage 1
  log "Stage 1: data preparation (local/data.sh ${local_data_opts})"
  # shellcheck disable=SC2086
  run_logged "${stage_logs}/data.log" local/data.sh ${local_data_opts}
  for d in "${train_set}" "${valid_set}" ${test_sets}; do
    run_logged "${stage_logs}/validate_${d}.log" ${python} scripts/kaldi_dir.py validate "data/${d}"
  done
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ] && [ -n "${speed_perturb_factors}" ]; then
  begin_stage 2
  log "Stage 2: speed perturbation of ${train_set} by ${speed_perturb_factors}"
  n=$(min "${nj}" "$(num_lines "data/${train_set}/text")")
  run_logged JOB=1:"${n}" "${stage_logs}/speed_perturb.JOB.log" \
    ${python} scripts/speed_perturb.py audio "data/${train_set}" "data/${train_sp}" \
      --factors "${speed_perturb_factors}" --job JOB --num_jobs "${n}"
  run_logged "${stage_logs}/speed_perturb.log" ${python} scripts/speed_perturb.py data "data/${train_set}" "data/${train_sp}" \
    --factors "${speed_perturb_factors}"
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
  begin_stage 3
  log "Stage 3: format audio into ${dumpdir}/raw (utt2num_samples, every file opened)"
  format_set "data/${train_sp}" "${dumpdir}/raw/org/${train_sp}"
  format_set "data/${valid_set}" "${dumpdir}/raw/org/${valid_set}"
  for t in ${test_sets}; do format_set "data/${t}" "${dumpdir}/raw/${t}"; done
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
  begin_stage 4
  log "Stage 4: keep training/validation utterances of ${min_wav_duration}-${max_wav_duration} s"
  for d in "${train_sp}" "${valid_set}"; do
    run_logged "${stage_logs}/filter_${d}.log" ${python} scripts/filter_utts.py "${dumpdir}/raw/org/${d}" "${dumpdir}/raw/${d}" \
      --fs "${fs}" --min_duration "${min_wav_duration}" --max_duration "${max_wav_duration}"
  done
fi

if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
  begin_stage 5
  log "Stage 5: ${token_type} token list from data/${train_set}/text"
  run_logged "${stage_logs}/tokens.log" ${python} scripts/make_tokens.py --token_type "${token_type}" --nbpe "${nbpe}" \
    --bpemode "${bpemode}" "data/${train_set}/text" "${token_dir}"
fi

if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 6 ]; then
  begin_stage 6
  config="${teacher_config}"
  [ "${skip_teacher}" = true ] && config="${student_config}"
  [ -f "${config}" ] || die "training config not found: '${config}' (--teacher_config / --student_config)"
  log "Stage 6: feature statistics with ${config} into ${stats_dir}"
  logdir="${stats_dir}/logdir"
  rm -rf "${stats_dir}"; mkdir -p "${logdir}"
  n=$(min "${nj}" "$(min "$(num_lines "${dumpdir}/raw/${train_sp}/wav.scp")" "$(num_lines "${dumpdir}/raw/${valid_set}/wav.scp")")")
  for d in train valid; do
    src="${dumpdir}/raw/${train_sp}/wav.scp"; [ "${d}" = valid ] && src="${dumpdir}/raw/${valid_set}/wav.scp"
    ${python} scripts/split_scp.py "${src}" $(for j in $(seq "${n}"); do echo "${logdir}/${d}.${j}.scp"; done)
  done
  run_logged JOB=1:"${n}" "${logdir}/stats.JOB.log" \
    ${python} -m espnet_durep.bin.durep_train --collect_stats true --ngpu 0 --normalize none \
      --use_preprocessor true "${token_args[@]}" \
      --train_data_path_and_name_and_type "${dumpdir}/raw/${train_sp}/wav.scp,speech,sound" \
      --train_data_path_and_name_and_type "${dumpdir}/raw/${train_sp}/text,text,text" \
      --valid_data_path_and_name_and_type "${dumpdir}/raw/${valid_set}/wav.scp,speech,sound" \
      --valid_data_path_and_name_and_type "${dumpdir}/raw/${valid_set}/text,text,text" \
      --train_shape_file "${logdir}/train.JOB.scp" --valid_shape_file "${logdir}/valid.JOB.scp" \
      --output_dir "${logdir}/stats.JOB" --config "${config}"
  run_logged "${logdir}/aggregate.log" ${python} -m espnet2.bin.aggregate_stats_dirs \
    $(for j in $(seq "${n}"); do echo --input_dir "${logdir}/stats.${j}"; done) --output_dir "${stats_dir}"
fi

if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ] && [ "${skip_teacher}" != true ]; then
  begin_stage 7
  log "Stage 7: teacher training (full context) in ${teacher_dir}"
  train_model "${teacher_dir}" "${teacher_config}" "${teacher_args}" ""
fi

if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ] && [ "${skip_teacher}" != true ] && [ "${teacher_decode}" = true ]; then
  begin_stage 8
  log "Stage 8: teacher decoding (${teacher_decode_modes})"
  decode_model "${teacher_dir}" "${teacher_decode_modes}"
fi

if [ "${stage}" -le 9 ] && [ "${stop_stage}" -ge 9 ]; then
  begin_stage 9
  log "Stage 9: dual-mode student training in ${student_dir}"
  teacher_for_student="${teacher_dir}"
  [ "${skip_teacher}" = true ] && teacher_for_student=""
  init_args=""
  if [ "${student_init_from_teacher}" = true ]; then
    [ -n "${teacher_for_student}" ] || die "--student_init_from_teacher true needs a teacher (--skip_teacher false)"
    init_args="--init_param ${teacher_dir}/${inference_model}:::train_steps"  # not its step counter
  fi
  train_model "${student_dir}" "${student_config}" "${init_args} ${student_args}" "${teacher_for_student}"
fi

if [ "${stage}" -le 10 ] && [ "${stop_stage}" -ge 10 ]; then
  begin_stage 10
  log "Stage 10: student decoding (${decode_modes}; chunks ${chunk_sizes}; left ${left_chunks})"
  decode_model "${student_dir}" "${decode_modes}"
fi

if [ "${stage}" -le 11 ] && [ "${stop_stage}" -ge 11 ]; then
  begin_stage 11
  log "Stage 11: sclite scoring"
  if [ "${skip_teacher}" != true ] && [ "${teacher_decode}" = true ]; then score_model "${teacher_dir}" "${teacher_decode_modes}"; fi
  score_model "${student_dir}" "${decode_modes}"
fi

if [ "${stage}" -le 12 ] && [ "${stop_stage}" -ge 12 ]; then
  begin_stage 12
  log "Stage 12: ${expdir}/RESULTS.md"
  # this run's models first, then every other model decoded in the same experiment directory
  report_models=("${models[@]}")
  for d in "${expdir}"/*/; do
    m="$(basename "${d}")"
    [[ " ${report_models[*]} " == *" ${m} "* ]] && continue
    if compgen -G "${d}decode_*/*/metrics.json" > /dev/null; then report_models+=("${m}"); fi
  done
  run_logged "${stage_logs}/results.log" ${python} -m espnet_durep.bin.make_results report \
    --expdir "${expdir}" --models "${report_models[@]}" --out "${expdir}/RESULTS.md"
fi

if [ "${stage}" -le 13 ] && [ "${stop_stage}" -ge 13 ]; then
  begin_stage 13
  log "Stage 13: pack ${student_dir}"
  results_args=()
  [ -f "${expdir}/RESULTS.md" ] && results_args=(--results "${expdir}/RESULTS.md")
  run_logged "${stage_logs}/pack.log" ${python} -m espnet_durep.bin.pack_model pack \
    --asr_train_config "${student_dir}/config.yaml" --asr_model_file "${student_dir}/${inference_model}" \
    "${results_args[@]}" --outpath "${student_dir}/packed_model.zip"
fi

begin_stage 0
log "Finished stages ${stage}-${stop_stage}"
exit 0
}
