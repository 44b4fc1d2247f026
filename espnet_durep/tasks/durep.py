"""DurepTask: ESPnet's ASR task plus the frozen distillation teacher and safe model loading.

Everything ESPnet's trainer offers (collect_stats, resume, n-best averaging, multi-GPU /
DDP) is inherited from :class:`espnet2.tasks.asr.ASRTask`.  On top of it:

* ``--teacher_asr_train_config`` / ``--teacher_asr_model_file`` name a trained ESPnet
  experiment whose model supervises the student.  The teacher is loaded only for
  training — never during collect_stats or when a model is built from files for
  inference — and must share the student's token list and frame rate.
* :meth:`build_model_from_file` loads weights with ``weights_only=True`` and drops the
  training-only distillation heads, so inference models have no extra parameters.
* Transducer models (:class:`~espnet_durep.model.transducer.TransducerASRModel`) build
  their tied joint network themselves from ESPnet's top-level ``joint_net_conf`` (ESPnet
  only builds a joint network for ``decoder: transducer``).
* Configs written before the mode vocabulary was unified still build: :meth:`build_model`
  (which training, inference and the teacher's loading all go through) renames their
  legacy ``model_conf`` keys (:data:`LEGACY_MODEL_CONF`) with a deprecation message, and
  legacy mode values (``mode_schedule: stream``, ``default_mode: stream``, ``kd_passes:
  [stream, ...]``) are translated by the constructors (:func:`espnet_durep.modes.canonical_mode`).
"""
from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path
from typing import Optional, Tuple, Union

import torch
import yaml
from espnet2.utils.types import str_or_none

from espnet_durep._offline import import_offline
from espnet_durep.encoder.dual_mode_conformer import DualModeConformerEncoder
from espnet_durep.model.export import strip_training_only
from espnet_durep.model.transducer import TransducerASRModel
from espnet_durep.registry import register_all

_asr = import_offline("espnet2.tasks.asr")
ASRTask = _asr.ASRTask
register_all()  # our encoders, decoders and models become choices of the task's options

# model_conf keys renamed with the mode vocabulary ("stream" -> "streaming"): old key -> new key
LEGACY_MODEL_CONF = {"stream_weight": "streaming_weight", "stream_prob": "streaming_prob"}


def _token_list(value: Union[str, list, tuple, None]) -> list:
    if isinstance(value, str):
        with open(value, encoding="utf-8") as f:
            return [line.rstrip() for line in f]
    return list(value or [])


