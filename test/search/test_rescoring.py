"""Attention rescoring: scores equal a hand computation from the decoder's own outputs."""
import copy

import pytest
import torch

from espnet_durep.search.base import Hypothesis
from espnet_durep.search.rescoring import attention_rescore
from espnet_durep.model.inference import decoder_log_probs
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
