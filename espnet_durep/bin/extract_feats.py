#!/usr/bin/env python3
"""Extract a dual-mode encoder's layer representations, in full-context or streaming mode.

    python -m espnet_durep.bin.extract_feats --model_dir exp/student --data_dir data/test \\
        --output_dir feats/student_streaming640 --mode streaming --chunk_size 16 --num_left_chunks 4 \\
        --layers 0,2,4

Layer k is the output of encoder block k (0: the subsampling output), as in the encoder's
``forward(return_layers=...)``. Streaming mode runs the real incremental path (incremental
features, one chunk step at a time); its frames equal the masked streaming ``forward``.

Output directory:
    layer<k>.ark, layer<k>.scp  one (T', D) float32 matrix per utterance and layer (kaldiio)
    utt2num_frames              T' per utterance (encoder frames)
    feats.json                  mode, chunking, frame shift (ms), layers, model files
    failed_utts                 utterances that could not be read and why (no features written)

Bad audio (missing, unreadable, several channels, empty, NaN/inf, too short) is reported per
utterance in ``failed_utts`` and the run goes on; other sample rates are resampled.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from espnet_durep.bin.durep_inference import BadUtterance, checked_waveform, read_audio, read_table
from espnet_durep.modes import FULL, MODES, STREAMING


def parse_layers(text: str, num_blocks: int) -> List[int]:
    if text == "all":
        return list(range(num_blocks + 1))
    try:
        layers = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise ValueError(f"--layers must be 'all' or comma-separated block numbers, got {text!r}") from None
    bad = [k for k in layers if not 0 <= k <= num_blocks]
    if not layers or bad:
        raise ValueError(f"--layers {text!r}: blocks are 0..{num_blocks} (0 = subsampling output)")
    return layers


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model_dir", type=Path, required=True, help="experiment directory or packed model zip")
    p.add_argument("--model_file", default=None, help="model .pth in --model_dir (default: the best one found)")
    p.add_argument("--data_dir", type=Path, required=True, help="Kaldi data directory with wav.scp")
    p.add_argument("--output_dir", type=Path, required=True)
    p.add_argument("--mode", choices=MODES, default=FULL)
    p.add_argument("--chunk_size", type=int, default=None, help="streaming chunk, encoder frames (default: model's)")
    p.add_argument("--num_left_chunks", type=int, default=None, help="streaming left context (-1: unlimited)")
    p.add_argument("--layers", default="all", help="'all' or comma-separated block numbers, e.g. 0,3,6")
    p.add_argument("--ngpu", type=int, default=0, help="0: CPU; 1: GPU")
    p.add_argument("--num_threads", type=int, default=1, help="CPU threads")
    return p


class LayerWriter:
    """One kaldiio ark/scp per layer, plus utt2num_frames and failed_utts."""

    def __init__(self, out: Path, layers: Sequence[int]):
        import kaldiio

        out.mkdir(parents=True, exist_ok=True)
        self.writers = {k: kaldiio.WriteHelper(f"ark,scp:{out / f'layer{k}.ark'},{out / f'layer{k}.scp'}")
                        for k in layers}
        self.num_frames = open(out / "utt2num_frames", "w", encoding="utf-8")
        self.failed = open(out / "failed_utts", "w", encoding="utf-8")

    def write(self, utt: str, layers: Dict[int, torch.Tensor]) -> None:
        for k, w in self.writers.items():
            w(utt, layers[k].float().cpu().numpy())
        self.num_frames.write(f"{utt} {layers[next(iter(self.writers))].size(0)}\n")

    def close(self) -> None:
        for w in self.writers.values():
            w.close()
        self.num_frames.close()
        self.failed.close()


@torch.no_grad()
def extract(s2t, wave: torch.Tensor, layers: Sequence[int], mode: str, chunk: int, left: int) -> Dict[int, torch.Tensor]:
    """{layer: (T', D)} of one waveform (n,)."""
    encoder = s2t.model.encoder
    if mode == FULL:
        feats, lens = s2t.features_of(wave)
        _, _, out = encoder(feats, lens, mode=FULL, return_layers=layers)
        return {k: v[0] for k, v in out.items()}
    s2t.features.reset()
    cache = encoder.init_cache(1, chunk, left, return_layers=layers)
    step = max(1, round(s2t.chunk_ms(chunk) * s2t.sample_rate / 1000))
    for start in range(0, wave.numel(), step):  # audio arrives one chunk at a time
        encoder.accept_feats(s2t.features.accept_waveform(wave[start:start + step])[None].to(s2t.device), cache)
    encoder.accept_feats(s2t.features.finalize()[None].to(s2t.device), cache, is_final=True)
    return {k: torch.cat(cache.layers[k], dim=1)[0] for k in layers}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    torch.set_num_threads(args.num_threads)
    from espnet_durep.encoder.dual_mode_conformer import DualModeConformerEncoder
    from espnet_durep.inference.recognizer import Speech2TextDualMode

    try:
        s2t = Speech2TextDualMode.from_pretrained(args.model_dir, args.model_file,
                                                  device="cuda" if args.ngpu > 0 else "cpu",
                                                  full_search="attention_rescoring")
        encoder = s2t.model.encoder
        if not isinstance(encoder, DualModeConformerEncoder):
            raise ValueError(f"{args.model_dir}: extract_feats needs a dual_mode_conformer encoder, "
                             f"got {type(encoder).__name__}")
        layers = parse_layers(args.layers, len(encoder.encoders))
        wav_scp = args.data_dir / "wav.scp"
        if not wav_scp.is_file():
            raise FileNotFoundError(f"{wav_scp} not found")
        table = read_table(wav_scp)
    except (ValueError, FileNotFoundError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    chunk = s2t.chunk_frames(chunk_size=args.chunk_size) if args.mode == STREAMING else None
    left = encoder.num_left_chunks if args.num_left_chunks is None else args.num_left_chunks
    writer = LayerWriter(args.output_dir, layers)
    n_failed = 0
    try:
        for utt, spec in table.items():
            try:
                samples, rate = read_audio(spec)
                wave = checked_waveform(samples, rate, s2t.sample_rate, s2t.min_samples(), utt)
            except BadUtterance as e:
                logging.warning("%s: %s; no features written", utt, e)
                writer.failed.write(f"{utt} {e}\n")
                n_failed += 1
                continue
            writer.write(utt, extract(s2t, wave.to(s2t.device), layers, args.mode, chunk, left))
    finally:
        writer.close()
    info = {"mode": args.mode, "layers": layers, "frame_shift_ms": s2t.frame_ms,
            "chunk_size": chunk, "chunk_ms": s2t.chunk_ms(chunk) if chunk else None,
            "num_left_chunks": left if chunk else None, "num_utts": len(table) - n_failed, "num_failed": n_failed,
            "model_dir": str(args.model_dir), "model_file": args.model_file}
    (args.output_dir / "feats.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    logging.info("wrote layers %s of %d utterances to %s (%d failed)", layers, info["num_utts"], args.output_dir,
                 n_failed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
