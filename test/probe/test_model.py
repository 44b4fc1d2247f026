"""Probes on a synthetic task with a known answer: only layer 1 carries the label."""
from __future__ import annotations

import torch

from espnet_durep.probe.model import LayerMix, train_probe
from espnet_durep.probe.tasks import ProbeTask


def synthetic(n_utts=80, informative=1, layers=3, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels, feats = {}, {}
    for i in range(n_utts):
        utt, label = f"u{i:03d}", i % 2
        stack = torch.randn(layers, 6 + i % 5, dim, generator=g)
        stack[informative, :, 0] += 2.0 if label else -2.0
        labels[utt], feats[utt] = label, stack
    task = ProbeTask("toy", "utterance", ["a", "b"], labels, sorted(labels)[: n_utts // 4])
    return task, feats


def test_weighted_probe_finds_the_informative_layer():
    task, feats = synthetic()
    weighted = train_probe(task, feats, epochs=30, lr=1e-2)
    assert weighted.metric == "accuracy" and weighted.value >= 0.9
    assert max(range(3), key=lambda k: weighted.layer_weights[k]) == 1 and weighted.layer_weights[1] > 0.5
    assert train_probe(task, feats, fixed_layer=1, epochs=30, lr=1e-2).value >= 0.9
    assert train_probe(task, feats, fixed_layer=0, epochs=30, lr=1e-2).value <= 0.75  # noise only


def test_fixed_layer_mix_is_one_hot():
    mix = LayerMix(4, fixed_layer=2)
    assert mix.weights().tolist() == [0.0, 0.0, 1.0, 0.0] and not mix.logits.requires_grad
    stack = torch.randn(1, 4, 3, 5)
    torch.testing.assert_close(mix(stack), stack[:, 2])
