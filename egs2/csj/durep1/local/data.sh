#!/usr/bin/env bash
# CSJ data preparation: data/train, data/valid (held-out training talks), data/eval1-3.
# Options: --parts "core noncore" (all ~580 h of talks) or "core" (~240 h);
#          --num_valid_lectures N (default 10).
set -euo pipefail
. ./path.sh
. ./db.sh
. scripts/options.sh
durep_usage="Usage: $0 [--parts \"core noncore\"] [--num_valid_lectures 10]"
durep_opt parts "core noncore" "CSJ parts used for training"
durep_opt num_valid_lectures 10 "training talks held out for validation"
durep_parse_opts "$@"

if [ ! -d "${CSJ}/MORPH/SDB" ] || [ ! -d "${CSJ}/WAV" ]; then
  echo "ERROR: CSJ not found at '${CSJ}' (expected MORPH/SDB/ and WAV/). The corpus is distributed" \
       "by NINJAL (https://clrd.ninjal.ac.jp/csj/en/); set CSJ in db.sh to its root folder." >&2
  exit 1
fi
python3 local/csj_data.py --corpus "${CSJ}" --out_dir data --parts "${parts}" \
  --num_valid_lectures "${num_valid_lectures}"
