"""Probe heads on frozen layer stacks (SUPERB style), and their training loop.

Features of one utterance are a stack (L, T, D) of layer outputs. A probe normalises each
layer (layers differ in scale, and the weights should compare what they hold, not their
size), mixes them with softmax weights (learned, or fixed to one layer), then either
mean-pools over time and classifies (utterance level) or applies a linear CTC head per
frame (frame level).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch
from torch import nn

from espnet_durep.layers.masking import masked_mean
from espnet_durep.probe.tasks import ProbeTask


class LayerMix(nn.Module):
    """Softmax-weighted sum of L layers; ``fixed_layer`` pins all weight on one (index into the stack)."""

    def __init__(self, num_layers: int, fixed_layer: Optional[int] = None):
        super().__init__()
        self.fixed_layer = fixed_layer
        self.logits = nn.Parameter(torch.zeros(num_layers), requires_grad=fixed_layer is None)

    def weights(self) -> torch.Tensor:
        if self.fixed_layer is not None:
            return torch.nn.functional.one_hot(torch.tensor(self.fixed_layer), self.logits.numel()).float()
        return torch.softmax(self.logits, dim=0)

    def forward(self, stack: torch.Tensor) -> torch.Tensor:
        """(B, L, T, D) -> (B, T, D)."""
        return torch.einsum("l,bltd->btd", self.weights().to(stack), stack)


class Probe(nn.Module):
    def __init__(self, num_layers: int, dim: int, num_classes: int, level: str, fixed_layer: Optional[int] = None):
        super().__init__()
        if level not in ("utterance", "frame"):
            raise ValueError(f"level must be 'utterance' or 'frame', got {level!r}")
        self.level = level
        self.mix = LayerMix(num_layers, fixed_layer)
        self.dim = dim
        self.head = nn.Linear(dim, num_classes)

    def forward(self, stack: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, L, T, D), (B,) -> (B, C) logits (utterance) or (B, T, C) log-probs (frame)."""
        x = self.mix(nn.functional.layer_norm(stack, (self.dim,)))
        if self.level == "frame":
            return torch.log_softmax(self.head(x), dim=-1)
        return self.head(masked_mean(x, lengths))


@dataclass
class ProbeResult:
    task: str
    metric: str                 # "accuracy" (utterance) | "cer" (frame, greedy CTC)
    value: float
    layer_weights: List[float]


def _batch(stacks: Sequence[torch.Tensor]):
    lengths = torch.tensor([s.size(1) for s in stacks])
    out = stacks[0].new_zeros(len(stacks), stacks[0].size(0), int(lengths.max()), stacks[0].size(2))
    for i, s in enumerate(stacks):
        out[i, :, : s.size(1)] = s
    return out, lengths


def _edit_distance(a: Sequence[int], b: Sequence[int]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def _greedy(log_probs: torch.Tensor, length: int) -> List[int]:
    out, last = [], 0
    for t in log_probs[:length].argmax(-1).tolist():
        if t != 0 and t != last:
            out.append(t)
        last = t
    return out


def train_probe(task: ProbeTask, feats: Dict[str, torch.Tensor], fixed_layer: Optional[int] = None,
                epochs: int = 20, batch_size: int = 16, lr: float = 1e-3, mix_lr: float = 1e-2,
                seed: int = 0) -> ProbeResult:
    """Train on ``task.train_utts``, evaluate on ``task.test_utts``; feats: utt -> (L, T, D).

    ``mix_lr`` is the learning rate of the layer weights (a few logits, which at the head's
    rate would hardly move from uniform in a few hundred updates)."""
    torch.manual_seed(seed)
    train = [u for u in task.train_utts if u in feats]
    test = [u for u in task.test_utts if u in feats]
    if not train or not test:
        raise ValueError(f"probe task {task.name}: {len(train)} training and {len(test)} test utterances with features")
    num_layers, _, dim = feats[train[0]].shape
    probe = Probe(num_layers, dim, len(task.classes), task.level, fixed_layer)
    groups = [{"params": list(probe.head.parameters()), "lr": lr}]
    if fixed_layer is None:
        groups.append({"params": [probe.mix.logits], "lr": mix_lr})
    optim = torch.optim.Adam(groups)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    order = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(train), generator=order).tolist()
        for start in range(0, len(train), batch_size):
            utts = [train[i] for i in perm[start:start + batch_size]]
            stack, lengths = _batch([feats[u] for u in utts])
            out = probe(stack, lengths)
            if task.level == "utterance":
                loss = nn.functional.cross_entropy(out, torch.tensor([task.labels[u] for u in utts]))
            else:
                targets = [torch.tensor(task.labels[u]) for u in utts]
                loss = ctc(out.transpose(0, 1), torch.cat(targets), lengths,
                           torch.tensor([len(t) for t in targets]))
            optim.zero_grad()
            loss.backward()
            optim.step()
    probe.eval()
    with torch.no_grad():
        if task.level == "utterance":
            correct = sum(int(probe(*_batch([feats[u]])).argmax(-1)) == task.labels[u] for u in test)
            value, metric = correct / len(test), "accuracy"
        else:
            errors = sum(_edit_distance(_greedy(probe(*_batch([feats[u]]))[0], feats[u].size(1)), task.labels[u])
                         for u in test)
            value, metric = errors / max(1, sum(len(task.labels[u]) for u in test)), "cer"
    return ProbeResult(task.name, metric, value, probe.mix.weights().tolist())
