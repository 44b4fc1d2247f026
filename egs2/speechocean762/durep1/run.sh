#!/usr/bin/env bash
# speechocean762 (read English by Mandarin-L1 children and adults) dual-mode recipe.
# Set SPEECHOCEAN762 in db.sh. Characters as tokens, speed perturbation 0.9/1.0/1.1 (3x the
# 1.7 h of training audio); WER and CER with sclite. On the default subset and 2 CPU cores:
# teacher ~55 min (20 epochs), student (initialised from the teacher, distilled in both
# modes) ~50 min (8 epochs), decoding ~4 min; see RESULTS.md for the measured wall time of
# every stage and the learning curves. run_quick.sh is a ~22 min version without teacher or
# speed perturbation. Extra options go to durep.sh (./run.sh --help lists them).
set -euo pipefail

./durep.sh \
  --train_set train --valid_set valid --test_sets test \
  --nj 2 --inference_nj 2 --ngpu 0 --train_threads 2 \
  --speed_perturb_factors "0.9 1.0 1.1" \
  --token_type char \
  --min_wav_duration 0.5 --max_wav_duration 20 \
  --teacher_config conf/train_teacher.yaml \
  --student_config conf/train_student.yaml \
  --student_init_from_teacher true \
  --inference_config conf/decode.yaml \
  --decode_modes "full streaming" --chunk_sizes "8 16" --left_chunks "-1 4" \
  --score_wer true --score_cer true \
  "$@"
