#!/usr/bin/env python3
"""Print what each loss term of a training config does on real batches, without training.

    python -m espnet_durep.bin.kd_report --config conf/train_student.yaml \\
        --token_type char --token_list data/token_list/char/tokens.txt \\
        --normalize global_mvn --normalize_conf stats_file=exp/stats/train/feats_stats.npz \\
        --teacher_asr_train_config exp/teacher/config.yaml \\
        --teacher_asr_model_file exp/teacher/valid.acc.ave.pth \\
        --data_dir dump/raw/train [--num_batches 4 --utts_per_batch 8 --init_model exp/student/xx.pth]

Every option of ``durep_train`` is accepted (the model is built exactly as training builds
it, teacher included).  ``--num_batches`` batches of ``--utts_per_batch`` utterances drawn
at random (``--seed``) from ``--data_dir`` (``wav.scp`` + ``text``) go through the model in
training mode.  For each term (``asr``: the ASR losses of every mode / pass, weighted as in
training; ``loss_kd_*``: distillation terms) it prints the unweighted loss, the weight (as in
force after ``kd_warmup_steps``), the
weighted loss and its share of the encoder gradient norm (see
:mod:`espnet_durep.distill.gradient_share`), averaged over the batches.  ``--output_json``
also writes them to a file.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from espnet_durep.bin.durep_inference import BadUtterance, read_audio, read_table
from espnet_durep.tasks.durep import DurepTask


def report_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("kd_report")
    group.add_argument("--data_dir", required=True, help="data directory with wav.scp and text")
    group.add_argument("--num_batches", type=int, default=4)
    group.add_argument("--utts_per_batch", type=int, default=8)
    group.add_argument("--init_model", default=None, help="start from these weights (.pth) instead of the init")
    group.add_argument("--output_json", default=None)
    return parser


def load_batches(data_dir: Path, preprocess, num_batches: int, per_batch: int, seed: int) -> List[tuple]:
    """(speech, speech_lengths, text, text_lengths) batches of random utterances of ``data_dir``."""
    wavs, texts = read_table(data_dir / "wav.scp"), read_table(data_dir / "text")
    missing = sorted(set(wavs) - set(texts))
    if missing:
        raise ValueError(f"{data_dir}/text has no transcript for {len(missing)} utterances, e.g. {missing[0]}")
    utts = sorted(wavs)
    random.Random(seed).shuffle(utts)
    utts = utts[: num_batches * per_batch]
    if len(utts) < per_batch:
        raise ValueError(f"{data_dir} has {len(wavs)} utterances, fewer than --utts_per_batch {per_batch}")
    batches = []
    for start in range(0, len(utts) - per_batch + 1, per_batch):
        speech, text = [], []
        for utt in utts[start:start + per_batch]:
            try:
                samples, _ = read_audio(wavs[utt])
            except BadUtterance as e:
                raise ValueError(f"{utt}: {e}") from None
            item = preprocess(utt, {"speech": samples[:, 0], "text": texts[utt]})
            speech.append(torch.from_numpy(item["speech"]).float())
            text.append(torch.from_numpy(item["text"]).long())
        batches.append((
            torch.nn.utils.rnn.pad_sequence(speech, batch_first=True),
            torch.tensor([len(s) for s in speech]),
            torch.nn.utils.rnn.pad_sequence(text, batch_first=True, padding_value=-1),
            torch.tensor([len(t) for t in text]),
        ))
    return batches


def measure(model, batches: Sequence[tuple]) -> Dict[str, Dict[str, float]]:
    """term -> {loss, weight, weighted, grad_share}, means over ``batches`` (training mode)."""
    model.train()
    model.loss_terms.force = True
    if getattr(model, "kd_warmup_steps", 0) > 0:  # report the weights in force after the KD warm-up
        model.train_steps.fill_(model.kd_warmup_steps)
    rows: Dict[str, Dict[str, List[float]]] = {}
    for batch in batches:
        _, stats, _ = model(*[t.clone() for t in batch])
        for name, (weight, loss) in model.loss_terms.last.items():
            row = rows.setdefault(name, {"loss": [], "weight": [], "weighted": [], "grad_share": []})
            row["loss"].append(float(loss))
            row["weight"].append(weight)
            row["weighted"].append(weight * float(loss))
            row["grad_share"].append(float(stats[f"gshare_{name}"]))
    model.loss_terms.force = False
    return {name: {k: sum(v) / len(v) for k, v in row.items()} for name, row in rows.items()}


def format_table(result: Dict[str, Dict[str, float]]) -> str:
    lines = [f"{'term':<28} {'loss':>10} {'weight':>8} {'weighted':>10} {'grad share':>10}"]
    for name, r in result.items():
        lines.append(f"{name:<28} {r['loss']:>10.3f} {r['weight']:>8.3g} {r['weighted']:>10.3f} "
                     f"{100 * r['grad_share']:>9.1f}%")
    return "\n".join(lines)


def main(cmd: Optional[Sequence[str]] = None) -> int:
    own, rest = report_parser().parse_known_args(cmd)
    task_parser = DurepTask.get_parser()
    args = task_parser.parse_args(rest)
    torch.manual_seed(args.seed)
    model = DurepTask.build_model(args)
    if own.init_model:
        state = torch.load(own.init_model, map_location="cpu", weights_only=True)
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("kd_")]  # training-only heads start fresh
        if missing or unexpected:
            raise SystemExit(f"{own.init_model} does not fit the model: missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}")
    if not hasattr(model, "loss_terms"):
        raise SystemExit(f"model {type(model).__name__} has no distillation terms to report")
    preprocess = DurepTask.build_preprocess_fn(args, train=False)
    batches = load_batches(Path(own.data_dir), preprocess, own.num_batches, own.utts_per_batch, args.seed)
    result = measure(model, batches)
    if not result:
        raise SystemExit(f"{args.config} enables no distillation term (every *_kd_weight is 0)")
    print(f"{len(batches)} batches x {own.utts_per_batch} utterances of {own.data_dir}; "
          f"model {type(model).__name__}, {'teacher attached' if getattr(model, 'teacher', None) else 'no teacher'}")
    print(format_table(result))
    if own.output_json:
        Path(own.output_json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
