"""Tiny transducer configs built through DurepTask, as a user's YAML would build them.

Imported by the transducer tests (``from tiny_transducer import cascaded_config``).
"""
from __future__ import annotations

import copy

import torch

from espnet_durep.tasks.durep import DurepTask
from tiny_asr import TINY_CONFIG, build_args

CAUSAL = {
    "output_size": 32, "attention_heads": 2, "linear_units": 48, "num_blocks": 2, "cnn_module_kernel": 5,
    "dropout_rate": 0.0, "positional_dropout_rate": 0.0, "chunk_size": 2, "dynamic_chunk_range": [1, 3],
}
ENCODER_CONF = {
    "causal_conf": CAUSAL, "num_blocks": 1, "attention_heads": 2, "linear_units": 48, "cnn_module_kernel": 5,
    "dropout_rate": 0.0, "positional_dropout_rate": 0.0,
}


def cascaded_config(**model_conf) -> dict:
    config = copy.deepcopy(TINY_CONFIG)
    config.update(
        encoder="cascaded_conformer", encoder_conf=copy.deepcopy(ENCODER_CONF),
        decoder="tied_reduced", decoder_conf={"embed_dim": 16, "context_size": 2},
        joint_net_conf={"joint_activation_type": "tanh"},
        model="cascaded_transducer", model_conf={"streaming_weight": 0.5, **model_conf},
    )
    return config


def multi_decoder_config(integration: str = "cascaded", **model_conf) -> dict:
    config = cascaded_config()
    config["encoder_conf"]["integration"] = integration
    config["model"] = "multi_decoder_transducer"
    config["model_conf"] = {
        "streaming_weight": 0.5,
        "full_decoders": {"rnnt": 1.0, "ctc": 0.3, "attention": 0.3},
        "attention_decoder_conf": {"attention_heads": 2, "linear_units": 32, "num_blocks": 1, "dropout_rate": 0.0,
                                   "positional_dropout_rate": 0.0, "self_attention_dropout_rate": 0.0,
                                   "src_attention_dropout_rate": 0.0},
        **model_conf,
    }
    return config


def build(tmp_path, config: dict, extra=(), seed: int = 0):
    args = build_args(tmp_path, config, extra)
    torch.manual_seed(seed)
    return DurepTask.build_model(args)


def overfit(model, batch, steps: int, lr: float = 3e-3):
    """Train on one batch; returns the stats of the first and of the last step (None: not measured)."""
    optim = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    first = last = None
    for _ in range(steps):
        optim.zero_grad()
        loss, stats, _ = model(*[t.clone() for t in batch])
        loss.backward()
        optim.step()
        last = {k: None if v is None else float(v) for k, v in stats.items()}
        first = first or last
    return first, last
