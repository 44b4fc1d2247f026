"""CTC searches: hand-checked results, chunked == whole, prefix property, beam agreement."""
import itertools
import math

import numpy as np
import pytest
import torch

from espnet_durep.search.ctc import CTCGreedySearch, CTCPrefixBeamSearch


def given(x):
    """``log_posteriors`` that passes the tests' scores through (tests feed them directly)."""
    return np.asarray(x)


def _feed(search, logits, sizes):
    search.reset()
    start = 0
    for n in sizes:
        search.advance(logits[start:start + n])
        start += n
    search.advance(logits[start:])
    return search.finalize()


def _brute_force_prefix_probs(log_probs):
    """p(label sequence) by summing over every CTC path."""
    t, v = log_probs.shape
    probs = {}
    for path in itertools.product(range(v), repeat=t):
        labels, prev = [], None
        for p in path:
            if p != 0 and p != prev:
                labels.append(p)
            prev = p
        lp = sum(float(log_probs[i, p]) for i, p in enumerate(path))
        probs[tuple(labels)] = probs.get(tuple(labels), 0.0) + math.exp(lp)
    return probs


def test_greedy_merges_repeats_and_drops_blanks():
    ids = [0, 1, 1, 0, 1, 2, 2, 0, 0, 3]
    logits = torch.full((len(ids), 4), -10.0)
    logits[torch.arange(len(ids)), torch.tensor(ids)] = 0.0
    hyp = _feed(CTCGreedySearch(given), logits, [3, 3])[0]
    assert hyp.tokens == [1, 1, 2, 3]
    assert hyp.token_frames == [1, 4, 5, 9]


def test_prefix_beam_with_full_beam_gives_exact_sequence_probabilities():
    log_probs = torch.log_softmax(torch.randn(5, 3, generator=torch.Generator().manual_seed(0)), -1)
    exact = _brute_force_prefix_probs(log_probs)
    hyps = _feed(CTCPrefixBeamSearch(given, beam_size=1000, token_beam=3), log_probs, [2])
    for h in hyps:
        assert math.exp(h.score) == pytest.approx(exact[tuple(h.tokens)], rel=1e-5)
    assert tuple(hyps[0].tokens) == max(exact, key=exact.get)


@pytest.mark.parametrize("sizes", [[1] * 30, [4, 4, 4], [7, 1, 13]])
def test_chunked_equals_whole(sizes):
    logits = torch.randn(40, 6, generator=torch.Generator().manual_seed(3)) * 3
    for search in (CTCGreedySearch(given), CTCPrefixBeamSearch(given, beam_size=5, token_beam=4)):
        whole = _feed(search, logits, [])
        chunked = _feed(search, logits, sizes)
        assert [(h.tokens, h.token_frames) for h in whole] == [(h.tokens, h.token_frames) for h in chunked]
        assert [h.score for h in whole] == pytest.approx([h.score for h in chunked])


def test_greedy_partials_grow_by_appending():
    logits = torch.randn(60, 6, generator=torch.Generator().manual_seed(4)) * 3
    search = CTCGreedySearch(given)
    previous = []
    for start in range(0, 60, 4):
        search.advance(logits[start:start + 4])
        partial = search.partial()
        assert partial[: len(previous)] == previous
        previous = partial
    assert search.finalize()[0].tokens == previous


def test_beam_last_partial_is_the_final_best():
    logits = torch.randn(50, 6, generator=torch.Generator().manual_seed(5)) * 2
    search = CTCPrefixBeamSearch(given, beam_size=4, token_beam=6)
    for start in range(0, 50, 5):
        search.advance(logits[start:start + 5])
    assert search.partial() == search.finalize()[0].tokens
    assert search.frames_seen == 50


def test_bad_beam_is_rejected():
    with pytest.raises(ValueError, match="beam_size"):
        CTCPrefixBeamSearch(given, beam_size=0)


def test_blank_penalty_scores_paths_as_if_blank_were_less_likely():
    """A penalty b on blank equals the exact search over posteriors with blank scaled by e^-b."""
    log_probs = torch.log_softmax(torch.randn(5, 3, generator=torch.Generator().manual_seed(1)), -1)
    penalised = log_probs.clone()
    penalised[:, 0] -= 0.7
    exact = _brute_force_prefix_probs(penalised)
    hyps = _feed(CTCPrefixBeamSearch(given, beam_size=1000, token_beam=3, blank_penalty=0.7),
                 log_probs, [2])
    for h in hyps:
        assert math.exp(h.score) == pytest.approx(exact[tuple(h.tokens)], rel=1e-5)


