#!/usr/bin/env bash
# CSJ (spontaneous Japanese, ~580 h) dual-mode recipe with character tokens and CER scoring
# on eval1-3. Set CSJ in db.sh first. Sized for one node with 4 GPUs; extra options go to
# durep.sh (./run.sh --help lists them).
set -euo pipefail

./durep.sh \
  --train_set train --valid_set valid --test_sets "eval1 eval2 eval3" \
  --nj 32 --inference_nj 32 --ngpu 4 \
  --speed_perturb_factors "0.9 1.0 1.1" \
  --token_type char \
  --min_wav_duration 0.1 --max_wav_duration 20 \
  --teacher_config conf/train_teacher.yaml \
  --student_config conf/train_student.yaml \
  --inference_config conf/decode.yaml \
  --decode_modes "full streaming" --chunk_sizes "4 8 16" --left_chunks "-1 4" \
  --score_wer false --score_cer true \
  "$@"
