#!/usr/bin/env python3
"""speechocean762 data directories: data/train, data/valid (held-out speakers), data/test.

    prepare_speechocean762.py --corpus /data/speechocean762 --out_dir data --num_valid_speakers 5

The corpus folder holds ``train/`` and ``test/`` with Kaldi files (``wav.scp``, ``text``,
``utt2spk``; space- or tab-separated) whose audio paths are relative to the corpus folder
(``WAVE/SPEAKER0001/000010011.WAV``). This is the layout of the full OpenSLR 101 release and
of smaller speaker subsets of it. The validation set is ``--num_valid_speakers`` training
speakers spread evenly over the sorted speaker ids (every k-th speaker), with all their
utterances; train and valid (and test) speakers are disjoint. Each split's ``spk2gender`` and
``spk2age`` (``<speaker> m|f`` and ``<speaker> <age>``: speaker labels the layer probes use)
are copied for its speakers where the corpus has them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List

from kaldi_dir import DataDir, DataDirError, read_table, write_table

SPEAKER_FILES = ("spk2gender", "spk2age")


def read_split(corpus: Path, split: str) -> DataDir:
    directory = corpus / split
    for name in ("wav.scp", "text", "utt2spk"):
        if not (directory / name).is_file():
            raise DataDirError([f"{directory / name}: not found (is {corpus} a speechocean762 folder?)"])
    data = DataDir.load(directory)
    data.utt2spk = read_table(directory / "utt2spk")[0]
    data.wav_scp = {utt: str((corpus / path).resolve()) for utt, path in data.wav_scp.items()}
    return data


def speaker_labels(corpus: Path, split: str, speakers: List[str]) -> Dict[str, Dict[str, str]]:
    """{file: {speaker: label}} of the corpus split's SPEAKER_FILES that exist, for ``speakers``."""
    labels = {}
    for name in SPEAKER_FILES:
        path = corpus / split / name
        if not path.is_file():
            continue
        table = read_table(path)[0]
        missing = sorted(set(speakers) - set(table))
        if missing:
            raise DataDirError([f"{path}: no entry for speaker(s) {', '.join(missing[:5])}"
                                + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")])
        labels[name] = {spk: table[spk] for spk in sorted(set(speakers))}
    return labels


def valid_speakers(speakers: List[str], count: int) -> List[str]:
    """``count`` speakers taken every ``len(speakers) // count`` in sorted order."""
    speakers = sorted(set(speakers))
    if not 0 < count < len(speakers):
        raise ValueError(f"cannot hold out {count} of {len(speakers)} training speakers")
    step = len(speakers) // count
    return speakers[step - 1::step][:count]


def prepare(corpus: Path, out_dir: Path, num_valid_speakers: int) -> None:
    train = read_split(corpus, "train")
    held_out = set(valid_speakers(list(train.utt2spk.values()), num_valid_speakers))
    valid_utts = [u for u in train.utterances if train.utt2spk[u] in held_out]
    train_utts = [u for u in train.utterances if train.utt2spk[u] not in held_out]
    for name, split, data in (("train", "train", train.subset(train_utts)),
                              ("valid", "train", train.subset(valid_utts)),
                              ("test", "test", read_split(corpus, "test"))):
        data.save(out_dir / name)
        for file, table in speaker_labels(corpus, split, list(data.utt2spk.values())).items():
            write_table(out_dir / name / file, table)
        print(f"{out_dir / name}: {len(data.text)} utterances, {len(set(data.utt2spk.values()))} speakers")


def _main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="speechocean762 folder (train/, test/, WAVE/)")
    parser.add_argument("--out_dir", type=Path, required=True, help="where train/, valid/, test/ are written")
    parser.add_argument("--num_valid_speakers", type=int, default=5, help="training speakers held out for validation")
    args = parser.parse_args()
    try:
        prepare(args.corpus, args.out_dir, args.num_valid_speakers)
    except (DataDirError, ValueError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
