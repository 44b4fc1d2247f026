"""Export a dual-mode CTC/attention model to ONNX for :mod:`espnet_durep.runtime`.

An export directory holds:

* ``encoder_chunk.onnx``: the streaming step ``forward_chunk`` with explicit caches
  (feats (B, F, idim), att_cache (L, B, H, Tc, 2 d_k), cnn_cache (L, B, D, K'),
  att_cache_mask (B, Tc) -> enc (B, c, D), att_cache (L, B, H, Tc + c, 2 d_k), cnn_cache).
  Every size is dynamic, so one graph serves every chunk size and left context: the caller
  keeps the last ``num_left_chunks * chunk_size`` cache frames (all of them for unlimited);
* ``encoder_full.onnx``: the full-context encoder (feats (B, T, idim), feats_lengths (B,) ->
  enc (B, T', D), enc_lengths (B,));
* ``ctc.onnx``: the CTC head (enc (B, T, D) -> log-posteriors (B, T, V)), and
  ``ctc_streaming.onnx`` when the model has separate streaming heads;
* ``decoder.onnx`` (and ``decoder_streaming.onnx``): what attention rescoring needs
  (enc (1, T, D), ys_in (N, U), ys_in_lens (N,) -> log-probabilities (N, U, V));
* ``frontend.npz``: the STFT window, mel matrix and global normalisation statistics;
* ``tokens.txt`` (and the BPE model) and ``manifest.json``: settings, versions, checksums.

The manifest's ``graphs`` maps each mode ("full", "streaming") to its CTC and decoder graph
files, so the runtime never guesses file names: exports written before the mode names were
unified (mode key "stream", files ``ctc_stream.onnx`` / ``decoder_stream.onnx``) still load.
"""
from __future__ import annotations

import datetime
import json
import shutil
import warnings
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch
from torch import nn

import espnet_durep
from espnet_durep.frontend.logmel import LogMelFeatures, LogMelSettings
from espnet_durep.model.dual_mode_asr import DualModeASRModel
from espnet_durep.model.inference import RescoringDecoder
from espnet_durep.modes import FULL, MODES, STREAMING
from espnet_durep.runtime.model import FORMAT, FORMAT_VERSION, sha256

OPSET = 17
QUANTIZATIONS = ("int8",)
TOKEN_TYPES = ("char", "bpe", "word")


class ChunkStep(nn.Module):
    """``forward_chunk`` that returns the whole cache (the caller trims it to its left context)."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, feats, att_cache, cnn_cache, att_cache_mask):
        return self.encoder.forward_chunk(feats, -1, att_cache, cnn_cache, att_cache_mask)


class FullEncoder(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, feats, feats_lengths):
        return self.model.encode_for_decoding(feats, feats_lengths, FULL)


class CTCHead(nn.Module):
    def __init__(self, ctc: nn.Module):
        super().__init__()
        self.ctc = ctc

    def forward(self, enc):
        return torch.log_softmax(self.ctc.ctc_lo(enc), dim=-1)


def frontend_settings(frontend: nn.Module, normalize: Optional[nn.Module]) -> LogMelSettings:
    """The arrays and settings of ESPnet's DefaultFrontend (+ GlobalMVN) for the NumPy front-end."""
    from espnet2.asr.frontend.default import DefaultFrontend
    from espnet2.layers.global_mvn import GlobalMVN

    if not isinstance(frontend, DefaultFrontend) or frontend.stft is None:
        raise ValueError(f"ONNX export supports ESPnet's default STFT/log-mel frontend, not {type(frontend).__name__}")
    if normalize is not None and not isinstance(normalize, GlobalMVN):
        raise ValueError(f"ONNX export supports global_mvn (or no) normalisation, not {type(normalize).__name__}: "
                         f"per-utterance statistics cannot be computed while streaming")
    stft = frontend.stft
    if not stft.onesided:
        raise ValueError("ONNX export needs a one-sided STFT (ESPnet's default)")
    win_length = stft.win_length or stft.n_fft
    window = np.zeros(stft.n_fft, dtype=np.float32)
    left = (stft.n_fft - win_length) // 2  # torch.stft centres a shorter window in n_fft
    window[left: left + win_length] = (getattr(torch, f"{stft.window}_window")(win_length).numpy()
                                       if stft.window else 1.0)
    logmel = frontend.logmel
    log_base = None if logmel.log_base is None else float(logmel.log_base)
    mean = std = None
    if normalize is not None:
        mean = normalize.mean.float().numpy() if normalize.norm_means else None
        std = normalize.std.float().numpy() if normalize.norm_vars else None
    return LogMelSettings(int(logmel.mel_options["sr"]), int(stft.n_fft), int(stft.hop_length), bool(stft.center),
                          bool(stft.normalized), window, logmel.melmat.float().numpy(), log_base, mean, std)


def _export(module: nn.Module, args, path: Path, inputs, outputs, dynamic) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python values we checked by hand
        torch.onnx.export(module.eval(), args, str(path), dynamo=False, opset_version=OPSET,
                          input_names=inputs, output_names=outputs, dynamic_axes=dynamic)


