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

# run.sh's corpus settings, with the transducer configs and model names (later options win)
./run.sh \
  --teacher_config conf/train_transducer_teacher.yaml \
  --student_config conf/train_transducer_student.yaml \
  --teacher_tag transducer_teacher --student_tag transducer_student \
  --teacher_decode_modes "full streaming" \
  --inference_model valid.loss.ave.pth \
  --inference_config conf/decode_transducer.yaml \
  --left_chunks "-1" \
  "$@"
