"""The websocket server, driven by a real websocket client over real speech and a tiny ONNX export."""
import asyncio
import json
import types

import numpy as np
import pytest
import soundfile

from espnet_durep.bin.stream_client import stream_file
from espnet_durep.export.onnx import export_onnx
from espnet_durep.runtime.recognizer import OnnxSpeech2Text
from espnet_durep.runtime.server import EndpointRules, StreamingServer
from espnet_durep.inference.recognizer import Speech2TextDualMode
from tiny_onnx import real_speech, tiny_experiment

START = {"chunk_ms": 40, "left_chunks": 4, "endpoint": {"enabled": False}}  # tiny model: 20 ms frames


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    exp = tiny_experiment(tmp_path_factory.mktemp("exp"))
    out = tmp_path_factory.mktemp("onnx")
    export_onnx(Speech2TextDualMode.from_pretrained(exp), out)
    return out


@pytest.fixture(scope="module")
def recognizer(export_dir):
    return OnnxSpeech2Text(export_dir, beam_size=3)


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wav")
    paths = {}
    for utt, wave in real_speech(3).items():
        paths[utt] = folder / f"{utt}.wav"
        soundfile.write(paths[utt], wave, 16000, subtype="PCM_16")
    return paths


def _alone(recognizer, path, chunk_ms=START["chunk_ms"], left=START["left_chunks"]):
    """The same audio (as 16-bit PCM) decoded in one process, no server."""
    wave = soundfile.read(path, dtype="int16")[0].astype(np.float32) / 32768.0
    stream = recognizer.stream(chunk_ms=chunk_ms, num_left_chunks=left)
    stream.accept_waveform(wave)
    return stream.finalize()


def _serve(recognizer, scenario, **server_args):
    async def run():
        server = StreamingServer(recognizer, **server_args)
        port = await server.start("127.0.0.1", 0)
        try:
            return await scenario(f"ws://127.0.0.1:{port}", server)
        finally:
            await server.stop()

    return asyncio.run(run())


def _finals(messages):
    return [m for m in messages if m["type"] == "final"]


def test_concurrent_streams_are_batched_and_each_equals_decoding_it_alone(recognizer, wavs):
    async def scenario(url, server):
        async def late(path, delay, piece_ms):
            await asyncio.sleep(delay)
            return await stream_file(url, path, piece_ms=piece_ms, start=START)
        # as fast as the clients can send (real-time pacing on an idle machine may never overlap two
        # streams' chunks), starting a little apart, in different piece sizes
        paths = list(wavs.values())
        results = await asyncio.gather(late(paths[0], 0.0, 100), late(paths[1], 0.01, 37), late(paths[2], 0.02, 250))
        return results, server.steps, server.stream_steps

    results, steps, stream_steps = _serve(recognizer, scenario)
    for path, messages in zip(wavs.values(), results):
        assert messages[0]["type"] == "ready" and messages[-1]["type"] == "done"
        (final,) = _finals(messages)
        alone = _alone(recognizer, path)
        assert final["tokens"] == alone.tokens and final["text"] == alone.text and final["endpoint"] == "end"
        times, duration_ms = final["token_times_ms"], 1000 * soundfile.info(path).frames / 16000
        assert len(times) == len(final["tokens"]) and times == sorted(times) and times[-1] <= duration_ms + 1e-6
        assert any(m["type"] == "partial" for m in messages)
    assert stream_steps > steps  # streams shared batched steps


def test_endpoints_close_contiguous_segments_without_losing_audio(recognizer, wavs):
    path = next(iter(wavs.values()))
    duration_ms = 1000 * soundfile.info(path).frames / 16000

    async def scenario(url, server):
        return await stream_file(url, path, start={"chunk_ms": 40, "endpoint": {
            "max_utterance_ms": 1000, "trailing_silence_ms": 0, "silence_before_speech_ms": 0}})

    finals = _finals(_serve(recognizer, scenario))
    assert len(finals) >= duration_ms // 1000
    assert [f["segment"] for f in finals] == list(range(len(finals)))
    assert finals[0]["start_ms"] == 0 and finals[-1]["end_ms"] == pytest.approx(duration_ms)
    assert all(a["end_ms"] == b["start_ms"] for a, b in zip(finals, finals[1:]))
    assert {f["endpoint"] for f in finals[:-1]} == {"max_utterance"} and finals[-1]["endpoint"] == "end"
    times = [t for f in finals for t in f["token_times_ms"]]
    assert times == sorted(times) and times[-1] <= duration_ms + 1e-6


def _rules_on(silence_ms, spoken, segment_ms):
    session = types.SimpleNamespace(trailing_silence_ms=lambda: silence_ms, segment_ms=lambda: segment_ms,
                                    search=types.SimpleNamespace(partial=lambda: [3] if spoken else []))
    return EndpointRules(True, 2400, 800, 20000).check(session)


