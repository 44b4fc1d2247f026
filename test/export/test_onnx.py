"""ONNX export of a tiny dual-mode model: every graph equals PyTorch, and so do the tokens."""
import json
import warnings

import numpy as np
import pytest
import soundfile
import torch

from espnet_durep.bin import export_onnx as cli
from espnet_durep.export.onnx import check_export, export_onnx
from espnet_durep.frontend.logmel import LogMelFeatures
from espnet_durep.runtime.recognizer import OnnxSpeech2Text
from espnet_durep.inference.recognizer import Speech2TextDualMode
from tiny_asr import save_experiment
from tiny_onnx import real_speech, tiny_experiment



@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    return tiny_experiment(tmp_path_factory.mktemp("exp"))


@pytest.fixture(scope="module")
def s2t(experiment):
    return Speech2TextDualMode.from_pretrained(experiment, beam_size=3, full_search="attention_rescoring")


@pytest.fixture(scope="module")
def export_dir(s2t, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx")
    export_onnx(s2t, out)
    return out


@pytest.fixture(scope="module")
def ort(export_dir):
    return OnnxSpeech2Text(export_dir, beam_size=3)


@pytest.fixture(scope="module")
def wave():
    return (0.1 * torch.randn(12000, generator=torch.Generator().manual_seed(7))).numpy()


def test_features_equal_the_models_frontend(s2t, ort, wave):
    feats, _ = s2t.features_of(torch.from_numpy(wave))
    np.testing.assert_allclose(LogMelFeatures(ort.frontend).whole(wave), feats[0].numpy(), atol=1e-4)


@pytest.mark.parametrize("chunk,left", [(1, -1), (2, 0), (3, 1), (2, -1)])
def test_chunk_step_streams_like_the_masked_forward(s2t, ort, wave, chunk, left):
    """One graph for every chunk size and left context, from an empty cache on."""
    feats, lens = s2t.features_of(torch.from_numpy(wave))
    masked, _ = s2t.model.encode_for_decoding(feats, lens, "streaming", chunk, left)
    stream = ort.new_encoder_stream(chunk, left)
    pieces = [stream.accept(feats[0, i:i + 7].numpy(), False) for i in range(0, feats.size(1), 7)]
    got = np.concatenate(pieces + [stream.accept(feats[0, :0].numpy(), True)])
    np.testing.assert_allclose(got, masked[0].detach().numpy(), atol=1e-4)


def test_batched_streams_with_different_histories_equal_each_alone(s2t, ort):
    """att_cache_mask: a stream with less history is left-padded and masked."""
    encoder, model = s2t.encoder, ort.model
    window = encoder.chunk_window(2)
    rng = np.random.default_rng(1)
    a_hist, b_hist, step = (rng.normal(size=(1, window, encoder.input_size)).astype(np.float32) for _ in range(3))
    att, cnn = model.empty_caches(1)
    _, a_att, a_cnn = model.chunk_step(a_hist, att, cnn)
    _, a_att, a_cnn = model.chunk_step(b_hist, a_att, a_cnn)  # stream a: 2 chunks of history
    _, b_att, b_cnn = model.chunk_step(b_hist, att, cnn)  # stream b: 1 chunk
    alone = [model.chunk_step(step, a_att, a_cnn)[0], model.chunk_step(step, b_att, b_cnn)[0]]
    pad = a_att.shape[3] - b_att.shape[3]
    b_padded = np.concatenate([np.zeros_like(b_att[:, :, :, :pad]), b_att], axis=3)
    mask = np.ones((2, a_att.shape[3]), dtype=bool)
    mask[1, :pad] = False
    batched, _, _ = model.chunk_step(np.concatenate([step, step]), np.concatenate([a_att, b_padded], axis=1),
                                     np.concatenate([a_cnn, b_cnn], axis=1), mask)
    np.testing.assert_allclose(batched[0], alone[0][0], atol=1e-5)
    np.testing.assert_allclose(batched[1], alone[1][0], atol=1e-5)


def test_full_encoder_ctc_and_decoder_equal_pytorch(s2t, ort, wave):
    speech = torch.from_numpy(wave)
    enc = s2t.encode(speech, "full")
    feats, _ = s2t.features_of(speech)
    ort_enc = ort.model.encode_full(feats[0].numpy())
    np.testing.assert_allclose(ort_enc, enc.numpy(), atol=1e-4)
    ctc = torch.log_softmax(s2t.model.ctc.ctc_lo(enc), -1).detach().numpy()
    np.testing.assert_allclose(ort.model.ctc_log_probs("full", ort_enc), ctc, atol=1e-4)
    sos = s2t.model.sos
    ys_in = np.array([[sos, 2, 3, 4], [sos, 5, sos, sos]], dtype=np.int64)  # second one padded
    lens = np.array([4, 2], dtype=np.int64)
    logits, _ = s2t.model.decoder(enc[None].expand(2, -1, -1), torch.tensor([enc.size(0)] * 2),
                                  torch.from_numpy(ys_in), torch.from_numpy(lens))
    want = torch.log_softmax(logits, -1).detach().numpy()
    got = ort.model.decoder_log_probs("full", ort_enc, ys_in, lens)
    np.testing.assert_allclose(got[0], want[0], atol=1e-4)
    np.testing.assert_allclose(got[1, :2], want[1, :2], atol=1e-4)  # (padded steps are not used)


@pytest.mark.parametrize("search", ["attention_rescoring", "ctc_prefix_beam", "ctc_greedy"])
def test_tokens_equal_pytorch_in_both_modes_onreal_speech(experiment, export_dir, search):
    torch_s2t = Speech2TextDualMode.from_pretrained(experiment, beam_size=3, full_search=search,
                                                    streaming_search=search)
    onnx_s2t = OnnxSpeech2Text(export_dir, beam_size=3, full_search=search, streaming_search=search)
    for wave in real_speech().values():
        assert onnx_s2t(wave).token_ids == torch_s2t(torch.from_numpy(wave)).token_ids
        results = []
        for s in (torch_s2t, onnx_s2t):
            stream = s.stream(chunk_size=2, num_left_chunks=1)
            for start in range(0, len(wave), 1000):
                stream.accept_waveform(wave[start:start + 1000])
            results.append(stream.finalize())
        assert results[0].token_ids and results[0].token_ids == results[1].token_ids
        assert results[0].token_times_ms == results[1].token_times_ms


def test_check_export_reports_exactness(s2t, export_dir):
    report = check_export(s2t, export_dir, real_speech(1))
    assert max(report["max_abs_diff"].values()) < 1e-3 and report["token_mismatches"] == []


def test_from_pretrained_on_an_export_directory_runs_onnx(export_dir, wave):
    s2t = Speech2TextDualMode.from_pretrained(export_dir, beam_size=3)
    assert isinstance(s2t, OnnxSpeech2Text)
    assert s2t(wave).token_ids


def test_manifest_records_versions_settings_and_checksums(export_dir, tmp_path):
    manifest = json.loads((export_dir / "manifest.json").read_text())
    assert {"torch", "onnx", "onnxruntime", "espnet", "espnet_durep"} <= set(manifest["versions"])
    assert set(manifest["files"]) >= {"encoder_chunk.onnx", "encoder_full.onnx", "ctc.onnx", "decoder.onnx",
                                      "frontend.npz", "tokens.txt"}
    assert manifest["encoder"]["subsampling_layout"] and manifest["frontend"]["hop"] == 80
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for f in export_dir.iterdir():
        (tampered / f.name).write_bytes(f.read_bytes())
    (tampered / "tokens.txt").write_text("x\n")
    with pytest.raises(ValueError, match="tokens.txt: checksum"):
        OnnxSpeech2Text(tampered)
    (tampered / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(ValueError, match="version 99"):
        OnnxSpeech2Text(tampered)


def test_int8_export_decodes(s2t, tmp_path, wave):
    export_onnx(s2t, tmp_path / "int8", quantize="int8")
    q = OnnxSpeech2Text(tmp_path / "int8", beam_size=3)
    assert json.loads((tmp_path / "int8" / "manifest.json").read_text())["quantization"] == "int8"
    stream = q.stream(chunk_size=2)
    stream.accept_waveform(wave)
    assert isinstance(stream.finalize().text, str)


def test_transducer_models_are_refused_clearly(tmp_path):
    from tiny_transducer import cascaded_config

    exp, _ = save_experiment(tmp_path, "transducer", cascaded_config(), ["--token_type", "char"])
    with pytest.raises(ValueError, match="transducer models are not exported"):
        export_onnx(Speech2TextDualMode.from_pretrained(exp), tmp_path / "out")


def test_cli_exports_and_checks_on_a_data_dir(experiment, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    lines = []
    for utt, wave in real_speech().items():
        soundfile.write(data / f"{utt}.wav", wave, 16000)
        lines.append(f"{utt} {data / f'{utt}.wav'}")
    (data / "wav.scp").write_text("\n".join(lines) + "\n")
    assert cli.main(["--model_dir", str(experiment), "--output_dir", str(tmp_path / "out"),
                     "--check_data_dir", str(data), "--beam_size", "3", "--chunk_size", "2"]) == 0
    out = capsys.readouterr().out
    assert "token mismatches: 0 of 4 decodings" in out and "encoder_streaming" in out
    assert json.loads((tmp_path / "out" / "check.json").read_text())["utterances"] == 2



def test_separate_streaming_heads_are_exported_and_used(tmp_path):
    """multi_decoder: the streaming mode has its own CTC head and decoder, in their own graphs."""
    exp = tiny_experiment(tmp_path, multi_decoder=True)
    torch_s2t = Speech2TextDualMode.from_pretrained(exp, beam_size=3, full_search="attention_rescoring")
    manifest = export_onnx(torch_s2t, tmp_path / "onnx")
    assert manifest["graphs"]["ctc"] == {"full": "ctc.onnx", "streaming": "ctc_streaming.onnx"}
    assert manifest["graphs"]["decoder"] == {"full": "decoder.onnx", "streaming": "decoder_streaming.onnx"}
    report = check_export(torch_s2t, tmp_path / "onnx", real_speech(1))
    assert max(report["max_abs_diff"].values()) < 1e-3 and report["token_mismatches"] == []


def _as_written_before_the_rename(export, old):
    """A copy of an export as exports were written when the streaming mode was called "stream":
    manifest mode key "stream", graph files ctc_stream.onnx / decoder_stream.onnx."""
    old.mkdir()
    renamed = {f"{kind}_streaming.onnx": f"{kind}_stream.onnx" for kind in ("ctc", "decoder")}
    for f in export.iterdir():
        (old / renamed.get(f.name, f.name)).write_bytes(f.read_bytes())
    manifest = json.loads((export / "manifest.json").read_text())
    for kind in ("ctc", "decoder"):
        manifest["graphs"][kind] = {("stream" if mode == "streaming" else mode): renamed.get(name, name)
                                    for mode, name in manifest["graphs"][kind].items()}
    manifest["files"] = {renamed.get(name, name): digest for name, digest in manifest["files"].items()}
    manifest["format_version"] = 1
    (old / "manifest.json").write_text(json.dumps(manifest))
    return old


def test_an_export_written_with_the_old_mode_name_still_loads_and_decodes_the_same(tmp_path):
    exp = tiny_experiment(tmp_path, multi_decoder=True)
    torch_s2t = Speech2TextDualMode.from_pretrained(exp, beam_size=3, full_search="attention_rescoring")
    export_onnx(torch_s2t, tmp_path / "onnx")
    old = _as_written_before_the_rename(tmp_path / "onnx", tmp_path / "old")
    assert (old / "ctc_stream.onnx").is_file() and not (old / "ctc_streaming.onnx").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # version 1 named the streaming heads "stream": read as such, no warning
        legacy = OnnxSpeech2Text(old, beam_size=3)
    assert legacy.keeps_encoder_output("streaming")  # the separate streaming decoder was found
    current = OnnxSpeech2Text(tmp_path / "onnx", beam_size=3)
    for wave in real_speech(1).values():
        assert legacy(wave).token_ids == current(wave).token_ids
        results = []
        for s in (legacy, current):
            stream = s.stream(chunk_size=2, num_left_chunks=1)
            for start in range(0, len(wave), 1000):
                stream.accept_waveform(wave[start:start + 1000])
            results.append(stream.finalize().token_ids)
        assert results[0] and results[0] == results[1]