def test_blank_penalty_turns_a_weak_blank_frame_into_a_token():
    # frame 1: blank 0.55 against token 2 0.45; a penalty of 0.5 makes blank 0.33 < 0.45
    probs = torch.tensor([[0.1, 0.9, 0.0, 0.0], [0.55, 0.0, 0.45, 0.0], [0.1, 0.0, 0.0, 0.9]])
    logits = probs.clamp_min(1e-6).log()
    assert _feed(CTCGreedySearch(given), logits, [1])[0].tokens == [1, 3]
    assert _feed(CTCGreedySearch(given, blank_penalty=0.5), logits, [1])[0].tokens == [1, 2, 3]
    with pytest.raises(ValueError, match="blank_penalty"):
        CTCGreedySearch(given, blank_penalty=math.inf)


def test_merged_prefix_is_timed_by_the_likelier_path():
    # frame 0: token 1 (0.3) or blank (0.7); frame 1: token 1. The prefix (1,) emitted at
    # frame 0 merges with () extended by 1 at frame 1; the likelier path decides the time.
    for p1, frame in ((0.3, 1), (0.7, 0)):
        probs = np.array([[1 - p1, p1, 1e-9], [0.05, 0.9, 0.05]])
        best = _feed(CTCPrefixBeamSearch(given, beam_size=4, token_beam=3), np.log(probs), [])[0]
        assert best.tokens == [1] and best.token_frames == [frame]
        assert math.exp(best.score) == pytest.approx(0.9 + p1 * 0.05, rel=1e-6)


def _reference_prefix_beam(log_probs, beam_size, token_beam):
    """The prefix beam search written over token tuples, one dict per frame (blank = 0)."""
    beam = {(): (0.0, -math.inf, [])}  # prefix -> (log p blank-ending, log p token-ending, frames), ranked
    for t, row in enumerate(np.asarray(log_probs, dtype=np.float64)):
        candidates = np.argsort(-row, kind="stable")[:token_beam].tolist()
        rank = {prefix: i for i, prefix in enumerate(beam)}
        new = {}

        def add(prefix, blank=-math.inf, nonblank=-math.inf):
            b, nb = new.get(prefix, (-math.inf, -math.inf))
            new[prefix] = (np.logaddexp(b, blank), np.logaddexp(nb, nonblank))

        for prefix, (b, nb, _) in beam.items():
            total = np.logaddexp(b, nb)
            for c in candidates:
                if c == 0:
                    add(prefix, blank=total + row[c])
                elif prefix and c == prefix[-1]:
                    add(prefix, nonblank=nb + row[c])
                    add(prefix + (c,), nonblank=b + row[c])
                else:
                    add(prefix + (c,), nonblank=total + row[c])
        scored = []
        for prefix, (b, nb) in new.items():
            parent = prefix[:-1]
            if prefix not in beam:  # a new prefix: its last token is emitted now
                frames = beam[parent][2] + [t]
            elif prefix and parent in beam and prefix[-1] in candidates and rank[parent] < rank[prefix]:
                frames = beam[parent][2] + [t]  # the likelier parent times the last token
            else:
                frames = beam[prefix][2]
            if np.logaddexp(b, nb) > -math.inf:
                scored.append((np.logaddexp(b, nb), prefix, b, nb, frames))
        scored.sort(key=lambda x: -x[0])
        beam = {prefix: (b, nb, frames) for _, prefix, b, nb, frames in scored[:beam_size]}
    return [(list(prefix), float(np.logaddexp(b, nb)), frames) for prefix, (b, nb, frames) in beam.items()]


@pytest.mark.parametrize("beam_size,token_beam,scale", [(3, 4, 2.0), (5, 8, 3.0), (10, 3, 1.0), (4, 6, 6.0)])
def test_prefix_beam_equals_the_reference_with_pruning(beam_size, token_beam, scale):
    """A narrow beam over peaky and flat posteriors: the pruned scan keeps exactly the reference's beam
    (a threshold one rank too high fails on three of the four seeds)."""
    for seed in range(4):
        logits = torch.randn(60, 8, generator=torch.Generator().manual_seed(seed)) * scale
        logits[::3, 0] += scale  # blank-dominated frames, as in trained models
        log_probs = torch.log_softmax(logits, -1).numpy()  # float32, as the search reads them
        expected = _reference_prefix_beam(log_probs, beam_size, token_beam)
        hyps = _feed(CTCPrefixBeamSearch(given, beam_size=beam_size, token_beam=token_beam), log_probs, [5, 11, 1])
        assert [(h.tokens, h.token_frames) for h in hyps] == [(tokens, frames) for tokens, _, frames in expected]
        assert [h.score for h in hyps] == pytest.approx([score for _, score, _ in expected], rel=1e-9)
