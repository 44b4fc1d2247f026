#!/usr/bin/env python3
"""The streaming server under load: batched chunk-step cost per stream, and client-side latency.

1. ``batched_chunk_step`` of an export at batch sizes ``--batches``: wall time per step and per
   stream-chunk, each stream with ``--left_chunks`` chunks of history (what a server with that
   many concurrent streams pays per chunk of audio).
2. The websocket server (in this process) with ``--clients`` concurrent clients, each streaming
   one real utterance of ``--data_dir`` in real time, one chunk of audio per message:
   * final latency: from sending ``end`` to receiving the ``final`` (last chunk, rescoring, network);
   * chunk latency: from sending the piece of audio that completes a chunk to receiving the next
     ``partial`` (only chunks whose partial text changed are counted);
   * mean batch size: stream chunk steps / batched steps the server ran.

Example (from a recipe directory)::

    python ../../../tools/bench/server_latency.py --export exp/student/onnx --data_dir dump/raw/test
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import List

import numpy as np
import soundfile

from bench_common import median_p90, print_table
from espnet_durep.bin.durep_inference import read_table
from espnet_durep.runtime.batching import batched_chunk_step
from espnet_durep.runtime.recognizer import OnnxSpeech2Text
from espnet_durep.runtime.server import StreamingServer


def step_costs(s2t: OnnxSpeech2Text, chunk: int, left: int, batches: List[int], repeats: int = 20):
    model, rng = s2t.model, np.random.default_rng(0)
    window = s2t.geometry.window(chunk)
    lines = []
    for b in batches:
        windows = [rng.normal(size=(window, model.input_size)).astype(np.float32) for _ in range(b)]
        att = np.zeros((model.num_blocks, 1, model.heads, left * chunk, 2 * model.d_k), dtype=np.float32)
        cnn = np.zeros((model.num_blocks, 1, model.output_size, model.cnn_cache_frames), dtype=np.float32)
        batched_chunk_step(model, windows, [att] * b, [cnn] * b)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            batched_chunk_step(model, windows, [att] * b, [cnn] * b)
        per_step = (time.perf_counter() - start) / repeats
        lines.append([b, per_step * 1e3, per_step / b * 1e3])
    base = lines[0][2]
    return [[b, f"{step:.2f}", f"{per:.2f}", f"{per / base:.2f}x"] for b, step, per in lines]


async def one_client(url: str, wave: np.ndarray, chunk_samples: int, start: dict):
    from websockets.asyncio.client import connect

    pcm = (np.clip(wave, -1, 1) * 32767).astype("<i2")
    sent_at: List[float] = []
    partial_latency: List[float] = []
    async with connect(url, max_size=None, compression=None) as ws:
        await ws.send(json.dumps({"type": "start", "endpoint": {"enabled": False}, **start}))
        json.loads(await ws.recv())

        async def send():
            for i in range(0, len(pcm), chunk_samples):
                await ws.send(pcm[i:i + chunk_samples].tobytes())
                sent_at.append(time.perf_counter())
                await asyncio.sleep(chunk_samples / 16000)
            sent_at.append(time.perf_counter())
            await ws.send(json.dumps({"type": "end"}))

        task = asyncio.create_task(send())
        final_latency = None
        async for text in ws:
            message, now = json.loads(text), time.perf_counter()
            if message["type"] == "partial" and sent_at:
                partial_latency.append(now - sent_at[-1])
            elif message["type"] == "final":
                final_latency = now - sent_at[-1]
            elif message["type"] in ("done", "error"):
                break
        await task
    return final_latency, partial_latency


async def load_test(s2t: OnnxSpeech2Text, waves: List[np.ndarray], chunk: int, left: int):
    server = StreamingServer(s2t, max_streams=len(waves) + 1, max_batch=max(16, len(waves)))
    port = await server.start("127.0.0.1", 0)
    chunk_samples = int(round(s2t.chunk_ms(chunk) * s2t.sample_rate / 1000))
    start = {"chunk_ms": s2t.chunk_ms(chunk), "left_chunks": left}
    try:
        results = await asyncio.gather(*(one_client(f"ws://127.0.0.1:{port}", w, chunk_samples, start)
                                         for w in waves))
    finally:
        await server.stop()
    finals = [r[0] * 1e3 for r in results]
    partials = [p * 1e3 for r in results for p in r[1]]
    return finals, partials, server.stream_steps / max(1, server.steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export", type=Path, required=True, help="ONNX export directory")
    parser.add_argument("--data_dir", type=Path, required=True, help="data directory with wav.scp")
    parser.add_argument("--chunk_size", type=int, default=16, help="chunk in encoder frames")
    parser.add_argument("--left_chunks", type=int, default=4, help="left context in chunks")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16], help="batch sizes of part 1")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8], help="concurrent clients of part 2")
    args = parser.parse_args()
    s2t = OnnxSpeech2Text(args.export, num_threads=1)
    print(f"export {args.export}: chunk {s2t.chunk_ms(args.chunk_size):g} ms, {args.left_chunks} left chunks, "
          f"1 ONNX Runtime thread")
    print("\n1. batched chunk step (per stream: the cost of one chunk of audio)")
    print_table(["streams", "ms / step", "ms / stream", "vs 1 stream"], step_costs(s2t, args.chunk_size,
                                                                               args.left_chunks, args.batches))
    specs = list(read_table(args.data_dir / "wav.scp").values())
    lines = []
    for n in args.clients:
        waves = [soundfile.read(spec, dtype="float32")[0] for spec in specs[:n]]
        finals, partials, batch = asyncio.run(load_test(s2t, waves, args.chunk_size, args.left_chunks))
        f50, f90 = median_p90(finals)
        p50, p90 = median_p90(partials) if partials else (float("nan"), float("nan"))
        lines.append([n, f"{f50:.0f} / {f90:.0f}", f"{p50:.0f} / {p90:.0f}", f"{batch:.1f}"])
    print("\n2. websocket server, real-time clients (ms, median / p90)")
    print_table(["clients", "final latency", "chunk latency", "mean batch"], lines)


if __name__ == "__main__":
    main()
