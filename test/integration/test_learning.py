"""Training learns: a tiny dual-mode model memorises 40 real utterances through ESPnet's trainer.

The 40 shortest training utterances of speechocean762 (real read speech, ~85 s) are the
training and the validation set.  ``durep_train`` (ESPnet's trainer, dual-mode model, in-place
KD) trains 40 epochs (200 updates) on one CPU thread, then the recogniser decodes the same
audio in full-context and in streaming mode (160 ms and 640 ms chunks).  A model that learns
nothing (learning rate 0, a broken loss, gradients that do not reach the encoder) stays near
100 % WER; the ceiling is 20 %.  Measured: WER 0-3 % in both modes, ~1 min on 2 cores.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jiwer
import pytest
import soundfile as sf
import torch
import yaml

from espnet_durep.bin.make_results import learning_curve
from espnet_durep.inference.recognizer import Speech2TextDualMode

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "data" / "speechocean762_subset"
NUM_UTTS = 40
WER_CEILING = 0.20
TOKENS = ["<blank>", "<unk>", "<space>", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ'", "<sos/eos>"]
CONFIG = {
    "frontend": "default", "frontend_conf": {"n_fft": 512, "win_length": 400, "hop_length": 160, "n_mels": 40},
    "specaug": None, "normalize": "utterance_mvn",
    "encoder": "dual_mode_conformer",
    "encoder_conf": {"output_size": 96, "attention_heads": 2, "linear_units": 192, "num_blocks": 2,
                     "cnn_module_kernel": 7, "dropout_rate": 0.0, "positional_dropout_rate": 0.0,
                     "chunk_size": 4, "dynamic_chunk_range": [2, 8]},
    "decoder": "transformer",
    "decoder_conf": {"attention_heads": 2, "linear_units": 192, "num_blocks": 1, "dropout_rate": 0.0,
                     "positional_dropout_rate": 0.0, "self_attention_dropout_rate": 0.0,
                     "src_attention_dropout_rate": 0.0},
    "model": "dual_mode", "model_conf": {"ctc_weight": 0.5, "lsm_weight": 0.0, "inplace_kd_weight": 0.1},
    "optim": "adam", "optim_conf": {"lr": 0.002},
    "scheduler": "warmuplr", "scheduler_conf": {"warmup_steps": 100},
    "batch_type": "sorted", "batch_size": 8, "max_epoch": 40, "num_att_plot": 0, "num_workers": 0,
    "best_model_criterion": [["valid", "acc", "max"]], "keep_nbest_models": 1, "seed": 0,
}


def _shortest_utterances(n: int):
    wavs = dict(line.split() for line in (CORPUS / "train" / "wav.scp").read_text().splitlines())
    texts = dict(line.split(" ", 1) for line in (CORPUS / "train" / "text").read_text().splitlines())
    durations = {u: sf.info(str(CORPUS / p)).frames for u, p in wavs.items()}
    utts = sorted(wavs, key=lambda u: (durations[u], u))[:n]
    return [(u, CORPUS / wavs[u], texts[u], durations[u]) for u in utts]


def _write_data(data: Path, utts) -> None:
    data.mkdir(parents=True)
    (data / "wav.scp").write_text("".join(f"{u} {p}\n" for u, p, _, _ in utts))
    (data / "text").write_text("".join(f"{u} {t}\n" for u, _, t, _ in utts))
    (data / "speech_shape").write_text("".join(f"{u} {n}\n" for u, _, _, n in utts))
    (data / "text_shape").write_text("".join(f"{u} {len(t)}\n" for u, _, t, _ in utts))


@pytest.fixture(scope="module")
def memorised(tmp_path_factory):
    if not (CORPUS / "train" / "wav.scp").is_file():
        pytest.skip(f"speechocean762 subset not found at {CORPUS}")
    tmp = tmp_path_factory.mktemp("learning")
    utts = _shortest_utterances(NUM_UTTS)
    _write_data(tmp / "data", utts)
    (tmp / "tokens.txt").write_text("\n".join(TOKENS) + "\n")
    (tmp / "train.yaml").write_text(yaml.safe_dump(CONFIG))
    data = tmp / "data"
    cmd = [sys.executable, "-m", "espnet_durep.bin.durep_train", "--config", str(tmp / "train.yaml"),
           "--token_type", "char", "--token_list", str(tmp / "tokens.txt"), "--use_preprocessor", "true",
           "--ngpu", "0", "--output_dir", str(tmp / "exp")]
    for split in ("train", "valid"):
        cmd += [f"--{split}_data_path_and_name_and_type", f"{data}/wav.scp,speech,sound",
                f"--{split}_data_path_and_name_and_type", f"{data}/text,text,text",
                f"--{split}_shape_file", f"{data}/speech_shape", f"--{split}_shape_file", f"{data}/text_shape"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=env)
    (tmp / "exp" / "train.log").write_text(proc.stderr)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return tmp / "exp", utts


def _decode(s2t, utts, chunk_ms=None):
    hyps = []
    for _, path, _, _ in utts:
        wave = torch.from_numpy(sf.read(str(path), dtype="float32")[0])
        if chunk_ms is None:
            hyps.append(s2t(wave).text)
        else:
            stream = s2t.stream(chunk_ms=chunk_ms)
            stream.accept_waveform(wave)
            hyps.append(stream.finalize().text)
    return hyps


@pytest.mark.parametrize("chunk_ms", [None, 160, 640], ids=["full", "streaming160", "streaming640"])
def test_memorises_real_speech_in_both_modes(memorised, chunk_ms):
    exp, utts = memorised
    torch.set_num_threads(1)
    s2t = Speech2TextDualMode.from_pretrained(exp, beam_size=4)
    refs = [t for _, _, t, _ in utts]
    wer = jiwer.wer(refs, _decode(s2t, utts, chunk_ms))
    assert wer < WER_CEILING, f"WER {wer:.1%} on the memorised utterances ({'full' if chunk_ms is None else chunk_ms})"


def test_learning_curve_leaves_the_blank_plateau(memorised):
    exp, _ = memorised
    epochs = learning_curve(exp / "train.log")
    assert len(epochs) == CONFIG["max_epoch"]
    first, last = epochs[0]["valid"], epochs[-1]["valid"]
    assert float(last["loss_ctc_full"]) < 0.2 * float(first["loss_ctc_full"])
    assert float(last["cer_ctc_streaming"]) < 0.2
