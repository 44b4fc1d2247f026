"""Tied-and-reduced prediction network and tied joint network: tying, context, parameter count."""
from __future__ import annotations

import pytest
import torch

import espnet_durep.tasks.durep  # noqa: F401  (the task registers the decoder)
from espnet_durep._offline import import_offline
from espnet_durep.decoder.tied_reduced import TiedJointNetwork, TiedReducedPredictionNetwork

torch.set_num_threads(1)
V, D = 11, 24


def make(embed_dim=8, context_size=2, use_layer_norm=True, seed=0, **kwargs):
    torch.manual_seed(seed)
    decoder = TiedReducedPredictionNetwork(V, D, embed_dim=embed_dim, context_size=context_size,
                                           use_layer_norm=use_layer_norm, **kwargs)
    return decoder, TiedJointNetwork(D, decoder)


def test_output_layer_is_the_embedding_parameter():
    decoder, joint = make()
    assert joint.output.weight is decoder.embed.weight
    optim = torch.optim.SGD(joint.parameters(), lr=0.1)
    before = decoder.embed.weight.detach().clone()
    logits = joint(torch.randn(2, 5, D), decoder(torch.tensor([[1, 2, 3], [4, 5, 0]])))
    logits.logsumexp(-1).sum().backward()
    optim.step()
    assert joint.output.weight is decoder.embed.weight
    assert not torch.equal(before, decoder.embed.weight)
    state = joint.state_dict()
    assert state["output.weight"].data_ptr() == decoder.state_dict()["embed.weight"].data_ptr()


@pytest.mark.parametrize("init", [None, "xavier_uniform", "kaiming_normal", "chainer"])
def test_untrained_joint_is_not_confident(init):
    """The tied embedding starts at an output layer's scale, also after ESPnet's ``init``."""
    from espnet2.torch_utils.initialize import initialize

    torch.manual_seed(0)
    decoder = TiedReducedPredictionNetwork(31, 144, embed_dim=144)
    joint = TiedJointNetwork(144, decoder, joint_activation_type="tanh")
    if init is not None:
        initialize(torch.nn.ModuleDict({"decoder": decoder, "joint": joint}), init)
    assert decoder.embed.weight.std().item() == pytest.approx(144 ** -0.5, rel=0.05)
    logits = joint(torch.randn(2, 50, 144), decoder(torch.randint(1, 31, (2, 10))))
    top = logits.softmax(-1).max(-1).values.mean().item()
    assert top < 0.2, f"mean top posterior {top:.2f} of an untrained joint over 31 tokens"


@pytest.mark.parametrize("embed_dim,context_size,use_layer_norm", [(8, 2, True), (16, 1, False), (6, 4, True)])
def test_parameter_count_matches_the_formula(embed_dim, context_size, use_layer_norm):
    decoder, joint = make(embed_dim, context_size, use_layer_norm)
    e, n = embed_dim, context_size
    predictor = V * e + n * e + (2 * e if use_layer_norm else 0)
    joiner = D * e + e + e * e + V  # encoder projection, prediction projection, output bias (weight tied)
    assert sum(p.numel() for p in decoder.parameters()) == predictor
    assert sum(p.numel() for p in joint.parameters()) == joiner + V * e  # the tied weight, counted once
    both = {id(p): p for m in (decoder, joint) for p in m.parameters()}
    assert sum(p.numel() for p in both.values()) == predictor + joiner


def test_prediction_depends_only_on_the_last_n_labels():
    decoder, _ = make(context_size=2)
    labels = torch.tensor([[3, 4, 5, 6, 7]])
    out = decoder(labels)
    assert out.shape == (1, 6, 8)
    torch.testing.assert_close(out[:, 0], decoder.score_context(decoder.initial_context(1)))
    for u in range(6):  # output u reads labels u-2, u-1 (blank before the start)
        context = ([0, 0] + labels[0].tolist())[u:u + 2]
        torch.testing.assert_close(out[0, u], decoder.score_context(torch.tensor(context)))
    changed = labels.clone()
    changed[0, 1] = 9  # label 1 is in the context of outputs 2 and 3 only
    diff = (decoder(changed) - out).abs().sum(-1)[0]
    assert diff[[0, 1, 4, 5]].max() == 0 and diff[[2, 3]].min() > 0


def test_blank_is_a_learned_context_and_output_row():
    decoder, joint = make()
    assert decoder.embed.weight[decoder.blank_id].abs().sum() > 0
    out = decoder(torch.tensor([[2]]))
    out.sum().backward()
    assert decoder.embed.weight.grad[decoder.blank_id].abs().sum() > 0


def test_joint_composition_used_by_the_search_equals_forward():
    decoder, joint = make()
    enc, pred = torch.randn(2, 3, D), decoder(torch.tensor([[1, 2], [3, 4]]))
    lattice = joint(enc, pred)
    assert lattice.shape == (2, 3, 3, V)
    node = joint.logits(joint.hidden(joint.project_encoder(enc[1, 2]), joint.project_prediction(pred[1, 1])))
    torch.testing.assert_close(node, lattice[1, 2, 1])


def test_built_by_espnet_decoder_choice():
    asr = import_offline("espnet2.tasks.asr")
    cls = asr.decoder_choices.get_class("tied_reduced")
    decoder = cls(vocab_size=V, encoder_output_size=D, embed_dim=4)
    assert isinstance(decoder, TiedReducedPredictionNetwork) and decoder.output_size() == 4


@pytest.mark.parametrize("bad,match", [({"context_size": 0}, "context_size"), ({"activation": "gelu2"}, "activation"),
                                       ({"blank_id": V}, "blank_id"), ({"embed_dim": 0}, "embed_dim")])
def test_bad_options_are_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        TiedReducedPredictionNetwork(V, D, **bad)


def test_bad_joint_activation():
    decoder, _ = make()
    with pytest.raises(ValueError, match="joint_activation_type"):
        TiedJointNetwork(D, decoder, joint_activation_type="sigmoid")
