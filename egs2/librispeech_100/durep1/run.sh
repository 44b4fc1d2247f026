#!/usr/bin/env bash
# LibriSpeech 100 h (train-clean-100) dual-mode recipe. Set LIBRISPEECH in db.sh first
# (shared with ../../librispeech/durep1, as is local/). Sized for one GPU.
set -euo pipefail

./durep.sh \
  --train_set train_clean_100 --valid_set dev \
  --test_sets "test_clean test_other dev_clean dev_other" \
  --local_data_opts "--train_parts train-clean-100 --train_name train_clean_100" \
  --nj 16 --inference_nj 16 --ngpu 1 \
  --speed_perturb_factors "0.9 1.0 1.1" \
  --token_type bpe --nbpe 300 \
  --min_wav_duration 0.1 --max_wav_duration 20 \
  --teacher_config conf/train_teacher.yaml \
  --student_config conf/train_student.yaml \
  --inference_config conf/decode.yaml \
  --decode_modes "full streaming" --chunk_sizes "4 8 16" --left_chunks "-1 4" \
  "$@"
