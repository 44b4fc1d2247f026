"""Latency metrics: algorithmic latency, the real-time clock, forced alignment, emission delay."""
import pytest
import torch

from espnet_durep.metrics.latency import (
    RealTimeClock,
    algorithmic_latency,
    emission_delays_ms,
    forced_alignment_times_ms,
    matched_tokens,
    summarise,
)


def test_algorithmic_latency_of_a_chunk():
    lat = algorithmic_latency(chunk_ms=640, subsampling_lookahead_ms=30, frontend_lookahead_ms=16, frame_ms=40)
    assert lat.worst_ms == pytest.approx(640 + 30 + 16)
    assert lat.average_ms == pytest.approx((640 - 40) / 2 + 40 + 30 + 16)
    one = algorithmic_latency(chunk_ms=40, subsampling_lookahead_ms=30, frontend_lookahead_ms=16, frame_ms=40)
    assert one.worst_ms == one.average_ms == pytest.approx(86)


def test_real_time_clock_queues_when_compute_is_slower_than_audio():
    clock = RealTimeClock(sample_rate=1000)
    assert clock.step(100, 0.05) == pytest.approx(0.15)  # arrives at 0.1 s, 50 ms compute
    assert clock.step(100, 0.25) == pytest.approx(0.45)  # arrives 0.2 s, starts 0.2 s
    assert clock.step(100, 0.01) == pytest.approx(0.46)  # arrived at 0.3 s but waits for the previous call
    assert clock.audio_s == pytest.approx(0.3) and clock.compute_s == pytest.approx(0.31)


def test_forced_alignment_picks_first_frame_of_each_token():
    path = [0, 2, 2, 0, 3, 0, 0, 2]
    log_probs = torch.full((len(path), 4), -20.0)
    log_probs[torch.arange(len(path)), torch.tensor(path)] = 0.0
    assert forced_alignment_times_ms(log_probs.log_softmax(-1), [2, 3, 2], frame_ms=40) == [80, 200, 320]
    assert forced_alignment_times_ms(log_probs, [2] * 9, frame_ms=40) is None  # cannot fit
    assert forced_alignment_times_ms(log_probs, [], frame_ms=40) is None


def test_matched_tokens_and_delays():
    ref = [5, 6, 7, 8]
    hyp = [5, 9, 7, 8, 4]  # substitution of 6, insertion of 4
    assert matched_tokens(hyp, ref) == [(0, 0), (2, 2), (3, 3)]
    delays = emission_delays_ms(hyp, [100, 200, 300, 400, 500], ref, [50, 150, 260, 390])
    assert delays == [50, 40, 10]
    assert matched_tokens([], ref) == []


def test_summary_statistics():
    s = summarise([10.0, 20.0, 30.0, 40.0, 50.0])
    assert s == {"mean": 30.0, "p50": 30.0, "p90": pytest.approx(46.0), "count": 5}
    assert summarise([]) is None
