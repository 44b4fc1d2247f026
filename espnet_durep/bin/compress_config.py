#!/usr/bin/env python3
"""Derive a compressed, distilled cascaded-transducer student config from its teacher's config.

    python -m espnet_durep.bin.compress_config --teacher_config conf/train_transducer_teacher.yaml \\
        --compression_ratio 0.5 --out conf/train_transducer_student.yaml \\
        [--token_list data/token_list/bpe_unigram300/tokens.txt] \\
        [--teacher_asr_train_config exp/teacher/config.yaml --teacher_asr_model_file exp/teacher/valid.loss.ave.pth]

As in arXiv 2312.09842, only the parts that run in streaming mode shrink: the causal
encoder's depth (``num_blocks``) and feed-forward width (``linear_units``) and the
prediction network's width (``embed_dim``, also the joint space) are multiplied by
``compression_ratio``; the shallow non-causal encoder and the model width
(``output_size``, shared by both encoders) are kept.  The student gets transducer
posterior KD from the teacher (``teacher_rnnt_kd_weight``, ``rnnt_kd_conf``) and, when
given, the teacher experiment's files.  Both models are built to print their parameter
counts.
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

import torch
import yaml

from espnet_durep.tasks.durep import DurepTask

SCALED_CAUSAL = ("num_blocks", "linear_units")
SCALED_DECODER = ("embed_dim",)
TRANSDUCER_MODELS = ("cascaded_transducer", "multi_decoder_transducer")


def _scale(value: int, ratio: float) -> int:
    return max(1, int(round(value * ratio)))


def compress_config(
    teacher: dict,
    compression_ratio: float,
    kd_weight: float = 1.0,
    kd_kind: str = "collapsed",
    teacher_asr_train_config: Optional[str] = None,
    teacher_asr_model_file: Optional[str] = None,
) -> dict:
    """Student config from a teacher config dict (the teacher is not modified).

    Raises ValueError for a ratio outside (0, 1] or a config that is not a cascaded
    transducer with explicit causal ``num_blocks`` / ``linear_units`` and decoder ``embed_dim``.
    """
    if not 0.0 < compression_ratio <= 1.0:
        raise ValueError(f"compression_ratio must be in (0, 1], got {compression_ratio}")
    if teacher.get("model") not in TRANSDUCER_MODELS or teacher.get("encoder") != "cascaded_conformer":
        raise ValueError(f"the teacher config must use model {' or '.join(TRANSDUCER_MODELS)} with encoder "
                         f"cascaded_conformer, got model {teacher.get('model')!r}, encoder {teacher.get('encoder')!r}")
    student = copy.deepcopy(teacher)
    causal = student.setdefault("encoder_conf", {}).setdefault("causal_conf", {})
    decoder = student.setdefault("decoder_conf", {})
    missing = [f"encoder_conf.causal_conf.{k}" for k in SCALED_CAUSAL if k not in causal]
    missing += [f"decoder_conf.{k}" for k in SCALED_DECODER if k not in decoder]
    if missing:
        raise ValueError(f"the teacher config must set {missing} explicitly (they are scaled)")
    for key in SCALED_CAUSAL:
        causal[key] = _scale(causal[key], compression_ratio)
    for key in SCALED_DECODER:
        decoder[key] = _scale(decoder[key], compression_ratio)
    model_conf = student.setdefault("model_conf", {})
    model_conf["teacher_rnnt_kd_weight"] = kd_weight
    model_conf["rnnt_kd_conf"] = {**model_conf.get("rnnt_kd_conf", {}), "kind": kd_kind}
    for key, value in (("teacher_asr_train_config", teacher_asr_train_config),
                       ("teacher_asr_model_file", teacher_asr_model_file)):
        if value is not None:
            student[key] = value
    return student


def count_parameters(config: dict, token_list: List[str]) -> int:
    """Parameters of the model ``config`` builds (feature statistics and teacher not loaded)."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg, tokens = Path(tmp) / "config.yaml", Path(tmp) / "tokens.txt"
        cfg.write_text(yaml.safe_dump(config))
        tokens.write_text("\n".join(token_list) + "\n")
        args = DurepTask.get_parser().parse_args(
            ["--config", str(cfg), "--token_list", str(tokens), "--collect_stats", "true"])
        args.normalize = None  # global_mvn statistics have no parameters
        model = DurepTask.build_model(args)
    return sum(p.numel() for p in model.parameters())


def _read_tokens(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher_config", required=True, help="training YAML of the cascaded teacher")
    parser.add_argument("--compression_ratio", type=float, default=0.5,
                        help="factor on causal depth / FFN width and prediction-network width")
    parser.add_argument("--out", required=True, help="student YAML to write")
    parser.add_argument("--token_list", default=None,
                        help="token list to count parameters with (default: the teacher config's)")
    parser.add_argument("--kd_weight", type=float, default=1.0, help="teacher_rnnt_kd_weight of the student")
    parser.add_argument("--kd_kind", default="collapsed", choices=("full", "collapsed"), help="RNN-T KD kind")
    parser.add_argument("--teacher_asr_train_config", default=None, help="teacher experiment config.yaml")
    parser.add_argument("--teacher_asr_model_file", default=None, help="teacher experiment model .pth")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    with open(args.teacher_config, encoding="utf-8") as f:
        teacher = yaml.safe_load(f)
    student = compress_config(teacher, args.compression_ratio, args.kd_weight, args.kd_kind,
                              args.teacher_asr_train_config, args.teacher_asr_model_file)
    token_source = args.token_list or teacher.get("token_list")
    if token_source is None:
        raise SystemExit("give --token_list: the teacher config has no token_list to count parameters with")
    tokens = token_source if isinstance(token_source, list) else _read_tokens(token_source)
    torch.manual_seed(0)
    n_teacher, n_student = count_parameters(teacher, tokens), count_parameters(student, tokens)
    header = (f"# Student of {args.teacher_config}, compression_ratio {args.compression_ratio} "
              f"(espnet_durep.bin.compress_config)\n"
              f"# parameters ({len(tokens)} tokens): teacher {n_teacher}, student {n_student} "
              f"({n_student / n_teacher:.2f} x)\n")
    Path(args.out).write_text(header + yaml.safe_dump(student, sort_keys=False))
    print(f"teacher parameters: {n_teacher}")
    print(f"student parameters: {n_student} ({n_student / n_teacher:.2f} x teacher)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