def _renamed_model_conf(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with the legacy keys of its ``model_conf`` renamed (a copy: ``args`` is not changed)."""
    model_conf = getattr(args, "model_conf", None) or {}
    legacy = [key for key in LEGACY_MODEL_CONF if key in model_conf]
    if not legacy:
        return args
    renamed = dict(model_conf)
    for old in legacy:
        new = LEGACY_MODEL_CONF[old]
        if new in renamed:
            raise ValueError(f"model_conf has both {old} (its old name) and {new}; keep only {new}")
        renamed[new] = renamed.pop(old)
        message = f"model_conf.{old} is deprecated, write model_conf.{new} instead"
        warnings.warn(message, DeprecationWarning, stacklevel=3)
        logging.warning(message)
    return argparse.Namespace(**{**vars(args), "model_conf": renamed})


def _frame_rate(args: argparse.Namespace, model) -> Tuple[Optional[int], Optional[int]]:
    """(feature hop in samples, encoder subsampling) of a model built from ``args``."""
    hop = (getattr(args, "frontend_conf", None) or {}).get("hop_length", 128)
    return hop, getattr(model.encoder, "subsampling", None)


class DurepTask(ASRTask):
    """ASRTask with dual-mode models and teacher distillation."""

    # What ``durep_train --print_config`` and a config without these keys get.
    DEFAULT_CHOICES = {"model": "dual_mode", "encoder": "dual_mode_conformer", "decoder": "transformer"}

    @classmethod
    def get_parser(cls) -> argparse.ArgumentParser:
        parser = super().get_parser()
        parser.set_defaults(**cls.DEFAULT_CHOICES)
        return parser

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser):
        super().add_task_arguments(parser)
        group = parser.add_argument_group(description="Distillation teacher (training only)")
        group.add_argument("--teacher_asr_train_config", type=str_or_none, default=None,
                           help="config.yaml of the trained teacher ASR experiment")
        group.add_argument("--teacher_asr_model_file", type=str_or_none, default=None,
                           help="model .pth of the trained teacher ASR experiment")

    @classmethod
    def _build_student(cls, args: argparse.Namespace):
        """ESPnet's build, with ``joint_net_conf`` handed to transducer models."""
        model_class = _asr.model_choices.get_class(getattr(args, "model", None) or "espnet")
        if not issubclass(model_class, TransducerASRModel):
            return super().build_model(args)
        if "joint_net_conf" in args.model_conf:
            raise ValueError("give joint_net_conf at the top level of the config, not inside model_conf")
        joint_net_conf = dict(getattr(args, "joint_net_conf", None) or {})
        return super().build_model(argparse.Namespace(**{**vars(args), "model_conf": {
            **args.model_conf, "joint_net_conf": joint_net_conf}}))

    @classmethod
    def build_model(cls, args: argparse.Namespace, for_inference: bool = False):
        """The model of ``args``, with its distillation teacher attached unless ``for_inference``
        (or collecting statistics, or the model uses none).  Legacy ``model_conf`` keys are
        renamed (in a copy of ``args``) with a deprecation message."""
        args = _renamed_model_conf(args)
        model = cls._build_student(args)
        teacher_config = getattr(args, "teacher_asr_train_config", None)
        teacher_file = getattr(args, "teacher_asr_model_file", None)
        wants_teacher = getattr(model, "uses_teacher", False)
        if for_inference or getattr(args, "collect_stats", False) or not wants_teacher:
            return model
        if teacher_config is None or teacher_file is None:
            raise ValueError(
                "model_conf asks for teacher distillation (teacher_*_kd_weight > 0) but "
                "--teacher_asr_train_config / --teacher_asr_model_file are not both given")
        teacher, teacher_args = cls.build_model_from_file(teacher_config, teacher_file, "cpu")
        cls.check_teacher_compatible(args, model, teacher_args, teacher, teacher_config)
        model.attach_teacher(teacher)
        logging.info("Distillation teacher: %s (%d parameters, frozen)", teacher_file,
                     sum(p.numel() for p in teacher.parameters()))
        return model

    @staticmethod
    def check_teacher_compatible(args, model, teacher_args, teacher, teacher_config) -> None:
        """Teacher and student must share the token list and the encoder frame rate."""
        student_cfg = getattr(args, "config", None) or "the student config"
        student_tokens = _token_list(args.token_list)
        teacher_tokens = _token_list(teacher_args.token_list)
        if student_tokens != teacher_tokens:
            first = next((i for i, (a, b) in enumerate(zip(student_tokens, teacher_tokens)) if a != b),
                         min(len(student_tokens), len(teacher_tokens)))
            raise ValueError(
                f"token lists differ between student ({student_cfg}: {len(student_tokens)} tokens) and "
                f"teacher ({teacher_config}: {len(teacher_tokens)} tokens), first difference at index "
                f"{first}; train both with the same token_list")
        if _frame_rate(args, model) != _frame_rate(teacher_args, teacher):
            raise ValueError(
                f"frame rates differ: student ({student_cfg}) hop/subsampling {_frame_rate(args, model)} vs "
                f"teacher ({teacher_config}) {_frame_rate(teacher_args, teacher)}")
        check_teacher = getattr(model, "check_teacher", None)
        if check_teacher is not None:
            check_teacher(teacher, teacher_config)
        if getattr(model, "teacher_layer_kd_weight", 0) > 0 or getattr(model, "teacher_discrete_kd_weight", 0) > 0:
            if not isinstance(teacher.encoder, DualModeConformerEncoder):
                raise ValueError(
                    f"layer/discrete distillation needs a teacher with the dual_mode_conformer encoder (its "
                    f"block outputs and modes); {teacher_config} has {type(teacher.encoder).__name__}")

    @classmethod
    def build_model_from_file(
        cls,
        config_file: Optional[Union[Path, str]] = None,
        model_file: Optional[Union[Path, str]] = None,
        device: str = "cpu",
    ):
        """Inference model from an experiment: safe weights, no teacher, no ``kd_*`` heads."""
        if config_file is None:
            if model_file is None:
                raise ValueError("give config_file or model_file")
            config_file = Path(model_file).parent / "config.yaml"
        with open(config_file, encoding="utf-8") as f:
            args = argparse.Namespace(**yaml.safe_load(f))
        model = cls.build_model(args, for_inference=True)
        if model_file is not None:
            state = strip_training_only(torch.load(model_file, map_location="cpu", weights_only=True))
            missing, unexpected = model.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise RuntimeError(f"{model_file} does not match {config_file}: "
                                   f"missing keys {missing[:5]}, unexpected keys {unexpected[:5]}")
        model.to(device)
        return model, args
