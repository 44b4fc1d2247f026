"""TransducerSearch: greedy and beam references, exact n-best on a tiny lattice, incremental == one call."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from espnet_durep.decoder.tied_reduced import TiedJointNetwork, TiedReducedPredictionNetwork
from espnet_durep.decoder.transducer_search import TransducerSearch
from espnet_durep.search.base import StreamingSearch

torch.set_num_threads(1)
D = 12


def heads(vocab=9, seed=0, scale=3.0):
    torch.manual_seed(seed)
    decoder = TiedReducedPredictionNetwork(vocab, D, embed_dim=10, context_size=2)
    joint = TiedJointNetwork(D, decoder)
    with torch.no_grad():  # peaky, varied posteriors, so that labels are emitted
        joint.lin_enc.weight.mul_(scale)
        decoder.position_weights.normal_()  # the context's order matters (ones would make it a bag)
        joint.output.bias[0] = 1.0
    return decoder.eval(), joint.eval()


def reference_greedy(decoder, joint, enc, max_symbols):
    """Argmax decoding written directly from the lattice definition (joint(enc, pred))."""
    tokens, frames, score = [], [], 0.0
    with torch.no_grad():
        for t in range(enc.size(0)):
            for _ in range(max_symbols):
                pred = decoder(torch.tensor([tokens], dtype=torch.long))[:, -1:]
                logp = joint(enc[None, t:t + 1], pred)[0, 0, 0].log_softmax(-1)
                best = int(logp.argmax())
                score += float(logp[best])
                if best == decoder.blank_id:
                    break
                tokens.append(best)
                frames.append(t)
    return tokens, frames, score


def run(search, enc, splits=None):
    search.reset()
    bounds = [0, *(splits or []), enc.size(0)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        search.advance(enc[a:b])
    return search.finalize()


@pytest.mark.parametrize("max_symbols", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_one_is_greedy(max_symbols, seed):
    decoder, joint = heads(seed=seed)
    enc = torch.randn(15, D, generator=torch.Generator().manual_seed(seed))
    tokens, frames, score = reference_greedy(decoder, joint, enc, max_symbols)
    assert tokens, "the toy posteriors must emit labels"
    [hyp] = run(TransducerSearch(decoder, joint, beam_size=1, max_symbols_per_frame=max_symbols), enc)
    assert hyp.tokens == tokens and hyp.token_frames == frames
    assert hyp.score == pytest.approx(score, abs=1e-4)


def test_wide_beam_is_the_exact_nbest_of_a_tiny_lattice():
    """One symbol per frame, no pruning: n-best == exhaustive sum over alignments."""
    decoder, joint = heads(vocab=4, seed=3, scale=1.0)
    enc = torch.randn(3, D, generator=torch.Generator().manual_seed(3))
    totals = {}
    with torch.no_grad():
        for choice in itertools.product(range(4), repeat=enc.size(0)):  # blank or one label per frame
            tokens, score = [], 0.0
            for t, c in enumerate(choice):
                pred = decoder(torch.tensor([tokens], dtype=torch.long))[:, -1:]
                score += float(joint(enc[None, t:t + 1], pred)[0, 0, 0].log_softmax(-1)[c])
                if c != decoder.blank_id:
                    tokens.append(c)
            key = tuple(tokens)
            totals[key] = float(torch.logaddexp(torch.tensor(totals.get(key, -math.inf)), torch.tensor(score)))
    expected = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:5]
    search = TransducerSearch(decoder, joint, beam_size=64, max_symbols_per_frame=1, nbest=5)
    got = run(search, enc)
    assert [tuple(h.tokens) for h in got] == [k for k, _ in expected]
    assert [h.score for h in got] == pytest.approx([v for _, v in expected], abs=1e-4)


def reference_beam(decoder, joint, enc, beam_size, max_symbols):
    """The search's pruning and merging rules over token tuples, each hypothesis scored from
    its whole label history through the lattice definition (no trie, no prediction cache)."""
    beam = [((), 0.0, ())]  # (tokens, score, token frames)
    with torch.no_grad():
        for t in range(enc.size(0)):
            done, active = {}, beam
            for _ in range(max_symbols):
                rows = [joint(enc[None, t:t + 1], decoder(torch.tensor([list(h[0])], dtype=torch.long))[:, -1:])
                        [0, 0, 0].log_softmax(-1) + h[1] for h in active]
                scores = torch.stack(rows)
                best, index = scores.flatten().topk(min(beam_size, scores.numel()))
                nxt = []
                for score, flat in zip(best.tolist(), index.tolist()):
                    (tokens, _, frames), token = active[flat // scores.size(1)], flat % scores.size(1)
                    if token == decoder.blank_id:
                        merge_reference(done, (tokens, score, frames))
                    else:
                        nxt.append((tokens + (token,), score, frames + (t,)))
                active = nxt
                if not active:
                    break
            for hyp in active:
                merge_reference(done, hyp)
            beam = sorted(done.values(), key=lambda h: h[1], reverse=True)[:beam_size]
    return beam


def merge_reference(pool, hyp):
    other = pool.get(hyp[0])
    if other is None:
        pool[hyp[0]] = hyp
        return
    best = hyp if hyp[1] > other[1] else other
    pool[hyp[0]] = (best[0], float(torch.logaddexp(torch.tensor(hyp[1]), torch.tensor(other[1]))), best[2])


@pytest.mark.parametrize("seed", [6, 7])
def test_beam_equals_the_reference_over_token_tuples(seed):
    decoder, joint = heads(seed=seed)
    enc = torch.randn(18, D, generator=torch.Generator().manual_seed(seed))
    expected = reference_beam(decoder, joint, enc, beam_size=4, max_symbols=3)
    got = run(TransducerSearch(decoder, joint, beam_size=4, max_symbols_per_frame=3, nbest=4), enc, [5, 11])
    assert sum(len(h[0]) for h in expected) > 10, "the toy posteriors must emit labels"
    assert [(h.tokens, h.token_frames) for h in got] == [(list(h[0]), list(h[2])) for h in expected]
    assert [h.score for h in got] == pytest.approx([h[1] for h in expected], abs=1e-4)


@pytest.mark.parametrize("beam_size", [1, 4])
def test_chunk_by_chunk_equals_all_at_once(beam_size):
    decoder, joint = heads(seed=4)
    enc = torch.randn(23, D, generator=torch.Generator().manual_seed(4))
    search = TransducerSearch(decoder, joint, beam_size=beam_size, nbest=beam_size)
    whole = run(search, enc)
    assert search.frames_seen == 23
    for splits in ([1, 2, 3], [5, 5, 12, 16], list(range(1, 23))):  # incl. empty and one-frame chunks
        pieces = run(search, enc, splits)
        assert [(h.tokens, h.token_frames) for h in pieces] == [(h.tokens, h.token_frames) for h in whole]
        assert [h.score for h in pieces] == pytest.approx([h.score for h in whole], abs=1e-5)


def test_partial_grows_and_frames_are_monotonic():
    decoder, joint = heads(seed=5)
    enc = torch.randn(20, D, generator=torch.Generator().manual_seed(5))
    search = TransducerSearch(decoder, joint, beam_size=3, nbest=3)
    assert isinstance(search, StreamingSearch)
    seen = 0
    for start in range(0, 20, 4):
        search.advance(enc[start:start + 4])
        seen += 4
        assert search.frames_seen == seen
    hyps = search.finalize()
    assert search.partial() == hyps[0].tokens
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    for h in hyps:
        assert len(h.token_frames) == len(h.tokens)
        assert h.token_frames == sorted(h.token_frames) and all(0 <= f < 20 for f in h.token_frames)
        assert decoder.blank_id not in h.tokens
    search.reset()
    assert search.frames_seen == 0 and search.partial() == []


@pytest.mark.parametrize("bad,match", [({"beam_size": 0}, "beam_size"), ({"max_symbols_per_frame": 0}, "max_symbols"),
                                       ({"beam_size": 2, "nbest": 3}, "nbest")])
def test_bad_options_are_clear_errors(bad, match):
    decoder, joint = heads()
    with pytest.raises(ValueError, match=match):
        TransducerSearch(decoder, joint, **bad)


def test_advance_rejects_a_batch():
    decoder, joint = heads()
    with pytest.raises(ValueError, match="one utterance"):
        TransducerSearch(decoder, joint).advance(torch.randn(1, 3, D))


def test_search_creates_no_tensor_off_the_encoder_device():
    # With the default device set to "meta", any tensor the search makes without an explicit
    # device is a meta tensor, and mixing it with the CPU encoder output raises: the same bug
    # that breaks decoding on a GPU (scores made on the CPU, log-probs on the GPU) shows on CPU.
    decoder, joint = heads(seed=4)
    enc = torch.randn(6, D)
    expected = run(TransducerSearch(decoder, joint, beam_size=4, nbest=4), enc)
    torch.set_default_device("meta")
    try:
        got = run(TransducerSearch(decoder, joint, beam_size=4, nbest=4), enc)
    finally:
        torch.set_default_device(None)
    assert [h.tokens for h in got] == [h.tokens for h in expected]


@pytest.mark.parametrize("device", [
    "cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"))])
def test_search_on_device_matches_cpu(device):
    decoder, joint = heads(seed=5)
    enc = torch.randn(8, D)
    expected = run(TransducerSearch(decoder, joint, beam_size=3, nbest=3), enc)
    decoder, joint = decoder.to(device), joint.to(device)
    got = run(TransducerSearch(decoder, joint, beam_size=3, nbest=3), enc.to(device))
    assert [h.tokens for h in got] == [h.tokens for h in expected]
    assert [h.score for h in got] == pytest.approx([h.score for h in expected], abs=1e-4)