def test_endpoint_rules():
    assert _rules_on(900, spoken=True, segment_ms=5000) == "trailing_silence"
    assert _rules_on(700, spoken=True, segment_ms=5000) is None
    assert _rules_on(900, spoken=False, segment_ms=5000) is None
    assert _rules_on(2500, spoken=False, segment_ms=5000) == "silence_before_speech"
    assert _rules_on(0, spoken=True, segment_ms=20000) == "max_utterance"
    assert EndpointRules(enabled=False).check(None) is None


async def _exchange(url, *messages):
    """Send ``messages`` (dict: as JSON, str: as text, bytes: as audio); collect the replies until the
    server closes."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    replies = []
    async with connect(url) as ws:
        try:
            for m in messages:
                await ws.send(json.dumps(m) if isinstance(m, dict) else m)
        except ConnectionClosed:  # the server may close before every message is sent
            pass
        try:
            async for reply in ws:
                replies.append(json.loads(reply))
        except ConnectionClosed:
            pass
    return replies


@pytest.mark.parametrize("messages,error", [
    ([b"\x00\x01"], "audio before the 'start' message"),
    (["{not json"], "malformed JSON"),
    ([{"type": "start", "sample_rate": 8000}], "sample_rate 8000 differs from the model's 16000 Hz"),
    ([{"type": "start", "chunk_ms": 50}], "not a positive multiple"),
    ([{"type": "start", "endpoint": {"pause_ms": 3}}], "unknown endpoint settings ['pause_ms']"),
    ([{"type": "start"}, b"\x00\x01\x02"], "not whole 2-byte samples"),
    ([{"type": "start"}, {"type": "pause"}], "unexpected message type 'pause'"),
    ([{"type": "start", "left_chunks": -1}], "left_chunks -1 is not served"),
    ([{"type": "start", "left_chunks": 99}], "at most 16 left chunks"),
])
def test_bad_input_gets_a_clear_error_and_the_server_goes_on(recognizer, wavs, messages, error):
    async def scenario(url, server):
        good = asyncio.create_task(stream_file(url, next(iter(wavs.values())), realtime=True,
                                               start=START))
        return await _exchange(url, *messages), await good

    bad, good = _serve(recognizer, scenario)
    errors = [m for m in bad if m["type"] == "error"]
    assert len(errors) == 1 and error in errors[0]["message"], bad
    assert good[-1]["type"] == "done" and len(_finals(good)) == 1


def test_limits_idle_timeout_and_disconnects(recognizer, wavs):
    path = next(iter(wavs.values()))

    async def scenario(url, server):
        from websockets.asyncio.client import connect

        first = await connect(url)  # holds the only stream slot
        await first.send(json.dumps({"type": "start"}))
        assert json.loads(await first.recv())["type"] == "ready"
        refused = await _exchange(url, {"type": "start"})
        await first.send(np.zeros(1600, dtype="<i2").tobytes())
        await first.close()  # disconnect mid-stream
        await asyncio.sleep(0.2)
        idle = await _exchange(url, {"type": "start"})  # then says nothing
        after = await stream_file(url, path, start=START)
        return refused, idle, after

    refused, idle, after = _serve(recognizer, scenario, max_streams=1, idle_timeout_s=0.5)
    assert refused[-1]["type"] == "error" and "limit of 1 streams" in refused[-1]["message"]
    assert idle[0]["type"] == "ready" and "no message for 0.5 s" in idle[-1]["message"]
    assert after[-1]["type"] == "done" and _finals(after)[0]["tokens"] == _alone(recognizer, path).tokens


def test_a_stream_the_server_cannot_keep_up_with_is_refused(recognizer):
    async def scenario(url, server):
        return await _exchange(url, {"type": "start"}, np.zeros(16000, dtype="<i2").tobytes())

    replies = _serve(recognizer, scenario, max_pending_s=0.5)
    assert "more than 0.5 s of audio wait to be decoded" in replies[-1]["message"]


def test_serve_and_stream_client_commands_end_to_end(export_dir, wavs, recognizer):
    """The two command-line tools as separate processes: server on a free port, client with two files."""
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "espnet_durep.bin.serve", "--model_dir", str(export_dir),
                               "--port", str(port), "--beam_size", "3", "--no_endpoint"],
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        for line in server.stderr:
            if "listening on" in line or time.time() > deadline:
                break
        paths = list(wavs.values())[:2]
        client = subprocess.run([sys.executable, "-m", "espnet_durep.bin.stream_client", "--url",
                                 f"ws://127.0.0.1:{port}", *map(str, paths)],
                                capture_output=True, text=True, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert client.returncode == 0, client.stderr
    finals = [json.loads(line) for line in client.stdout.splitlines()]
    assert [f["file"] for f in finals] == [str(p) for p in paths]
    # the client sends no settings: the model's chunk, and the server's 16 left chunks (the model has unlimited)
    assert recognizer.default_left_chunks == -1
    for f, path in zip(finals, paths):
        assert f["tokens"] == _alone(recognizer, path, chunk_ms=recognizer.chunk_ms(recognizer.default_chunk_size),
                                     left=16).tokens
