#!/usr/bin/env bash
# speechocean762 data preparation: data/train, data/valid (5 held-out training speakers),
# data/test, from the corpus folder set in db.sh (SPEECHOCEAN762).
set -euo pipefail
. ./path.sh
. ./db.sh

if [ ! -f "${SPEECHOCEAN762}/train/wav.scp" ]; then
  echo "ERROR: speechocean762 not found at '${SPEECHOCEAN762}' (no train/wav.scp). Get it from" \
       "https://www.openslr.org/101 and set SPEECHOCEAN762 to the folder holding train/, test/, WAVE/." >&2
  exit 1
fi
python3 local/prepare_speechocean762.py --corpus "${SPEECHOCEAN762}" --out_dir data --num_valid_speakers 5
