#!/usr/bin/env python3
"""Streaming recognition server (websockets): many concurrent streams, batched chunk steps.

    python -m espnet_durep.bin.serve --model_dir exp/student/onnx --host 127.0.0.1 --port 8765

``--model_dir`` is an ONNX export (``python -m espnet_durep.bin.export_onnx``) or an experiment
directory, which is exported to ``<model_dir>/onnx`` first (and checked against PyTorch) unless
that export exists.  The protocol is described in :mod:`espnet_durep.runtime.server` and in the
README; ``python -m espnet_durep.bin.stream_client`` is a client.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_durep.runtime.server import EndpointRules, StreamingServer


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", type=Path, required=True, help="ONNX export or experiment directory")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0: any free port)")
    parser.add_argument("--max_streams", type=int, default=32, help="concurrent streams; more are refused")
    parser.add_argument("--max_batch", type=int, default=16, help="streams per batched chunk step")
    parser.add_argument("--idle_timeout_s", type=float, default=30.0, help="close a stream silent this long")
    parser.add_argument("--max_pending_s", type=float, default=30.0,
                        help="audio waiting to be decoded per stream before the server refuses more")
    parser.add_argument("--max_left_chunks", type=int, default=16,
                        help="largest left context a client may ask for (-1: also unlimited, unbounded memory)")
    parser.add_argument("--beam_size", type=int, default=10, help="CTC prefix beam")
    parser.add_argument("--ctc_weight", type=float, default=0.3, help="CTC weight of attention rescoring")
    parser.add_argument("--streaming_search", default="attention_rescoring",
                        choices=["attention_rescoring", "ctc_prefix_beam", "ctc_greedy"], help="search per stream")
    parser.add_argument("--num_threads", type=int, default=1, help="ONNX Runtime threads")
    parser.add_argument("--no_endpoint", action="store_true", help="no endpointing by default")
    parser.add_argument("--trailing_silence_ms", type=float, default=800.0,
                        help="endpoint after this much audio without a new token (0: off)")
    parser.add_argument("--silence_before_speech_ms", type=float, default=2400.0,
                        help="restart a segment in which nothing was decoded for this long (0: off)")
    parser.add_argument("--max_utterance_ms", type=float, default=20000.0, help="longest segment (0: no limit)")
    return parser


def export_dir_of(model_dir: Path) -> Path:
    """``model_dir`` if it is an export, else its ``onnx`` export (made now if missing)."""
    if (model_dir / "manifest.json").is_file():
        return model_dir
    export = model_dir / "onnx"
    if not (export / "manifest.json").is_file():
        from espnet_durep.bin import export_onnx

        logging.info("%s is an experiment: exporting it to %s", model_dir, export)
        if export_onnx.main(["--model_dir", str(model_dir), "--output_dir", str(export)]) != 0:
            raise ValueError(f"exporting {model_dir} failed")
    return export


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    from espnet_durep.runtime.recognizer import OnnxSpeech2Text

    try:
        s2t = OnnxSpeech2Text(export_dir_of(args.model_dir), beam_size=args.beam_size, ctc_weight=args.ctc_weight,
                              streaming_search=args.streaming_search, num_threads=args.num_threads)
    except (FileNotFoundError, ValueError) as e:
        print(f"serve: {e}", file=sys.stderr)
        return 1
    rules = EndpointRules(not args.no_endpoint, args.silence_before_speech_ms, args.trailing_silence_ms,
                          args.max_utterance_ms)
    server = StreamingServer(s2t, args.max_streams, args.max_batch, args.idle_timeout_s, args.max_pending_s,
                             args.max_left_chunks, endpoint=rules)
    try:
        asyncio.run(server.serve_forever(args.host, args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
