"""Speech2TextDualMode on a tiny model: incremental streaming == simulated streaming, API shape."""
import copy

import pytest
import torch

from espnet_durep.inference.recognizer import Speech2TextDualMode
from tiny_asr import TINY_CONFIG, save_experiment


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    config = copy.deepcopy(TINY_CONFIG)
    config["encoder_conf"]["conv_mode"] = "chunk"
    exp, model = save_experiment(tmp_path_factory.mktemp("exp"), "model", config, ["--token_type", "char"])
    with torch.no_grad():  # an untrained model emits mostly blanks: make it emit tokens
        model.ctc.ctc_lo.bias[0] -= 3.0
    torch.save(model.state_dict(), exp / "model.pth")
    return exp


@pytest.fixture(scope="module")
def wave():
    return 0.1 * torch.randn(12000, generator=torch.Generator().manual_seed(7))


@pytest.mark.parametrize("search", ["attention_rescoring", "ctc_prefix_beam", "ctc_greedy"])
@pytest.mark.parametrize("chunk,left", [(1, -1), (2, 1), (4, -1)])
def test_incremental_equals_simulated_streaming(experiment, wave, search, chunk, left):
    s2t = Speech2TextDualMode(experiment / "config.yaml", experiment / "model.pth", beam_size=3,
                              streaming_search=search)
    simulated = s2t.decode_simulated_streaming(wave, chunk, left)
    stream = s2t.stream(chunk_size=chunk, num_left_chunks=left)
    for start in range(0, wave.numel(), 555):
        stream.accept_waveform(wave[start:start + 555])
    result = stream.finalize()
    assert result.token_ids and result.token_ids == simulated.token_ids
    assert result.score == pytest.approx(simulated.score, abs=1e-3)
    assert len(result.token_times_ms) == len(result.token_ids)
    assert result.token_times_ms == sorted(result.token_times_ms)
    assert 0 < result.token_times_ms[-1] <= 1000 * wave.numel() / 16000


def test_emission_time_is_when_the_chunk_was_complete(experiment, wave):
    s2t = Speech2TextDualMode(experiment / "config.yaml", experiment / "model.pth", streaming_search="ctc_greedy")
    stream = s2t.stream(chunk_size=2)
    feed = 800  # 50 ms pieces; a chunk is 2 x 20 ms encoder frames
    for start in range(0, wave.numel(), feed):
        stream.accept_waveform(wave[start:start + feed])
    result = stream.finalize()
    for t in result.token_times_ms[:-1]:
        assert t % 50 == 0  # emitted at the end of a fed piece


def test_streaming_changes_the_result_and_full_mode_decodes(experiment, wave):
    s2t = Speech2TextDualMode(experiment / "config.yaml", experiment / "model.pth", beam_size=3)
    full = s2t(wave)
    assert full.token_ids and full.text == "".join(full.tokens).replace("<space>", " ")
    enc_full = s2t.encode(wave, "full")
    enc_stream = s2t.encode(wave, "streaming", chunk_size=1)
    assert enc_full.shape == enc_stream.shape and not torch.allclose(enc_full, enc_stream, atol=1e-3)


def test_chunk_in_ms_and_latency(experiment):
    s2t = Speech2TextDualMode(experiment / "config.yaml", experiment / "model.pth")
    assert s2t.frame_ms == pytest.approx(20.0)  # hop 80 samples at 16 kHz, x4 subsampling
    assert s2t.chunk_frames(chunk_ms=80) == 4
    with pytest.raises(ValueError, match="not a positive multiple"):
        s2t.chunk_frames(chunk_ms=50)
    lat = s2t.algorithmic_latency(4)
    assert lat.worst_ms == pytest.approx(80 + 3 * 5 + 128 / 16)  # chunk + 3 feature frames + half window


def test_from_pretrained_directory_and_packed_zip(experiment, tmp_path, wave):
    from espnet_durep.export.pack import pack

    (experiment / "valid.acc.ave.pth").write_bytes((experiment / "model.pth").read_bytes())
    a = Speech2TextDualMode.from_pretrained(experiment, beam_size=2)(wave)
    pack(experiment / "config.yaml", experiment / "model.pth", tmp_path / "m.zip")
    b = Speech2TextDualMode.from_pretrained(tmp_path / "m.zip", beam_size=2)(wave)
    assert a.token_ids == b.token_ids
    with pytest.raises(FileNotFoundError, match="neither a packed model"):
        Speech2TextDualMode.from_pretrained(tmp_path / "nothing")


def test_joint_search_with_a_beam_wider_than_the_vocabulary_is_a_clear_error(experiment, wave):
    s2t = Speech2TextDualMode(experiment / "config.yaml", experiment / "model.pth", beam_size=1000, full_search="joint")
    with pytest.raises(ValueError, match="beam_size 1000 is larger than the vocabulary"):
        s2t.decode_full(wave)


def test_int8_weights_recognise_close_to_float(experiment, wave):
    from torch.ao.nn.quantized.dynamic import Linear as QuantizedLinear

    kwargs = dict(beam_size=3, full_search="attention_rescoring")
    plain = Speech2TextDualMode(experiment / "config.yaml", experiment / "model.pth", **kwargs)
    int8 = Speech2TextDualMode(experiment / "config.yaml", experiment / "model.pth", quantize="int8", **kwargs)
    assert int8.quantize == "int8" and plain.quantize is None
    assert not any(isinstance(m, torch.nn.Linear) for m in int8.model.modules())
    assert any(isinstance(m, QuantizedLinear) for m in int8.model.encoder.modules())
    ref, enc = plain.encode(wave), int8.encode(wave)
    assert enc.shape == ref.shape and float((enc - ref).norm() / ref.norm()) < 0.05
    stream = int8.stream(chunk_size=2)
    for start in range(0, wave.numel(), 555):
        stream.accept_waveform(wave[start:start + 555])
    result = stream.finalize()
    assert result.token_ids and len(result.token_times_ms) == len(result.token_ids)
    for bad, match in ((dict(quantize="int4"), "quantize must be"), (dict(quantize="int8", device="cuda"), "CPU option")):
        with pytest.raises(ValueError, match=match):
            Speech2TextDualMode(experiment / "config.yaml", experiment / "model.pth", **bad)
