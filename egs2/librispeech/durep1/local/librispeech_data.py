#!/usr/bin/env python3
"""Kaldi data directories from the LibriSpeech distribution (OpenSLR 12).

    librispeech_data.py --corpus /data/LibriSpeech --out_dir data train-clean-100 dev-clean ...

Reads the standard tree ``<corpus>/<set>/<speaker>/<chapter>/``: the transcript file
``<speaker>-<chapter>.trans.txt`` (lines ``<speaker>-<chapter>-<utt> WORDS``) and one
``<speaker>-<chapter>-<utt>.flac`` per line. Writes ``<out_dir>/<set with _ for ->``
(``data/train_clean_100``) with utterance ids as in the corpus and the chapter
(``<speaker>-<chapter>``) as the speaker, as Kaldi and ESPnet recipes do. Shared by the
librispeech (960 h) and librispeech_100 recipes. A transcript line without audio, an
audio file without transcript line or a malformed line is an error naming the file.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List

from kaldi_dir import DataDir, DataDirError

SETS = ("train-clean-100", "train-clean-360", "train-other-500",
        "dev-clean", "dev-other", "test-clean", "test-other")


def read_chapter(chapter_dir: Path, speaker: str, chapter: str, data: DataDir, problems: List[str]) -> None:
    """Add the utterances of one chapter directory to ``data``; collect problems."""
    trans = chapter_dir / f"{speaker}-{chapter}.trans.txt"
    if not trans.is_file():
        problems.append(f"{chapter_dir}: no transcript file {trans.name}")
        return
    prefix = f"{speaker}-{chapter}-"
    listed = set()
    try:
        lines = trans.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        problems.append(f"{trans}: not valid UTF-8 ({e})")
        return
    for lineno, line in enumerate(lines, 1):
        fields = line.split(maxsplit=1)
        if not fields:
            problems.append(f"{trans}:{lineno}: empty line")
            continue
        utt = fields[0]
        listed.add(utt)
        if not utt.startswith(prefix):
            problems.append(f"{trans}:{lineno}: utterance '{utt}' does not start with '{prefix}'")
            continue
        if len(fields) < 2 or not fields[1].strip():
            problems.append(f"{trans}:{lineno}: utterance '{utt}' has an empty transcript")
            continue
        audio = chapter_dir / f"{utt}.flac"
        if not audio.is_file():
            problems.append(f"{trans}:{lineno}: audio of utterance '{utt}' not found: {audio}")
            continue
        data.add(utt, f"{speaker}-{chapter}", fields[1], str(audio.resolve()))
    for audio in sorted(chapter_dir.glob("*.flac")):
        if audio.stem not in listed:
            problems.append(f"{audio}: no line for '{audio.stem}' in {trans}")


def read_set(corpus: Path, name: str) -> DataDir:
    set_dir = corpus / name
    if not set_dir.is_dir():
        hint = (f" (the archives unpack into a LibriSpeech/ folder: try --corpus {corpus / 'LibriSpeech'})"
                if (corpus / "LibriSpeech" / name).is_dir() else "")
        raise DataDirError([f"LibriSpeech set directory not found: {set_dir}{hint}"])
    data, problems = DataDir(), []
    for speaker_dir in sorted(p for p in set_dir.iterdir() if p.is_dir()):
        for chapter_dir in sorted(p for p in speaker_dir.iterdir() if p.is_dir()):
            read_chapter(chapter_dir, speaker_dir.name, chapter_dir.name, data, problems)
    if not data.text and not problems:
        problems.append(f"{set_dir}: no <speaker>/<chapter>/ folders with transcripts")
    if problems:
        raise DataDirError(problems)
    return data


def prepare(corpus: Path, out_dir: Path, sets: List[str]) -> None:
    for name in sets:
        data = read_set(corpus, name)
        data.save(out_dir / name.replace("-", "_"))
        print(f"{out_dir / name.replace('-', '_')}: {len(data.text)} utterances, "
              f"{len(set(data.utt2spk.values()))} speakers")


def _main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="folder holding the set folders (train-clean-100, ...)")
    parser.add_argument("--out_dir", type=Path, required=True, help="where data/<set> directories are written")
    parser.add_argument("sets", nargs="+", choices=SETS, help="LibriSpeech sets to prepare")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"ERROR: LibriSpeech corpus folder not found: {args.corpus} (set LIBRISPEECH in db.sh)", file=sys.stderr)
        return 1
    try:
        prepare(args.corpus, args.out_dir, args.sets)
    except DataDirError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
