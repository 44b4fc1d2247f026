#!/usr/bin/env python3
"""Write sclite ``trn`` files (``w1 w2 ... (spk-utt)``) for a reference and a hypothesis.

    make_trn.py --unit word|char REF_TEXT HYP_TEXT UTT2SPK OUT_DIR   # OUT_DIR/{ref,hyp}.trn

Ids are ``<speaker>-<utt>`` so that sclite's ``-i rm`` reports per speaker. ``word``
units are the whitespace-separated words; ``char`` units are characters, with a space
written as ``<space>`` (as ESPnet's CER). Utterances of the reference that are missing
from the hypothesis (failed decodes) are scored as empty hypotheses and counted on
stderr; a hypothesis utterance absent from the reference is an error.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional

from kaldi_dir import DataDirError, read_table

SPACE = "<space>"


def units(text: str, unit: str) -> List[str]:
    if unit == "word":
        return text.split()
    if unit == "char":
        return [SPACE if c == " " else c for c in " ".join(text.split())]
    raise ValueError(f"unit must be word or char, got '{unit}'")


def trn_line(text: str, unit: str, speaker: str, utt: str) -> str:
    return " ".join(units(text, unit) + [f"({speaker}-{utt})"])


def write_trn(ref_text: Path, hyp_text: Path, utt2spk: Path, out_dir: Path, unit: str) -> int:
    """Write ``ref.trn`` and ``hyp.trn``; returns the number of reference utterances without hypothesis."""
    ref = read_table(ref_text)[0]
    hyp: Dict[str, str] = read_table(hyp_text, allow_empty_value=True)[0]
    speakers = read_table(utt2spk)[0]
    extra = sorted(set(hyp) - set(ref))
    if extra:
        raise DataDirError([f"{hyp_text}: utterance '{u}' is not in the reference {ref_text}" for u in extra])
    no_speaker = sorted(set(ref) - set(speakers))
    if no_speaker:
        raise DataDirError([f"{utt2spk}: no speaker for utterance '{u}'" for u in no_speaker])
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "ref.trn", "w", encoding="utf-8") as r, open(out_dir / "hyp.trn", "w", encoding="utf-8") as h:
        for utt in sorted(ref):
            r.write(trn_line(ref[utt], unit, speakers[utt], utt) + "\n")
            h.write(trn_line(hyp.get(utt, ""), unit, speakers[utt], utt) + "\n")
    return len(set(ref) - set(hyp))


def _main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ref_text", type=Path)
    parser.add_argument("hyp_text", type=Path)
    parser.add_argument("utt2spk", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--unit", choices=["word", "char"], default="word")
    args = parser.parse_args(argv)
    try:
        missing = write_trn(args.ref_text, args.hyp_text, args.utt2spk, args.out_dir, args.unit)
    except DataDirError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    if missing:
        print(f"WARNING: {missing} reference utterances have no hypothesis in {args.hyp_text}; "
              f"scored as empty (all deletions)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
