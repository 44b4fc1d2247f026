#!/usr/bin/env bash
# mini_an4 data preparation: data/train (33 utts), data/valid (= test), data/test (12 utts)
# from the two AN4 samples in corpus/ (see corpus/README.md).
set -euo pipefail
. ./path.sh
. ./db.sh

for f in "${MINI_AN4}/mini_an4/downloads.tar.gz" "${MINI_AN4}/an4_nemo_subset/train/wav.scp"; do
  [ -f "${f}" ] || { echo "ERROR: ${f} not found; set MINI_AN4 in db.sh to the corpus folder" >&2; exit 1; }
done
mkdir -p data/local
tar -xzf "${MINI_AN4}/mini_an4/downloads.tar.gz" -C data/local
python3 local/prepare_mini_an4.py --sphere_root data/local/downloads/an4 \
  --nemo_root "${MINI_AN4}/an4_nemo_subset" --out_dir data
