#!/usr/bin/env bash
# mini_an4, transducer version: a tiny shallow cascaded two-pass transducer teacher
# (conf/train_transducer_teacher.yaml) and its 50% compressed student trained with RNN-T
# posterior KD from it (conf/train_transducer_student.yaml), through every stage on CPU.
# The models go to <expdir>/transducer_teacher and <expdir>/transducer_student, so this and
# run.sh can share one experiment directory (data, tokens and statistics are the same).
# Both models are decoded in full mode (the look-ahead pass) and in streaming mode (the
# causal pass, chunk by chunk).
# Extra options go to durep.sh, e.g. ./run_transducer.sh --stage 10 --stop_stage 12.
set -euo pipefail

./durep.sh \
  --train_set train --valid_set valid --test_sets test \
  --nj 2 --inference_nj 2 --ngpu 0 \
  --token_type bpe --nbpe 30 \
  --min_wav_duration 0.3 --max_wav_duration 10 \
  --teacher_config conf/train_transducer_teacher.yaml \
  --student_config conf/train_transducer_student.yaml \
  --teacher_tag transducer_teacher --student_tag transducer_student \
  --teacher_decode_modes "full streaming" \
  --inference_model valid.loss.ave.pth \
  --inference_config conf/decode_transducer.yaml \
  --decode_modes "full streaming" --chunk_sizes "4 8" --left_chunks "-1" \
  --score_wer true --score_cer true \
  "$@"