def _quantize(path: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = path.with_suffix(".fp32.onnx")
    path.rename(tmp)
    quiet = logging.getLogger().level
    # the quantiser logs every tensor it skips, and its advice on pre-processing, at INFO / WARNING
    logging.getLogger().setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(tmp), str(path), weight_type=QuantType.QInt8)
    finally:
        logging.getLogger().setLevel(quiet)
    tmp.unlink()


@torch.no_grad()
def export_onnx(s2t, output_dir: Path, quantize: Optional[str] = None) -> Dict:
    """Write the export directory of the recogniser ``s2t`` (a ``Speech2TextDualMode``); returns the manifest."""
    if not isinstance(s2t.model, DualModeASRModel):
        raise ValueError("ONNX export covers dual-mode CTC/attention models; transducer models are not exported "
                         "(their beam search calls the prediction and joint networks label by label)")
    if quantize not in (None, *QUANTIZATIONS):
        raise ValueError(f"quantize must be one of {QUANTIZATIONS} or None, got {quantize!r}")
    token_type = s2t.args.token_type
    if token_type not in TOKEN_TYPES:
        raise ValueError(f"ONNX export supports token_type {TOKEN_TYPES}, not {token_type!r}")
    model, encoder = s2t.model.cpu().eval(), s2t.encoder.cpu()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    # example inputs: two chunks of history, a batch of 2 streams (every size is declared dynamic)
    chunk = encoder.chunk_size
    cache = encoder.init_cache(2, chunk)
    feats = torch.randn(2, encoder.chunk_window(chunk) + 3 * encoder.subsampling, encoder.input_size)
    _, cache = encoder.accept_feats(feats, cache)
    step_feats = torch.randn(2, encoder.chunk_window(chunk), encoder.input_size)
    mask = torch.ones(2, cache.att_cache.size(3), dtype=torch.bool)
    graphs = {"encoder_chunk": "encoder_chunk.onnx", "encoder_full": "encoder_full.onnx", "ctc": {}, "decoder": {}}
    _export(ChunkStep(encoder), (step_feats, cache.att_cache, cache.cnn_cache, mask),
            output_dir / graphs["encoder_chunk"], ["feats", "att_cache", "cnn_cache", "att_cache_mask"],
            ["enc", "new_att_cache", "new_cnn_cache"],
            {"feats": {0: "B", 1: "F"}, "att_cache": {1: "B", 3: "Tc"}, "cnn_cache": {1: "B"},
             "att_cache_mask": {0: "B", 1: "Tc"}, "enc": {0: "B", 1: "c"}, "new_att_cache": {1: "B", 3: "Tc2"},
             "new_cnn_cache": {1: "B"}})
    full_feats = torch.randn(2, 97, encoder.input_size)
    _export(FullEncoder(model), (full_feats, torch.tensor([97, 80])), output_dir / graphs["encoder_full"],
            ["feats", "feats_lengths"], ["enc", "enc_lengths"],
            {"feats": {0: "B", 1: "T"}, "feats_lengths": {0: "B"}, "enc": {0: "B", 1: "T2"}, "enc_lengths": {0: "B"}})
    enc = torch.randn(1, 11, encoder.output_size())
    exported = {}
    for mode in MODES:
        ctc, decoder = s2t.model.heads(mode)
        for kind, module in (("ctc", ctc), ("decoder", decoder)):
            if module is None:
                graphs[kind][mode] = None
                continue
            if id(module) not in exported:
                name = f"{kind}.onnx" if mode == FULL else f"{kind}_{mode}.onnx"
                if kind == "ctc":
                    _export(CTCHead(module), (enc,), output_dir / name, ["enc"], ["log_probs"],
                            {"enc": {0: "B", 1: "T"}, "log_probs": {0: "B", 1: "T"}})
                else:
                    ys_in = torch.tensor([[model.sos, 3, 4], [model.sos, 5, model.eos]])
                    _export(RescoringDecoder(module), (enc, ys_in, torch.tensor([3, 2])), output_dir / name,
                            ["enc", "ys_in", "ys_in_lens"], ["log_probs"],
                            {"enc": {1: "T"}, "ys_in": {0: "N", 1: "U"}, "ys_in_lens": {0: "N"},
                             "log_probs": {0: "N", 1: "U"}})
                exported[id(module)] = name
            graphs[kind][mode] = exported[id(module)]
    onnx_files = [graphs["encoder_chunk"], graphs["encoder_full"], *exported.values()]
    if quantize == "int8":
        for name in onnx_files:
            _quantize(output_dir / name)

    frontend = s2t.features.frontend
    frontend_manifest = frontend_settings(frontend, s2t.features.normalize).save(output_dir / "frontend.npz")
    (output_dir / "tokens.txt").write_text("\n".join(s2t.token_list) + "\n", encoding="utf-8")
    bpemodel = getattr(s2t.args, "bpemodel", None)
    tokens = {"file": "tokens.txt", "token_type": token_type, "bpemodel": None, "blank_id": 0,
              "sos": int(model.sos), "eos": int(model.eos),
              "space_symbol": getattr(s2t.tokenizer, "space_symbol", "<space>")}
    if token_type == "bpe":
        shutil.copy(bpemodel, output_dir / "bpe.model")
        tokens["bpemodel"] = "bpe.model"
    attn = encoder.encoders[0].self_attn
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "quantization": quantize,
        "encoder": {"input_size": encoder.input_size, "output_size": encoder.output_size(),
                    "num_blocks": len(encoder.encoders), "attention_heads": attn.h, "d_k": attn.d_k,
                    "cnn_cache_frames": encoder.encoders[0].conv.cache_frames,
                    "subsampling_layout": [list(kv) for kv in encoder.embed.layout],
                    "chunk_size": encoder.chunk_size, "num_left_chunks": encoder.num_left_chunks,
                    "chunks": "encoder_chunk takes any chunk size >= 1 and any left context (the caller trims "
                              "att_cache to num_left_chunks * chunk_size frames; -1 keeps all)"},
        "frontend": frontend_manifest,
        "tokens": tokens,
        "graphs": graphs,
    }
    files = [*onnx_files, frontend_manifest["arrays"], "tokens.txt"] + (["bpe.model"] if tokens["bpemodel"] else [])
    manifest["files"] = {name: sha256(output_dir / name) for name in files}
    (output_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _versions() -> Dict[str, str]:
    import onnx
    import onnxruntime

    import espnet

    return {"espnet_durep": espnet_durep.__version__, "torch": torch.__version__, "espnet": espnet.__version__,
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "opset": str(OPSET)}


@torch.no_grad()
def check_export(s2t, export_dir: Path, waves: Dict[str, np.ndarray], chunk_size: Optional[int] = None,
                 num_left_chunks: Optional[int] = None) -> Dict:
    """Compare an export with its PyTorch model on real audio: the largest absolute difference of
    features, full-context and streaming encoder output and CTC log-posteriors, and whether the
    recognised tokens are identical in both modes (with ``s2t``'s searches, which must not be ESPnet's
    joint search: an export has none)."""
    from espnet_durep.runtime.recognizer import OnnxSpeech2Text

    ort = OnnxSpeech2Text(export_dir, beam_size=s2t.beam_size, ctc_weight=s2t.ctc_weight,
                          full_search=s2t.full_search, streaming_search=s2t.streaming_search,
                          token_beam=s2t.token_beam, blank_penalty=s2t.blank_penalty)
    chunk = ort.chunk_frames(chunk_size=chunk_size)
    num_left_chunks = ort.default_left_chunks if num_left_chunks is None else num_left_chunks
    diffs = {"features": 0.0, "encoder_full": 0.0, "ctc_full": 0.0, "encoder_streaming": 0.0}
    mismatches = []
    for utt, wave in waves.items():
        speech = torch.from_numpy(wave)
        feats, _ = s2t.features_of(speech)
        ort_feats = LogMelFeatures(ort.frontend).whole(wave)
        diffs["features"] = max(diffs["features"], float(np.abs(feats[0].numpy() - ort_feats).max()))
        enc = s2t.encode(speech, FULL)
        ort_enc = ort.model.encode_full(feats[0].numpy())
        diffs["encoder_full"] = max(diffs["encoder_full"], float(np.abs(enc.numpy() - ort_enc).max()))
        ctc = torch.log_softmax(s2t.model.heads(FULL)[0].ctc_lo(enc), dim=-1).numpy()
        diffs["ctc_full"] = max(diffs["ctc_full"], float(np.abs(ctc - ort.model.ctc_log_probs(FULL, ort_enc)).max()))
        stream = s2t.new_encoder_stream(chunk, num_left_chunks)
        ort_stream = ort.new_encoder_stream(chunk, num_left_chunks)
        torch_enc = torch.cat([stream.accept(feats[0], False), stream.accept(feats[0, :0], True)]).numpy()
        onnx_enc = np.concatenate([ort_stream.accept(feats[0].numpy(), False),
                                   ort_stream.accept(feats[0, :0].numpy(), True)])
        diffs["encoder_streaming"] = max(diffs["encoder_streaming"], float(np.abs(torch_enc - onnx_enc).max()))
        for mode, torch_hyp, onnx_hyp in (
                (FULL, s2t(speech).token_ids, ort(wave).token_ids),
                (STREAMING, _streamed_ids(s2t, wave, chunk, num_left_chunks),
                 _streamed_ids(ort, wave, chunk, num_left_chunks))):
            if torch_hyp != onnx_hyp:
                mismatches.append({"utt": utt, "mode": mode, "torch": torch_hyp, "onnx": onnx_hyp})
    return {"utterances": len(waves), "chunk_size": chunk, "num_left_chunks": num_left_chunks,
            "max_abs_diff": diffs, "token_mismatches": mismatches}


def _streamed_ids(recognizer, wave: np.ndarray, chunk: int, left: Optional[int]):
    stream = recognizer.stream(chunk_size=chunk, num_left_chunks=left)
    step = 1600  # 100 ms pieces at 16 kHz
    for start in range(0, len(wave), step):
        stream.accept_waveform(wave[start:start + step])
    return stream.finalize().token_ids
