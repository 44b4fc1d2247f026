#!/usr/bin/env python3
"""Export a trained dual-mode CTC/attention model to ONNX, then check it against PyTorch.

    python -m espnet_durep.bin.export_onnx --model_dir exp/student --output_dir exp/student/onnx \\
        --check_data_dir dump/raw/test [--quantize int8]

The export directory (see :mod:`espnet_durep.export.onnx`) is read by
``espnet_durep.runtime.recognizer.OnnxSpeech2Text`` (or ``Speech2TextDualMode.from_pretrained``),
with ONNX Runtime and NumPy only.  After writing it, the command decodes the first
``--check_utterances`` utterances of ``--check_data_dir`` (default: the experiment's
validation set) with both backends, prints the largest differences of features, encoder
outputs and CTC log-posteriors and any token mismatch, and writes them to ``check.json``.
Quantised exports differ from PyTorch by design: their check reports, it does not fail.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch

from espnet_durep.bin.durep_inference import BadUtterance, checked_waveform, read_audio, read_table

# exact (fp32) exports must match PyTorch this closely (features, encoder, CTC log-posteriors)
TOLERANCE = 1e-3


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", type=Path, required=True, help="experiment directory (config.yaml + model)")
    parser.add_argument("--model_file", default=None, help="model file in --model_dir (default: the best one)")
    parser.add_argument("--output_dir", type=Path, required=True, help="export directory to write")
    parser.add_argument("--quantize", choices=["int8"], default=None,
                        help="dynamic int8 quantisation of the weights of every graph")
    parser.add_argument("--check_data_dir", type=Path, default=None,
                        help="data directory (wav.scp) of the check (default: the experiment's validation set)")
    parser.add_argument("--check_utterances", type=int, default=5, help="utterances decoded by the check (0: none)")
    parser.add_argument("--chunk_size", type=int, default=None,
                        help="streaming chunk of the check, in encoder frames (default: the model's)")
    parser.add_argument("--num_left_chunks", type=int, default=None,
                        help="streaming left context of the check, in chunks (default: the model's; -1: all)")
    parser.add_argument("--beam_size", type=int, default=10, help="CTC prefix beam of the check's searches")
    parser.add_argument("--ctc_weight", type=float, default=0.3, help="CTC weight of attention rescoring")
    return parser


def _check_wavs(args, s2t):
    data_dir = args.check_data_dir
    if data_dir is None:
        for spec in s2t.args.valid_data_path_and_name_and_type:  # [path, name, type] each
            path, _, kind = spec.split(",") if isinstance(spec, str) else spec
            if kind == "sound":
                data_dir = Path(path).parent
        if data_dir is None or not (data_dir / "wav.scp").is_file():
            raise FileNotFoundError(f"{args.model_dir}: its validation wav.scp is not found from here; "
                                    f"name audio for the check with --check_data_dir")
    waves = {}
    for utt, spec in list(read_table(data_dir / "wav.scp").items()):
        if len(waves) == args.check_utterances:
            break
        try:
            samples, rate = read_audio(spec)
            waves[utt] = checked_waveform(samples, rate, s2t.sample_rate, s2t.min_samples(), utt).numpy()
        except BadUtterance as e:
            logging.warning("%s: %s (not used by the check)", utt, e)
    return waves


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    torch.set_num_threads(1)
    from espnet_durep.export.onnx import check_export, export_onnx
    from espnet_durep.inference.recognizer import Speech2TextDualMode

    try:
        s2t = Speech2TextDualMode.from_pretrained(args.model_dir, args.model_file, beam_size=args.beam_size,
                                                  ctc_weight=args.ctc_weight, full_search="attention_rescoring")
        manifest = export_onnx(s2t, args.output_dir, args.quantize)
        waves = _check_wavs(args, s2t) if args.check_utterances > 0 else {}
    except (FileNotFoundError, ValueError) as e:
        print(f"export_onnx: {e}", file=sys.stderr)
        return 1
    size = sum((args.output_dir / name).stat().st_size for name in manifest["files"])
    print(f"wrote {args.output_dir} ({len(manifest['files'])} files, {size / 1e6:.1f} MB)")
    if not waves:
        print("no check run (--check_utterances 0)")
        return 0
    report = check_export(s2t, args.output_dir, waves, args.chunk_size, args.num_left_chunks)
    (args.output_dir / "check.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"check on {report['utterances']} utterances (streaming chunk {report['chunk_size']}, "
          f"left {report['num_left_chunks']}): largest |ONNX - PyTorch|:")
    for name, value in report["max_abs_diff"].items():
        print(f"  {name:17s} {value:.3g}")
    print(f"  token mismatches: {len(report['token_mismatches'])} of {2 * report['utterances']} decodings")
    exact = max(report["max_abs_diff"].values()) <= TOLERANCE and not report["token_mismatches"]
    if args.quantize is None and not exact:
        print(f"export_onnx: the fp32 export differs from PyTorch beyond {TOLERANCE} or in tokens "
              f"(see {args.output_dir / 'check.json'})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
