"""Attention rescoring: scores equal a hand computation from the decoder's own outputs; the
prefix-shared decoder equals ESPnet's decoder forward."""
import copy

import numpy as np
import pytest
import torch

from espnet_durep.search.base import Hypothesis
from espnet_durep.search.rescoring import attention_rescore
from espnet_durep.model.inference import RescoringDecoder, decoder_log_probs
from espnet_durep.tasks.durep import DurepTask
from tiny_asr import TINY_CONFIG, build_args


@torch.no_grad()
def test_rescoring_combines_ctc_and_attention_scores(tmp_path):
    torch.manual_seed(0)
    model = DurepTask.build_model(build_args(tmp_path, copy.deepcopy(TINY_CONFIG))).eval()
    enc = torch.randn(9, 32)
    hyps = [Hypothesis([2, 3], -1.0), Hypothesis([4], -2.0), Hypothesis([], -5.0)]
    rescored = attention_rescore(decoder_log_probs(model.decoder, enc), hyps, model.sos, model.eos, ctc_weight=0.25)
    by_tokens = {tuple(h.tokens): h.score for h in rescored}
    for h in hyps:
        ys_in = torch.tensor([[model.sos, *h.tokens]])
        logits, _ = model.decoder(enc[None], torch.tensor([9]), ys_in, torch.tensor([len(h.tokens) + 1]))
        logp = torch.log_softmax(logits[0], -1)
        att = sum(float(logp[i, t]) for i, t in enumerate([*h.tokens, model.eos]))
        assert by_tokens[tuple(h.tokens)] == pytest.approx(0.25 * h.score + 0.75 * att, abs=1e-4)
    assert [h.score for h in rescored] == sorted((h.score for h in rescored), reverse=True)


@torch.no_grad()
def test_prefix_shared_decoder_equals_the_decoder_forward_and_decodes_each_prefix_once(tmp_path):
    torch.manual_seed(0)
    model = DurepTask.build_model(build_args(tmp_path, copy.deepcopy(TINY_CONFIG))).eval()
    enc = torch.randn(1, 9, 32)
    sos, pad = model.sos, model.eos
    ys_in = torch.tensor([[sos, 2, 3, 4, 5], [sos, 2, 3, pad, pad], [sos, 2, 6, 4, pad], [sos, pad, pad, pad, pad],
                          [sos, 2, 3, 4, 5], [sos, 7, 3, 4, pad]])  # shared prefixes, a duplicate, an empty one
    lens = torch.tensor([5, 3, 4, 1, 5, 4])
    memory_rows, decoded = [], []
    hooks = [layer.src_attn.linear_k.register_forward_hook(lambda m, i, o: memory_rows.append(i[0].shape[:-1]))
             for layer in model.decoder.decoders]
    hooks.append(model.decoder.output_layer.register_forward_hook(lambda m, i, o: decoded.append(i[0].shape[:-1])))
    got = RescoringDecoder(model.decoder)(enc, ys_in, lens)
    for h in hooks:
        h.remove()
    assert memory_rows == [(1, 9)] * len(model.decoder.decoders)  # the encoder output projected once per layer
    # distinct prefixes: sos | 2 | 2 3 | 2 3 4 | 2 3 4 5 | 2 6 | 2 6 4 | 7 | 7 3 | 7 3 4
    assert decoded == [(10,)]
    logits, _ = model.decoder(enc.expand(6, -1, -1), torch.tensor([9] * 6), ys_in, lens)
    want = torch.log_softmax(logits, -1)
    for i, n in enumerate(lens.tolist()):  # padded steps are not used
        torch.testing.assert_close(got[i, :n], want[i, :n], atol=1e-5, rtol=0)


@torch.no_grad()
def test_other_espnet_decoders_rescore_with_their_own_forward():
    from espnet2.asr.decoder.rnn_decoder import RNNDecoder

    torch.manual_seed(0)
    decoder = RNNDecoder(vocab_size=8, encoder_output_size=6, hidden_size=6, num_layers=1).eval()
    assert "has no 'decoders'" in RescoringDecoder.unsupported(decoder)
    with pytest.raises(ValueError, match="RNNDecoder"):
        RescoringDecoder(decoder)
    enc = torch.randn(5, 6)
    ys_in = np.array([[7, 2, 3], [7, 4, 7]])
    lens = np.array([3, 2])
    logits, _ = decoder(enc[None].expand(2, -1, -1), torch.tensor([5, 5]), torch.from_numpy(ys_in), torch.from_numpy(lens))
    np.testing.assert_allclose(decoder_log_probs(decoder, enc)(ys_in, lens), torch.log_softmax(logits, -1).numpy(),
                               atol=1e-6)
