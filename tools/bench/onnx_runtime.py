#!/usr/bin/env python3
"""Accuracy and speed of ONNX exports next to their PyTorch model, on a real test set.

Each backend (the PyTorch recogniser, then every export directory given) decodes every
utterance of ``--data_dir`` in full-context mode and streaming mode with the same searches
(CTC prefix beam search + attention rescoring, ``--beam_size``) on one CPU thread; the
hypotheses are scored with NIST sclite (the recipe's ``scripts/score_sclite.sh``).

Numbers per backend and mode:

* CER / WER: sclite ``Sum/Avg`` error rates, in %;
* RTF: decoding compute time / audio duration (features, encoder, search; streaming is fed
  one chunk of audio per ``accept_waveform`` call);
* same tokens: utterances whose tokens equal the PyTorch backend's;
* vs torch: the backend's RTF over PyTorch's, measured in the same run.

Example (from a recipe directory, after ``python -m espnet_durep.bin.export_onnx``)::

    python ../../../tools/bench/onnx_runtime.py --model_dir exp/student \\
        --exports exp/student/onnx exp/student/onnx_int8 --data_dir dump/raw/test --out_dir exp/student/onnx_bench
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Dict, List

import torch

from bench_common import load_waves, print_table, score


def decode_all(s2t, waves: Dict[str, "object"], mode: str, chunk: int, left: int):
    """({utt: result}, compute seconds) of every utterance in ``mode``."""
    results, compute = {}, 0.0
    for utt, wave in waves.items():
        start = time.perf_counter()
        if mode == "full":
            results[utt] = s2t(wave)
        else:
            stream = s2t.stream(chunk_size=chunk, num_left_chunks=left)
            step = int(round(chunk * s2t.frame_ms * s2t.sample_rate / 1000))
            for i in range(0, len(wave), step):
                stream.accept_waveform(wave[i:i + step])
            results[utt] = stream.finalize()
        compute += time.perf_counter() - start
    return results, compute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", type=Path, required=True, help="experiment directory of the PyTorch model")
    parser.add_argument("--exports", type=Path, nargs="+", required=True, help="export directories to compare")
    parser.add_argument("--data_dir", type=Path, required=True, help="data directory (wav.scp, text, utt2spk)")
    parser.add_argument("--out_dir", type=Path, required=True, help="where hypotheses and sclite reports go")
    parser.add_argument("--max_utts", type=int, default=0, help="decode only the first N utterances (0: all)")
    parser.add_argument("--chunk_size", type=int, default=16, help="streaming chunk in encoder frames")
    parser.add_argument("--num_left_chunks", type=int, default=4, help="streaming left context in chunks")
    parser.add_argument("--beam_size", type=int, default=10, help="CTC prefix beam")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from espnet_durep.runtime.recognizer import OnnxSpeech2Text
    from espnet_durep.inference.recognizer import Speech2TextDualMode

    backends = {"pytorch": Speech2TextDualMode.from_pretrained(args.model_dir, beam_size=args.beam_size,
                                                                full_search="attention_rescoring")}
    for export in args.exports:
        backends[export.name] = OnnxSpeech2Text(export, beam_size=args.beam_size, num_threads=1)
    torch_s2t = backends["pytorch"]
    waves = load_waves(args.data_dir, torch_s2t, args.max_utts)
    audio_s = sum(len(w) for w in waves.values()) / torch_s2t.sample_rate
    print(f"{len(waves)} utterances, {audio_s / 60:.1f} min of audio from {args.data_dir}; streaming chunk "
          f"{args.chunk_size} frames, {args.num_left_chunks} left chunks; 1 thread")
    lines: List[List[object]] = []
    reference: Dict[str, Dict] = {}
    torch_rtf: Dict[str, float] = {}
    for mode in ("full", "streaming"):
        for name, s2t in backends.items():
            s2t(next(iter(waves.values())))  # warm-up
            results, compute = decode_all(s2t, waves, mode, args.chunk_size, args.num_left_chunks)
            rates = score(results, args.data_dir, args.out_dir / f"{name}_{mode}")
            if name == "pytorch":
                reference[mode], torch_rtf[mode] = results, compute / audio_s
            same = sum(results[u].token_ids == reference[mode][u].token_ids for u in waves)
            rtf = compute / audio_s
            lines.append([name, mode, f"{rates['char']:.1f}", f"{rates['word']:.1f}", f"{rtf:.4f}",
                          f"{same}/{len(waves)}", f"{rtf / torch_rtf[mode]:.2f}x"])
    print_table(["backend", "mode", "CER %", "WER %", "RTF", "same tokens", "vs torch"], lines, left=2)


if __name__ == "__main__":
    main()
