#!/usr/bin/env python3
"""Stage 4: drop training/validation utterances that are too short or too long.

    filter_utts.py SRC DST --fs 16000 --min_duration 0.1 --max_duration 20

SRC is a dump directory with ``utt2num_samples`` (stage 3). Every dropped utterance is
listed with its duration and reason in ``DST/dropped_utts.txt``, and the counts are
printed; dropping everything is an error. Test sets are never filtered.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from kaldi_dir import DataDirError, read_table, validate, write_table


def drop_reasons(num_samples: Dict[str, int], fs: int, min_duration: float,
                 max_duration: float) -> Dict[str, str]:
    """{utt: reason} for every utterance outside [min_duration, max_duration] seconds."""
    reasons = {}
    for utt, samples in num_samples.items():
        seconds = samples / fs
        if seconds < min_duration:
            reasons[utt] = f"{seconds:.3f} s < min {min_duration:g} s"
        elif seconds > max_duration:
            reasons[utt] = f"{seconds:.3f} s > max {max_duration:g} s"
    return reasons


def filter_dir(src: Path, dst: Path, fs: int, min_duration: float,
               max_duration: float) -> Tuple[int, int]:
    """Write the kept utterances to ``dst``; returns (kept, dropped)."""
    if min_duration >= max_duration:
        raise ValueError(f"min duration {min_duration} must be below max duration {max_duration}")
    data = validate(src)
    table, _ = read_table(src / "utt2num_samples")
    missing = [u for u in data.utterances if u not in table]
    if missing:
        raise DataDirError([f"{src / 'utt2num_samples'}: no length for utterance '{u}'" for u in missing])
    num_samples = {u: int(table[u]) for u in data.utterances}
    reasons = drop_reasons(num_samples, fs, min_duration, max_duration)
    kept = [u for u in data.utterances if u not in reasons]
    if not kept:
        raise ValueError(f"{src}: all {len(reasons)} utterances are outside "
                         f"[{min_duration:g}, {max_duration:g}] s; check --fs and the duration bounds")
    if dst.exists():
        shutil.rmtree(dst)
    data.subset(kept).save(dst)
    write_table(dst / "utt2num_samples", {u: str(num_samples[u]) for u in kept})
    write_table(dst / "dropped_utts.txt", reasons)
    return len(kept), len(reasons)


def _main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path, help="dump directory with utt2num_samples")
    parser.add_argument("dst", type=Path, help="output dump directory")
    parser.add_argument("--fs", type=int, default=16000, help="sample rate in Hz")
    parser.add_argument("--min_duration", type=float, default=0.1, help="shortest kept utterance (s)")
    parser.add_argument("--max_duration", type=float, default=20.0, help="longest kept utterance (s)")
    args = parser.parse_args(argv)
    try:
        kept, dropped = filter_dir(args.src, args.dst, args.fs, args.min_duration, args.max_duration)
    except (DataDirError, ValueError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    print(f"{args.dst}: kept {kept}, dropped {dropped} utterances outside "
          f"[{args.min_duration:g}, {args.max_duration:g}] s (listed in {args.dst / 'dropped_utts.txt'})")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
