#!/usr/bin/env python3
"""Send audio files to the streaming server and print what comes back.

    python -m espnet_durep.bin.stream_client --url ws://127.0.0.1:8765 a.wav b.flac [--realtime]

Each file is streamed over its own connection (all files at once), in ``--piece_ms`` pieces
of 16-bit PCM, paced in real time with ``--realtime``.  Partial results go to stderr; every
final result is printed as one JSON line ``{"file", "segment", "text", "token_times_ms", ...}``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import soundfile


async def stream_file(url: str, path: Path, piece_ms: float = 100.0, realtime: bool = False,
                      start: Optional[dict] = None, verbose: bool = False) -> List[dict]:
    """Stream one file; returns every message the server sent (``ready``, partials, finals, ``done``)."""
    from websockets.asyncio.client import connect

    samples, rate = soundfile.read(path, dtype="int16", always_2d=True)
    if samples.shape[1] != 1:
        raise ValueError(f"{path}: {samples.shape[1]} channels; the server takes mono audio")
    pcm = samples[:, 0].astype("<i2")
    piece = max(1, int(rate * piece_ms / 1000))
    messages: List[dict] = []
    async with connect(url, max_size=None, compression=None) as ws:
        await ws.send(json.dumps({"type": "start", "sample_rate": rate, "format": "s16le", **(start or {})}))

        async def send_audio():
            for i in range(0, len(pcm), piece):
                await ws.send(pcm[i:i + piece].tobytes())
                if realtime:
                    await asyncio.sleep(piece_ms / 1000)
            await ws.send(json.dumps({"type": "end"}))

        sender = asyncio.create_task(send_audio())
        async for text in ws:
            message = json.loads(text)
            messages.append(message)
            if verbose and message["type"] == "partial":
                print(f"{path.name} [{message['segment']}] {message['text']}", file=sys.stderr)
            if message["type"] in ("done", "error"):
                break
        sender.cancel()
    return messages


async def _main(args) -> int:
    results = await asyncio.gather(*(stream_file(args.url, Path(f), args.piece_ms, args.realtime,
                                                 verbose=True) for f in args.files), return_exceptions=True)
    status = 0
    for f, messages in zip(args.files, results):
        if isinstance(messages, Exception):
            print(f"{f}: {messages}", file=sys.stderr)
            status = 1
            continue
        for m in messages:
            if m["type"] == "final":
                print(json.dumps({"file": f, **{k: v for k, v in m.items() if k != "type"}}, ensure_ascii=False))
            elif m["type"] == "error":
                print(f"{f}: server error: {m['message']}", file=sys.stderr)
                status = 1
    return status


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="audio files (mono, at the model's sample rate)")
    parser.add_argument("--url", default="ws://127.0.0.1:8765", help="server address")
    parser.add_argument("--piece_ms", type=float, default=100.0, help="audio per binary message")
    parser.add_argument("--realtime", action="store_true", help="pace the audio in real time")
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
