#!/usr/bin/env bash
# LibriSpeech 960 h dual-mode recipe. Set LIBRISPEECH in db.sh first. Sized for one node
# with 4 GPUs; extra options go to durep.sh (./run.sh --help lists them).
set -euo pipefail

./durep.sh \
  --train_set train_960 --valid_set dev \
  --test_sets "test_clean test_other dev_clean dev_other" \
  --nj 32 --inference_nj 32 --ngpu 4 \
  --speed_perturb_factors "0.9 1.0 1.1" \
  --token_type bpe --nbpe 5000 \
  --min_wav_duration 0.1 --max_wav_duration 20 \
  --teacher_config conf/train_teacher.yaml \
  --student_config conf/train_student.yaml \
  --inference_config conf/decode.yaml \
  --decode_modes "full streaming" --chunk_sizes "4 8 16" --left_chunks "-1 4" \
  "$@"
