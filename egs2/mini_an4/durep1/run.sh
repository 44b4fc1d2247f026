#!/usr/bin/env bash
# mini_an4: the whole dual-mode recipe on 45 AN4 utterances, on CPU in a few minutes.
# A smoke test of every stage (CI runs it), not a benchmark. Extra options go to durep.sh,
# e.g. ./run.sh --stage 7 --stop_stage 13.
set -euo pipefail

./durep.sh \
  --train_set train --valid_set valid --test_sets test \
  --nj 2 --inference_nj 2 --ngpu 0 \
  --token_type bpe --nbpe 30 \
  --min_wav_duration 0.3 --max_wav_duration 10 \
  --teacher_config conf/train_teacher.yaml \
  --student_config conf/train_student.yaml \
  --inference_config conf/decode.yaml \
  --decode_modes "full streaming" --chunk_sizes "4 8" --left_chunks "-1 2" \
  --score_wer true --score_cer true \
  "$@"
