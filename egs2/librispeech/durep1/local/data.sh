#!/usr/bin/env bash
# LibriSpeech data preparation (shared by the librispeech and librispeech_100 recipes):
# data/<train_name> from the --train_parts, data/dev (dev-clean + dev-other, validation)
# and data/{dev_clean,dev_other,test_clean,test_other} (evaluation).
set -euo pipefail
. ./path.sh
. ./db.sh
. scripts/options.sh
durep_usage="Usage: $0 [--train_parts \"SET ...\"] [--train_name NAME]"
durep_opt train_parts "train-clean-100 train-clean-360 train-other-500" "LibriSpeech training sets"
durep_opt train_name train_960 "data directory of the combined training sets"
durep_parse_opts "$@"

if [ ! -d "${LIBRISPEECH}" ]; then
  echo "ERROR: LibriSpeech not found at '${LIBRISPEECH}'. Download ${train_parts} dev-clean dev-other" \
       "test-clean test-other from https://www.openslr.org/12, unpack them into one folder and set" \
       "LIBRISPEECH (db.sh or environment) to the folder holding the set folders." >&2
  exit 1
fi
# shellcheck disable=SC2086
python3 local/librispeech_data.py --corpus "${LIBRISPEECH}" --out_dir data \
  ${train_parts} dev-clean dev-other test-clean test-other
parts=()
for p in ${train_parts}; do parts+=("data/${p//-/_}"); done
if [ "${#parts[@]}" -gt 1 ] || [ "${parts[0]}" != "data/${train_name}" ]; then
  python3 scripts/kaldi_dir.py combine "data/${train_name}" "${parts[@]}"
fi
python3 scripts/kaldi_dir.py combine data/dev data/dev_clean data/dev_other
