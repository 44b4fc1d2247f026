#!/usr/bin/env bash
# Score a hypothesis against a reference with NIST sclite (SCTK).
#
#   scripts/score_sclite.sh --unit word|char REF_TEXT HYP_TEXT UTT2SPK OUT_DIR
#
# Writes OUT_DIR/ref.trn, hyp.trn (scripts/make_trn.py), result.txt (sclite's full report:
# summary per speaker, then the alignment of every utterance), and sclite's hyp.trn.sys
# (summary) and hyp.trn.dtl (detailed report with confusion pairs). Prints the summary line.
# sclite is looked up in PATH, then in ${SCTK_DIR:-/usr/lib/sctk/bin} (Debian's sctk package).
set -euo pipefail

unit=word
if [ "${1:-}" = "--unit" ]; then unit="$2"; shift 2; fi
if [ "$#" -ne 4 ]; then
  echo "Usage: $0 [--unit word|char] REF_TEXT HYP_TEXT UTT2SPK OUT_DIR" >&2
  exit 2
fi
ref_text="$1"; hyp_text="$2"; utt2spk="$3"; out_dir="$4"
scripts_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

sctk_dir="${SCTK_DIR:-/usr/lib/sctk/bin}"
sclite="$(command -v sclite || true)"
if [ -z "${sclite}" ] && [ -x "${sctk_dir}/sclite" ]; then sclite="${sctk_dir}/sclite"; fi
if [ -z "${sclite}" ]; then
  echo "ERROR: sclite not found in PATH or ${sctk_dir}. Install NIST SCTK" \
       "(Debian/Ubuntu: apt-get install sctk; or tools/setup.sh) and re-run this stage." >&2
  exit 1
fi

python3 "${scripts_dir}/make_trn.py" --unit "${unit}" "${ref_text}" "${hyp_text}" "${utt2spk}" "${out_dir}"
"${sclite}" -r "${out_dir}/ref.trn" trn -h "${out_dir}/hyp.trn" trn -i rm -o all stdout > "${out_dir}/result.txt"
"${sclite}" -r "${out_dir}/ref.trn" trn -h "${out_dir}/hyp.trn" trn -i rm -o sum dtl -O "${out_dir}" > /dev/null
grep -e 'Sum/Avg' "${out_dir}/hyp.trn.sys" | sed "s|^|${out_dir} (${unit}): |"
