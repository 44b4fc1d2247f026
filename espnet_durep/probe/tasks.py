"""Probe tasks from a Kaldi data directory, with a deterministic held-out split.

Utterance-level: ``speaker`` (utt2spk; held-out utterances of every speaker), ``gender``
(spk2gender) and ``age_group`` (spk2age: child < 13, teen 13-17, adult >= 18; both on
held-out speakers). Frame-level: ``chars`` (CTC on the characters of ``text``, held-out
speakers). A task whose files are missing, that has a single class, or whose training or
held-out part is empty, is left out.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

Label = Union[int, List[int]]


@dataclass
class ProbeTask:
    """labels: utt -> class index (utterance level) or token indices (frame level, CTC; 0 = blank)."""

    name: str
    level: str                  # "utterance" | "frame"
    classes: List[str]
    labels: Dict[str, Label]
    test_utts: List[str]        # held out; the rest of ``labels`` trains the probe

    @property
    def train_utts(self) -> List[str]:
        held_out = set(self.test_utts)
        return [u for u in sorted(self.labels) if u not in held_out]


def read_kaldi_map(path: Path) -> Dict[str, str]:
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            key, _, value = line.partition(" ")
            if not value.strip():
                raise ValueError(f"{path}:{n}: no value for {key!r}")
            out[key] = value.strip()
    return out


def _held_out(keys: Sequence[str], fraction: float) -> set:
    """A fixed ``fraction`` of ``keys``, chosen by hash (the same on every run and machine)."""
    ranked = sorted(keys, key=lambda k: hashlib.md5(k.encode()).hexdigest())
    return set(ranked[: max(1, round(fraction * len(ranked)))])


def age_group(age: str) -> str:
    years = int(age)
    return "child" if years < 13 else "teen" if years < 18 else "adult"


def load_tasks(data_dir: Path, utts: Sequence[str], test_fraction: float = 0.2,
               names: Optional[Sequence[str]] = None) -> List[ProbeTask]:
    """The tasks ``data_dir`` supports for ``utts`` (those with features)."""
    utt2spk = read_kaldi_map(data_dir / "utt2spk")
    missing = [u for u in utts if u not in utt2spk]
    if missing:
        raise ValueError(f"{data_dir / 'utt2spk'}: no speaker for {len(missing)} utterances, e.g. {missing[0]}")
    speakers = sorted({utt2spk[u] for u in utts})
    held_speakers = _held_out(speakers, test_fraction)
    unseen = [u for u in utts if utt2spk[u] in held_speakers]
    tasks = []

    def add(name: str, values: Dict[str, str], test: List[str]) -> None:
        classes = sorted(set(values.values()))
        if len(classes) > 1:
            tasks.append(ProbeTask(name, "utterance", classes, {u: classes.index(v) for u, v in values.items()},
                                   sorted(test)))

    by_speaker: Dict[str, List[str]] = {}
    for u in utts:
        by_speaker.setdefault(utt2spk[u], []).append(u)
    add("speaker", {u: utt2spk[u] for u in utts},
        [u for spk_utts in by_speaker.values() for u in _held_out(spk_utts, test_fraction) if len(spk_utts) > 1])
    for name, file, fn in (("gender", "spk2gender", str), ("age_group", "spk2age", age_group)):
        if (data_dir / file).is_file():
            per_speaker = read_kaldi_map(data_dir / file)
            add(name, {u: fn(per_speaker[utt2spk[u]]) for u in utts if utt2spk[u] in per_speaker}, unseen)
    if (data_dir / "text").is_file():
        text = read_kaldi_map(data_dir / "text")
        chars = sorted({c for u in utts if u in text for c in text[u]})
        labels = {u: [chars.index(c) + 1 for c in text[u]] for u in utts if u in text}
        tasks.append(ProbeTask("chars", "frame", ["<blank>", *chars], labels, sorted(u for u in unseen if u in labels)))
    usable = [t for t in tasks if t.test_utts and t.train_utts]
    for t in tasks:
        if t not in usable:
            logging.warning("probe task %s left out: %d training and %d held-out utterances", t.name,
                            len(t.train_utts), len(t.test_utts))
    tasks = usable
    if names:
        unknown = sorted(set(names) - {t.name for t in tasks})
        if unknown:
            raise ValueError(f"tasks {unknown} not available from {data_dir} (available: {[t.name for t in tasks]})")
        tasks = [t for t in tasks if t.name in names]
    return tasks
