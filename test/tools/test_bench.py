"""The benchmark scripts of tools/bench run end to end (tiny models, --quick) and print their tables."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "tools" / "bench"


def run_bench(script: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(BENCH / script), *args], cwd=BENCH, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_streaming_speed_quick_compares_every_system_and_backend():
    out = run_bench("streaming_speed.py", "--quick")
    for system in ("espnet full", "espnet contextual-block", "ours full", "ours stream left 4",
                   "ours torchscript left 4", "ours batched B=4 left 4", "onnx full", "onnx stream left 4",
                   "onnx batched B=4 left 4", "onnx int8 full", "onnx int8 stream left 4",
                   "onnx int8 batched B=4 left 4",
                   "espnet int8 full", "espnet int8 contextual-block", "ours int8 full", "ours int8 stream left 4",
                   "ours int8 batched B=4 left 4"):
        assert f"\n{system} " in out, system
    assert "pytorch int8: stream / espnet int8 contextual-block RTF at 3 s" in out
    assert "where one streaming chunk's time goes (ours int8 stream left 4" in out
    assert "ratio, streaming / full int8" in out
    for backend in ("pytorch", "pytorch int8", "onnx", "onnx int8"):
        assert f"{backend}: stream / full RTF at 3 s" in out
        assert f"{backend}: batched B=4 / B=1 cost per stream at 3 s" in out
    assert "stream chunk median" not in out  # one audio length: no flat-latency ratio to report
    assert "glue (outside the components)" in out
    assert "the linear maps alone" in out and "ratio, streaming / full" in out


def test_decode_speed_quick_reports_tokens_and_ratios():
    out = run_bench("decode_speed.py", "--quick")
    assert "ours stream" in out and "espnet stream" in out and "tokens" in out
    assert "RTF espnet stream / ours stream" in out


def test_decode_speed_trained_mode_scores_and_splits_each_backend(tmp_path):
    """A CTC/attention model, a cascaded transducer and an ONNX export, side by side."""
    import soundfile

    from espnet_durep.export.onnx import export_onnx
    from espnet_durep.inference.recognizer import Speech2TextDualMode
    from tiny_asr import save_experiment
    from tiny_onnx import real_speech, tiny_experiment
    from tiny_transducer import cascaded_config

    (tmp_path / "exp").mkdir()
    exp = tiny_experiment(tmp_path / "exp")
    transducer, _ = save_experiment(tmp_path, "cascade", cascaded_config(), ["--token_type", "char"])
    export_onnx(Speech2TextDualMode.from_pretrained(exp), tmp_path / "onnx")
    data = tmp_path / "data"
    data.mkdir()
    waves = real_speech(2)
    for utt, wave in waves.items():
        soundfile.write(data / f"{utt}.wav", wave, 16000)
    (data / "wav.scp").write_text("".join(f"{u} {data / u}.wav\n" for u in waves))
    (data / "text").write_text("".join(f"{u} HELLO WORLD\n" for u in waves))
    (data / "utt2spk").write_text("".join(f"{u} {u[:4]}\n" for u in waves))
    out = run_bench("decode_speed.py", "--model_dir", str(exp), str(transducer), "--data_dir", str(data),
                    "--exports", str(tmp_path / "onnx"), "--out_dir", str(tmp_path / "out"), "--beam_size", "4",
                    "--quantize", "int8")
    assert "pytorch:cascade: " in out and "search transducer_beam" in out
    assert "search attention_rescoring" in out
    for backend in ("pytorch:model", "pytorch:cascade", "pytorch-int8:model", "pytorch-int8:cascade", "onnx:onnx"):
        for mode in ("streaming", "full"):
            assert any(line.split()[:2] == [backend, mode] for line in out.splitlines()), (backend, mode)
    assert "(search + end) / encoder" in out and "pytorch:model: " in out and " M parameters" in out
    assert "pytorch-int8:model: int8 linear weights" in out
    assert (tmp_path / "out" / "pytorch_model_streaming" / "score_char" / "hyp.trn.sys").is_file()


def test_linear_floor_times_every_per_frame_weight_once():
    sys.path.insert(0, str(BENCH))
    import streaming_speed
    from espnet_durep.encoder.dual_mode_conformer import DualModeConformerEncoder

    enc = DualModeConformerEncoder(20, output_size=16, attention_heads=2, linear_units=32, num_blocks=3,
                                   cnn_module_kernel=5)
    maps = streaming_speed.frame_weights(enc)
    # per block: 2 x 2 feed-forward, q / k / v / out, 2 pointwise convolutions; plus the subsampling's output
    assert len(maps) == 3 * 10 + 1
    assert all(w.dim() == 2 for w, _ in maps)
    rows = streaming_speed.linear_floor(enc, chunk=4, full_frames=40, repeats=1)
    assert [r[0] for r in rows] == ["streaming step", "full pass", "ratio, streaming / full"]
    stream_ms, full_ms = float(rows[0][2]), float(rows[1][2])
    assert stream_ms > 0 and full_ms > 0 and float(rows[2][2]) > 0
    rows = streaming_speed.linear_floor(enc, chunk=4, full_frames=40, repeats=1, variant="int8")
    assert [r[0] for r in rows] == ["streaming step int8", "full pass int8", "ratio, streaming / full int8"]
    assert all(float(r[2]) > 0 for r in rows)
