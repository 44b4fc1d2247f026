#!/usr/bin/env bash
# Quick speechocean762 run (~22 min on 2 CPU cores): one dual-mode model trained from scratch
# without teacher (in-place KD only), decoded in full-context mode and streaming with 640 ms
# chunks, scored with sclite; results in exp_quick/RESULTS.md. No speed perturbation (run.sh
# has it). Shares data/ and dump/ with run.sh. Extra options go to durep.sh.
set -euo pipefail

./run.sh --expdir exp_quick --skip_teacher true --speed_perturb_factors "" \
  --student_config conf/train_quick.yaml --student_tag dual_mode_quick --student_init_from_teacher false \
  --chunk_sizes 16 --left_chunks 4 \
  "$@"
