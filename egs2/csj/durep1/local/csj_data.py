#!/usr/bin/env python3
"""Kaldi data directories from the Corpus of Spontaneous Japanese (CSJ, NINJAL).

    csj_data.py --corpus /data/CSJ --out_dir data --parts "core noncore" --num_valid_lectures 10

Corpus layout (the CSJ USB/DVD release unpacked): ``MORPH/SDB/<part>/<talk>.sdb``
(transcripts) and ``WAV/<part>/<talk>.wav``; dialogue talks (ids starting with ``D``)
have one file per channel, ``<talk>-L.wav`` and ``<talk>-R.wav``.

An SDB file has one tab-separated line per morpheme; this script reads three fields:
field 3 (0-based) ``<ipu id> <start s>-<end s> <channel>:...``, the inter-pausal unit
(IPU) the morpheme belongs to, and field 5, the orthographic form with CSJ's transcription
tags. Files are Shift_JIS (EUC-JP in some releases); both are accepted.

Text normalisation (the usual practice of CSJ ASR recipes, characters kept as written):
* tags are resolved: ``(F えー)``, ``(D こ)``, ``(? 言葉)``, ``(L ..)``, ``(笑 ..)`` and
  other single-content tags keep their content without the tag; alternatives
  ``(W 発音;正書形)``, ``(A エー;Ａ)``, ``(K ..;..)``, ``(B ..;..)`` keep the part after
  ``;`` (the orthodox / written form); uncertain readings ``(? a,b)`` keep the first guess;
* noise, pause and event markers ``<笑>``, ``<P:...>``, ``<H>`` ... are removed, as are
  remaining ASCII characters, a word-final ``・``, and the lengthening in ``んー``;
* words are concatenated without spaces (scored as characters).
A tagged word may span several SDB lines; lines are joined until its brackets balance.

Utterances: consecutive IPUs of a channel are joined while the pause between them is at
most ``--max_gap`` s and the utterance stays within ``--max_duration`` s. IPUs without
words (only noise markers) are skipped and IPUs with redacted words (``×``) are dropped;
both are counted in the printed summary. Utterance ids are
``<talk>[-L|-R]_<start ms>_<end ms>``; the speaker is the talk (channel for dialogues).

Sets: ``eval1``, ``eval2``, ``eval3`` are the standard evaluation talks; ``train`` is every
other talk of ``--parts`` except the other talks of the eval2 speaker A01M0056 (excluded
so that no test speaker is in training), minus ``--num_valid_lectures`` talks (the last in
sorted order) that form ``valid``. A missing evaluation talk is an error.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from kaldi_dir import DataDir, DataDirError, Segment

EVAL_TALKS = {
    "eval1": ["A01M0110", "A01M0137", "A01M0097", "A04M0123", "A04M0121",
              "A04M0051", "A03M0156", "A03M0112", "A03M0106", "A05M0011"],
    "eval2": ["A01M0056", "A03F0072", "A02M0012", "A03M0016", "A06M0064",
              "A06F0135", "A01F0034", "A01F0063", "A01F0001", "A01M0141"],
    "eval3": ["S00M0112", "S00F0066", "S00M0213", "S00F0019", "S00M0079",
              "S01F0105", "S00F0152", "S00M0070", "S00M0008", "S00F0148"],
}
# Other talks by the speaker of eval2's A01M0056: kept out of training.
EXCLUDED_TALKS = ["S05M0613", "R00M0187", "D01M0019", "D04M0056", "D02M0028", "D03M0017"]
# EUC-JP first: Shift_JIS text is almost never valid EUC-JP, while EUC-JP bytes often
# decode as (wrong) half-width katakana under Shift_JIS.
ENCODINGS = ("euc_jp", "cp932")
TIME_FIELD = re.compile(r"^(?P<ipu>\d+)\s+(?P<start>\d+(?:\.\d+)?)-(?P<end>\d+(?:\.\d+)?)\s+(?P<channel>[LR]):")
MARKER = re.compile(r"<[^<>]*>")
REDACTED = "×"


@dataclass
class Ipu:
    """One inter-pausal unit of a channel, with its normalised text."""

    channel: str
    start: float
    end: float
    text: str


def _split_top(content: str, separator: str) -> List[str]:
    """``content`` split at ``separator`` outside brackets."""
    parts, depth, current = [], 0, ""
    for c in content:
        depth += (c == "(") - (c == ")")
        if c == separator and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += c
    return parts + [current]


def resolve_tags(text: str) -> str:
    """Text with CSJ's ``(TAG content)`` annotations resolved (see the module docstring)."""
    out, i = "", 0
    while i < len(text):
        if text[i] != "(":
            out += text[i]
            i += 1
            continue
        depth, j = 0, i
        while j < len(text):
            depth += (text[j] == "(") - (text[j] == ")")
            if depth == 0:
                break
            j += 1
        if depth != 0:
            raise ValueError(f"unbalanced brackets in '{text}'")
        content = text[i + 1:j].partition(" ")[2]  # drop the tag name
        alternatives = _split_top(content, ";")
        if len(alternatives) > 1:
            content = alternatives[1]
        else:
            content = _split_top(content, ",")[0]
        out += resolve_tags(content)
        i = j + 1
    return out


