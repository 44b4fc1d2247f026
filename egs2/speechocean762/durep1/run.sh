#!/usr/bin/env bash
# speechocean762 (read English by Mandarin-L1 children and adults) dual-mode recipe.
# Set SPEECHOCEAN762 in db.sh. On the default subset (1.7 h train) and 2 CPU cores the
# teacher trains in ~27 min and the student in ~54 min (12 epochs each, see RESULTS.md);
# --speed_perturb_factors "0.9 1.0 1.1" triples the training data and time. Extra options
# go to durep.sh (./run.sh --help lists them).
set -euo pipefail

./durep.sh \
  --train_set train --valid_set valid --test_sets test \
  --nj 8 --inference_nj 8 --ngpu 0 \
  --speed_perturb_factors "" \
  --token_type bpe --nbpe 300 \
  --min_wav_duration 0.5 --max_wav_duration 20 \
  --teacher_config conf/train_teacher.yaml \
  --student_config conf/train_student.yaml \
  --inference_config conf/decode.yaml \
  --decode_modes "full streaming" --chunk_sizes "4 8 16" --left_chunks "-1 4" \
  "$@"
