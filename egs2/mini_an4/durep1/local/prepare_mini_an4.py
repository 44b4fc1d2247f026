#!/usr/bin/env python3
"""mini_an4 data directories from the two AN4 samples shipped in ``corpus/``.

    prepare_mini_an4.py --sphere_root data/local/downloads/an4 --nemo_root corpus/an4_nemo_subset --out_dir data

* ``--sphere_root``: the unpacked mini AN4 sample (``etc/an4_{train,test}.transcription``
  lines ``<s> WORDS </s> (fileid)``, audio ``wav/<an4_clstk|an4test_clstk>/<spk>/<fileid>.sph``).
* ``--nemo_root``: Kaldi-style ``train/`` and ``test/`` lists, ``wav.scp`` paths relative to it.

Utterance ids are ``<speaker>-<AN4 file id>`` (``fash-an251-fash-b``) in both sources. An
utterance in both samples is kept once (the first source's copy) after checking that the
transcripts agree; every duplicate is reported. Writes ``OUT_DIR/train``, ``OUT_DIR/test``
and ``OUT_DIR/valid``. With 45 utterances there are too few speakers to hold some out, so
the validation set (used only to pick the checkpoints to average) is a copy of the test
set: mini_an4 numbers are a smoke test, not a held-out evaluation.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path
from typing import Dict, List, Tuple

from kaldi_dir import DataDir, DataDirError, read_table

TRANSCRIPT = re.compile(r"^(?:<s>\s+)?(?P<words>.*?)(?:\s+</s>)?\s+\((?P<fileid>[^()\s]+)\)$")
AUDIO_DIRS = {"train": "an4_clstk", "test": "an4test_clstk"}


def read_sphere_sample(root: Path, split: str) -> DataDir:
    """The mini AN4 sample's ``split`` (train or test) as a data directory."""
    transcription = root / "etc" / f"an4_{split}.transcription"
    if not transcription.is_file():
        raise DataDirError([f"{transcription}: not found (is {root} the unpacked mini AN4 sample?)"])
    data = DataDir()
    for lineno, line in enumerate(transcription.read_text(encoding="utf-8").splitlines(), 1):
        match = TRANSCRIPT.match(line.strip())
        if not match or not match.group("words"):
            raise DataDirError([f"{transcription}:{lineno}: expected '<s> WORDS </s> (fileid)', got '{line}'"])
        fileid = match.group("fileid")
        speaker = fileid.split("-")[1]
        audio = root / "wav" / AUDIO_DIRS[split] / speaker / f"{fileid}.sph"
        if not audio.is_file():
            raise DataDirError([f"{transcription}:{lineno}: audio of '{fileid}' not found: {audio}"])
        data.add(f"{speaker}-{fileid}", speaker, match.group("words"), str(audio.resolve()))
    return data


def read_nemo_sample(root: Path, split: str) -> DataDir:
    """The NeMo AN4 subset's ``split``, with audio paths made absolute."""
    directory = root / split
    data = DataDir.load(directory)
    data.utt2spk = read_table(directory / "utt2spk")[0]
    data.wav_scp = {utt: str((root / path).resolve()) for utt, path in data.wav_scp.items()}
    return data


def merge_samples(samples: List[Tuple[str, DataDir]]) -> Tuple[DataDir, List[str]]:
    """Union of samples keeping the first copy of shared utterances; returns (data, notes)."""
    merged, notes, origin = DataDir(), [], {}
    for name, data in samples:
        for utt in data.utterances:
            if utt in origin:
                if merged.text[utt] != data.text[utt]:
                    raise DataDirError([f"'{utt}' has different transcripts in {origin[utt]} "
                                        f"('{merged.text[utt]}') and {name} ('{data.text[utt]}')"])
                notes.append(f"'{utt}' is in {origin[utt]} and {name}: kept the {origin[utt]} copy")
                continue
            origin[utt] = name
            merged.add(utt, data.utt2spk[utt], data.text[utt], data.wav_scp[utt])
    return merged, notes


def prepare(sphere_root: Path, nemo_root: Path, out_dir: Path) -> Dict[str, int]:
    sizes = {}
    for split in ("train", "test"):
        data, notes = merge_samples([("an4_nemo_subset", read_nemo_sample(nemo_root, split)),
                                     ("mini_an4", read_sphere_sample(sphere_root, split))])
        for note in notes:
            print(f"{split}: {note}")
        data.save(out_dir / split)
        sizes[split] = len(data.text)
    if (out_dir / "valid").exists():
        shutil.rmtree(out_dir / "valid")
    shutil.copytree(out_dir / "test", out_dir / "valid")
    sizes["valid"] = sizes["test"]
    return sizes


def _main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sphere_root", type=Path, required=True, help="unpacked downloads/an4 of the mini AN4 sample")
    parser.add_argument("--nemo_root", type=Path, required=True, help="the an4_nemo_subset folder")
    parser.add_argument("--out_dir", type=Path, required=True, help="where train/, valid/, test/ are written")
    args = parser.parse_args()
    try:
        sizes = prepare(args.sphere_root, args.nemo_root, args.out_dir)
    except DataDirError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    print(", ".join(f"{split}: {n} utterances" for split, n in sizes.items()))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