def normalise(surface: str) -> str:
    """Orthographic text of one (possibly multi-line) word."""
    text = resolve_tags(MARKER.sub("", surface))
    text = re.sub(r"[\x00-\x7f]", "", text)
    for long_n, n in (("んー", "ん"), ("ンー", "ン")):
        while long_n in text:
            text = text.replace(long_n, n)
    return text.rstrip("・")


def read_sdb(path: Path) -> List[Ipu]:
    """The IPUs of an SDB file in file order, with normalised text (may be empty)."""
    raw = path.read_bytes()
    for encoding in ENCODINGS:
        try:
            lines = raw.decode(encoding).splitlines()
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DataDirError([f"{path}: neither Shift_JIS nor EUC-JP"])
    ipus: Dict[Tuple[str, str], Ipu] = {}
    pending, pending_key, problems = "", None, []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        match = TIME_FIELD.match(fields[3]) if len(fields) > 5 else None
        if match is None:
            problems.append(f"{path}:{lineno}: expected a tab-separated SDB line with "
                            f"'<ipu> <start>-<end> <L|R>:...' in field 4, got '{line[:80]}'")
            continue
        key = (match.group("channel"), match.group("ipu"))
        if key not in ipus:
            ipus[key] = Ipu(match.group("channel"), float(match.group("start")), float(match.group("end")), "")
        pending += fields[5]
        pending_key = pending_key or key
        if pending.count("(") > pending.count(")"):
            continue
        try:
            ipus[pending_key].text += normalise(pending)
        except ValueError as e:
            problems.append(f"{path}:{lineno}: {e}")
        pending, pending_key = "", None
    if pending:
        problems.append(f"{path}: file ends inside a tag: '{pending[:80]}'")
    if problems:
        raise DataDirError(problems)
    return list(ipus.values())


def join_ipus(ipus: List[Ipu], max_gap: float, max_duration: float) -> List[Ipu]:
    """Utterances of one channel: consecutive non-empty IPUs joined (see module docstring)."""
    utterances: List[Ipu] = []
    for ipu in sorted(ipus, key=lambda u: u.start):
        last = utterances[-1] if utterances else None
        if last and ipu.start - last.end <= max_gap and ipu.end - last.start <= max_duration:
            last.end, last.text = ipu.end, last.text + ipu.text
        else:
            utterances.append(Ipu(ipu.channel, ipu.start, ipu.end, ipu.text))
    return utterances


