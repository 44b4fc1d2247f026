"""Tiny dual-mode model configs built through DurepTask, as a user's YAML would build them.

Imported by tests (``from tiny_asr import TINY_CONFIG``) and by ``conftest.py``'s fixtures.
"""
from __future__ import annotations


import torch
import yaml

from espnet_durep.tasks.durep import DurepTask

TOKENS = ["<blank>", "<unk>", "a", "b", "c", "d", "e", "<sos/eos>"]

TINY_CONFIG = {
    "frontend": "default",
    "frontend_conf": {"n_fft": 256, "win_length": 200, "hop_length": 80, "n_mels": 20},
    "specaug": None,
    "normalize": None,
    "encoder": "dual_mode_conformer",
    "encoder_conf": {
        "output_size": 32, "attention_heads": 2, "linear_units": 48, "num_blocks": 2,
        "cnn_module_kernel": 5, "dropout_rate": 0.0, "positional_dropout_rate": 0.0,
        "chunk_size": 2, "dynamic_chunk_range": [1, 3],
    },
    "decoder": "transformer",
    "decoder_conf": {"attention_heads": 2, "linear_units": 48, "num_blocks": 1, "dropout_rate": 0.0,
                     "positional_dropout_rate": 0.0, "self_attention_dropout_rate": 0.0,
                     "src_attention_dropout_rate": 0.0},
    "model": "dual_mode",
    "model_conf": {"ctc_weight": 0.3, "lsm_weight": 0.0},
}


def build_args(tmp_path, config: dict, extra=()):
    """Parse a YAML config + token list exactly as the training CLI would."""
    token_list = tmp_path / "tokens.txt"
    token_list.write_text("\n".join(TOKENS) + "\n")
    cfg = tmp_path / f"config_{abs(hash(yaml.safe_dump(config))) % 10**8}.yaml"
    cfg.write_text(yaml.safe_dump(config))
    parser = DurepTask.get_parser()
    return parser.parse_args(["--config", str(cfg), "--token_list", str(token_list), *extra])


def save_experiment(tmp_path, name, config, extra=(), seed=1):
    """Build a model through the task and save it like ESPnet's trainer (config.yaml + .pth)."""
    exp = tmp_path / name
    exp.mkdir()
    args = build_args(exp, config, extra)
    torch.manual_seed(seed)
    model = DurepTask.build_model(args)
    (exp / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    torch.save(model.state_dict(), exp / "model.pth")
    return exp, model