def find_talks(corpus: Path) -> Dict[str, Tuple[str, Path]]:
    """{talk id: (part, sdb path)} for every SDB file in the corpus."""
    sdb_root = corpus / "MORPH" / "SDB"
    if not sdb_root.is_dir():
        raise DataDirError([f"CSJ transcripts not found: {sdb_root} (is {corpus} the CSJ root, "
                            f"holding MORPH/ and WAV/?)"])
    return {sdb.stem: (sdb.parent.name, sdb) for sdb in sorted(sdb_root.glob("*/*.sdb"))}


def add_talk(corpus: Path, talk: str, part: str, sdb: Path, data: DataDir, counts: Counter,
             max_gap: float, max_duration: float) -> None:
    ipus = read_sdb(sdb)
    counts["ipus without words"] += sum(1 for u in ipus if not u.text)
    for channel in sorted({u.channel for u in ipus}):
        recording = f"{talk}-{channel}" if talk.startswith("D") else talk
        audio = corpus / "WAV" / part / f"{recording}.wav"
        if not audio.is_file():
            raise DataDirError([f"{sdb}: audio of talk '{recording}' not found: {audio}"])
        channel_ipus = [u for u in ipus if u.channel == channel and u.text]
        spoken = [u for u in channel_ipus if REDACTED not in u.text]
        counts["ipus with redacted words dropped"] += len(channel_ipus) - len(spoken)
        for utt in join_ipus(spoken, max_gap, max_duration):
            utt_id = f"{recording}_{round(utt.start * 1000):07d}_{round(utt.end * 1000):07d}"
            data.add(utt_id, recording, utt.text, str(audio.resolve()), Segment(recording, utt.start, utt.end))


def prepare(corpus: Path, out_dir: Path, parts: List[str], num_valid_lectures: int,
            max_gap: float = 0.5, max_duration: float = 10.0) -> Dict[str, int]:
    talks = find_talks(corpus)
    missing = [t for ids in EVAL_TALKS.values() for t in ids if t not in talks]
    if missing:
        raise DataDirError([f"evaluation talk {t} not found under {corpus / 'MORPH' / 'SDB'}/*/" for t in missing])
    held_out = {t for ids in EVAL_TALKS.values() for t in ids} | set(EXCLUDED_TALKS)
    train_talks = sorted(t for t, (part, _) in talks.items() if part in parts and t not in held_out)
    if len(train_talks) <= num_valid_lectures:
        raise DataDirError([f"only {len(train_talks)} training talks in parts {parts}; "
                            f"cannot hold out {num_valid_lectures} for validation"])
    split = len(train_talks) - num_valid_lectures
    sets = {"train": train_talks[:split], "valid": train_talks[split:], **EVAL_TALKS}
    sizes: Dict[str, int] = {}
    counts: Counter = Counter()
    for name, ids in sets.items():
        data = DataDir()
        for talk in ids:
            part, sdb = talks[talk]
            add_talk(corpus, talk, part, sdb, data, counts, max_gap, max_duration)
        data.save(out_dir / name)
        sizes[name] = len(data.text)
    for what, n in sorted(counts.items()):
        print(f"{n} {what}")
    return sizes


def _main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="CSJ root (holding MORPH/ and WAV/)")
    parser.add_argument("--out_dir", type=Path, required=True, help="where train/ valid/ eval1-3/ are written")
    parser.add_argument("--parts", default="core noncore", help='training parts: "core" or "core noncore"')
    parser.add_argument("--num_valid_lectures", type=int, default=10, help="training talks held out for validation")
    parser.add_argument("--max_gap", type=float, default=0.5, help="longest pause inside an utterance (s)")
    parser.add_argument("--max_duration", type=float, default=10.0, help="longest joined utterance (s)")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"ERROR: CSJ corpus folder not found: {args.corpus} (set CSJ in db.sh)", file=sys.stderr)
        return 1
    try:
        sizes = prepare(args.corpus, args.out_dir, args.parts.split(), args.num_valid_lectures,
                        args.max_gap, args.max_duration)
    except DataDirError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    print(", ".join(f"{name}: {n} utterances" for name, n in sizes.items()))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
