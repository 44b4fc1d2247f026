"""A websocket server that recognises many concurrent audio streams with batched chunk steps.

Protocol (JSON text messages, binary audio):

* client -> server: ``{"type": "start", "sample_rate": 16000, "format": "s16le" | "f32le",
  "chunk_ms": 640, "left_chunks": 4, "endpoint": {...}}`` (every field but ``type`` optional),
  then binary pieces of mono PCM of any size, then ``{"type": "end"}``;
* server -> client: ``{"type": "ready", ...settings}``; ``{"type": "partial", "segment": k, "text": ...}``
  whenever the best hypothesis changes; ``{"type": "final", "segment": k, "text", "tokens",
  "token_times_ms", "start_ms", "end_ms", "endpoint": rule}`` at every endpoint and at the end
  (``endpoint`` is ``"end"`` there); ``{"type": "done"}`` after the last final; or
  ``{"type": "error", "message": ...}``, after which the server closes that connection.

Endpointing (:class:`EndpointRules`) closes a segment with its own ``final`` and resets the
decoder state (caches and search); audio not yet encoded carries over into the next segment.

Every stream with a complete chunk is advanced in the next batched step
(:func:`~espnet_durep.runtime.batching.batched_chunk_step`), so a stream never waits for
another one's audio.  Bad input, a disconnect or an idle client ends only that stream.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import logging
from dataclasses import asdict, dataclass, fields
from typing import Dict, Optional

import numpy as np

from espnet_durep.runtime.batching import batched_chunk_step, group_by_length
from espnet_durep.runtime.recognizer import OnnxSpeech2Text
from espnet_durep.search.session import StreamingSession

log = logging.getLogger(__name__)
FORMATS = {"s16le": (np.dtype("<i2"), 1.0 / 32768.0), "f32le": (np.dtype("<f4"), 1.0)}


class ClientError(Exception):
    """The client broke the protocol; the message tells it how."""


@dataclass
class EndpointRules:
    """When a segment ends (all in ms; a rule with 0 is off).

    silence_before_speech_ms: nothing decoded yet in this much audio: start afresh, no final.
    trailing_silence_ms: this much audio since the last decoded token: final.
    max_utterance_ms: a segment this long: final, even during speech.
    """

    enabled: bool = True
    silence_before_speech_ms: float = 2400.0
    trailing_silence_ms: float = 800.0
    max_utterance_ms: float = 20000.0

    @classmethod
    def from_message(cls, conf: Optional[dict], defaults: "EndpointRules") -> "EndpointRules":
        if conf is None:
            return defaults
        if not isinstance(conf, dict):
            raise ClientError("'endpoint' must be an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(conf) - known)
        if unknown:
            raise ClientError(f"unknown endpoint settings {unknown}; known: {sorted(known)}")
        merged = {**asdict(defaults), **conf}
        for name in known - {"enabled"}:
            if not isinstance(merged[name], (int, float)) or merged[name] < 0:
                raise ClientError(f"endpoint {name} must be a number >= 0, got {merged[name]!r}")
        return cls(**merged)

    def check(self, session: StreamingSession) -> Optional[str]:
        """The rule that ends the segment now, or None."""
        if not self.enabled:
            return None
        silence = session.trailing_silence_ms()
        spoken = bool(session.search.partial())
        if not spoken and self.silence_before_speech_ms and silence >= self.silence_before_speech_ms:
            return "silence_before_speech"
        if spoken and self.trailing_silence_ms and silence >= self.trailing_silence_ms:
            return "trailing_silence"
        if self.max_utterance_ms and session.segment_ms() >= self.max_utterance_ms:
            return "max_utterance"
        return None


class _Stream:
    """One client's recognition state."""

    def __init__(self, key: int, websocket, session: StreamingSession, rules: EndpointRules, fmt: str):
        self.key, self.websocket, self.session, self.rules = key, websocket, session, rules
        self.dtype, self.scale = FORMATS[fmt]
        self.segment = 0
        self.last_partial = ""
        self.ending = False
        self.done = asyncio.Event()


class StreamingServer:
    """Serve an :class:`OnnxSpeech2Text` over websockets.

    Args:
        recognizer: the model (its searches, beam and CTC weight apply to every stream).
        max_streams: concurrent connections served; more are refused with an error message.
        max_batch: streams per batched chunk step.
        idle_timeout_s: a connection that sends nothing for this long is closed with an error.
        max_pending_s: audio waiting to be encoded per stream before the server refuses more.
        max_left_chunks: largest left context a client may ask for (the attention cache per stream
            grows with it); -1 also allows unlimited context, whose memory grows with the stream.
        max_message_bytes: largest websocket message accepted.
        endpoint: default endpoint rules (a client's ``start`` may change them).
    """

    def __init__(self, recognizer: OnnxSpeech2Text, max_streams: int = 32, max_batch: int = 16,
                 idle_timeout_s: float = 30.0, max_pending_s: float = 30.0, max_left_chunks: int = 16,
                 max_message_bytes: int = 1 << 20, endpoint: Optional[EndpointRules] = None):
        self.recognizer = recognizer
        self.max_streams, self.max_batch = max_streams, max_batch
        self.idle_timeout_s, self.max_pending_s = idle_timeout_s, max_pending_s
        self.max_left_chunks = max_left_chunks
        self.max_message_bytes = max_message_bytes
        self.endpoint = endpoint or EndpointRules()
        self._streams: Dict[int, _Stream] = {}
        self._connections = 0
        self._keys = itertools.count()
        self._wake: Optional[asyncio.Event] = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="chunk-step")
        self._server = None
        self._scheduler: Optional[asyncio.Task] = None
        self.steps = 0  # batched chunk steps run
        self.stream_steps = 0  # stream chunk steps they covered (their ratio: the mean batch size)

    # ------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 8765) -> int:
        """Listen; returns the port (useful with ``port=0``)."""
        from websockets.asyncio.server import serve

        self._wake = asyncio.Event()
        self._scheduler = asyncio.create_task(self._schedule())
        self._server = await serve(self._handle, host, port, max_size=self.max_message_bytes, compression=None)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()
        self._scheduler.cancel()
        self._executor.shutdown(wait=False)

    async def serve_forever(self, host: str, port: int) -> None:
        port = await self.start(host, port)
        log.info("listening on ws://%s:%d (at most %d streams)", host, port, self.max_streams)
        await asyncio.Future()

    # ------------------------------------------------------------ connections
    async def _handle(self, websocket) -> None:
        from websockets.exceptions import ConnectionClosed

        if self._connections >= self.max_streams:
            await self._refuse(websocket, f"the server is at its limit of {self.max_streams} streams; "
                                          f"try again later", code=1013)
            return
        self._connections += 1
        stream = None
        try:
            stream = await self._start_stream(websocket)
            await self._receive(stream)
        except ClientError as e:
            await self._refuse(websocket, str(e))
        except ConnectionClosed:
            log.info("client %s disconnected", websocket.remote_address)
        finally:
            self._connections -= 1
            if stream is not None:
                self._streams.pop(stream.key, None)

    async def _refuse(self, websocket, message: str, code: int = 1008) -> None:
        from websockets.exceptions import ConnectionClosed

        log.info("client %s: %s", websocket.remote_address, message)
        try:
            await websocket.send(json.dumps({"type": "error", "message": message}))
            await websocket.close(code, message[:120])
        except ConnectionClosed:
            pass

    async def _next_message(self, websocket):
        try:
            return await asyncio.wait_for(websocket.recv(), self.idle_timeout_s)
        except asyncio.TimeoutError:
            raise ClientError(f"no message for {self.idle_timeout_s:g} s: closing the idle stream") from None

    async def _start_stream(self, websocket) -> _Stream:
        message = await self._next_message(websocket)
        if isinstance(message, bytes):
            raise ClientError("audio before the 'start' message; send {\"type\": \"start\", ...} first")
        start = _parse(message)
        if start.get("type") != "start":
            raise ClientError(f"expected a 'start' message first, got type {start.get('type')!r}")
        known = {"type", "sample_rate", "format", "chunk_ms", "left_chunks", "endpoint"}
        unknown = sorted(set(start) - known)
        if unknown:
            raise ClientError(f"unknown 'start' fields {unknown}; known: {sorted(known)}")
        s2t = self.recognizer
        rate = start.get("sample_rate", s2t.sample_rate)
        if rate != s2t.sample_rate:
            raise ClientError(f"sample_rate {rate} differs from the model's {s2t.sample_rate} Hz; "
                              f"resample the audio before sending it")
        fmt = start.get("format", "s16le")
        if fmt not in FORMATS:
            raise ClientError(f"format must be one of {sorted(FORMATS)}, got {fmt!r}")
        left = start.get("left_chunks", self._default_left_chunks())
        if not isinstance(left, int) or left < -1:
            raise ClientError(f"left_chunks must be an integer >= -1, got {left!r}")
        if self.max_left_chunks >= 0 and not 0 <= left <= self.max_left_chunks:
            raise ClientError(f"left_chunks {left} is not served: this server keeps at most {self.max_left_chunks} "
                              f"left chunks per stream (bounded memory)")
        try:
            chunk = s2t.chunk_frames(chunk_ms=start.get("chunk_ms"))
        except (ValueError, TypeError) as e:
            raise ClientError(str(e)) from None
        rules = EndpointRules.from_message(start.get("endpoint"), self.endpoint)
        stream = _Stream(next(self._keys), websocket, s2t.stream(chunk_size=chunk, num_left_chunks=left), rules, fmt)
        self._streams[stream.key] = stream
        await websocket.send(json.dumps({"type": "ready", "sample_rate": s2t.sample_rate, "format": fmt,
                                         "chunk_ms": s2t.chunk_ms(chunk), "left_chunks": left,
                                         "endpoint": asdict(rules)}))
        log.info("client %s: stream %d started (chunk %g ms, left %d)", websocket.remote_address, stream.key,
                 s2t.chunk_ms(chunk), left)
        return stream

    def _default_left_chunks(self) -> int:
        model_default = self.recognizer.default_left_chunks
        if self.max_left_chunks < 0 or 0 <= model_default <= self.max_left_chunks:
            return model_default
        return self.max_left_chunks

    async def _receive(self, stream: _Stream) -> None:
        while True:
            message = await self._next_message(stream.websocket)
            if isinstance(message, bytes):
                if len(message) % stream.dtype.itemsize:
                    raise ClientError(f"a binary message of {len(message)} bytes is not whole "
                                      f"{stream.dtype.itemsize}-byte samples")
                samples = np.frombuffer(message, dtype=stream.dtype).astype(np.float32) * stream.scale
                stream.session.push_audio(samples)
                pending = stream.session.encoder.feats.shape[0] * self.recognizer.frontend.hop
                if pending > self.max_pending_s * self.recognizer.sample_rate:
                    raise ClientError(f"more than {self.max_pending_s:g} s of audio wait to be decoded: "
                                      f"the server cannot keep up with this stream")
                self._wake.set()
                continue
            kind = _parse(message).get("type")
            if kind != "end":
                raise ClientError(f"unexpected message type {kind!r} while streaming (audio or 'end')")
            stream.session.end_audio()
            stream.ending = True
            self._wake.set()
            await stream.done.wait()
            await stream.websocket.close()
            return

    # ------------------------------------------------------------ decoding
    async def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while True:
                    windows = {}
                    for stream in list(self._streams.values()):
                        window = stream.session.encoder.next_window(stream.ending)
                        if window is not None:
                            windows[stream.key] = window
                    if not windows:
                        break
                    for keys in group_by_length(windows, self.max_batch):
                        streams = [self._streams[k] for k in keys]
                        outputs = await loop.run_in_executor(
                            self._executor, batched_chunk_step, self.recognizer.model,
                            [windows[k] for k in keys], [s.session.encoder.att_cache for s in streams],
                            [s.session.encoder.cnn_cache for s in streams])
                        self.steps += 1
                        self.stream_steps += len(keys)
                        for stream, (enc, att, cnn) in zip(streams, outputs):
                            if stream.key in self._streams:  # not gone during the step
                                stream.session.advance(stream.session.encoder.complete(enc, att, cnn))
                                await self._after_step(stream)
                for stream in [s for s in self._streams.values() if s.ending and not s.done.is_set()]:
                    await self._send_final(stream, "end")
                    await self._send(stream, {"type": "done"})
                    stream.done.set()
            except Exception:  # a bug must not stop every stream silently
                log.exception("decoding failed; closing the streams of this step")
                for stream in list(self._streams.values()):
                    await self._send(stream, {"type": "error", "message": "internal error while decoding"})
                    self._streams.pop(stream.key, None)
                    stream.done.set()
                    await stream.websocket.close(1011, "internal error")

    async def _after_step(self, stream: _Stream) -> None:
        rule = stream.rules.check(stream.session)
        if rule == "silence_before_speech":
            stream.session.finish_segment()  # nothing was said: start afresh, no final
            return
        if rule is not None:
            await self._send_final(stream, rule)
            return
        text = self.recognizer.ids_to_text(stream.session.search.partial())
        if text != stream.last_partial:
            stream.last_partial = text
            await self._send(stream, {"type": "partial", "segment": stream.segment, "text": text})

    async def _send_final(self, stream: _Stream, rule: str) -> None:
        session = stream.session
        start_ms = 1000.0 * session.segment_start_samples / self.recognizer.sample_rate
        end_ms = 1000.0 * session.features.num_samples / self.recognizer.sample_rate
        result = session.finish_segment()
        await self._send(stream, {"type": "final", "segment": stream.segment, "text": result.text,
                                  "tokens": result.tokens, "token_times_ms": result.token_times_ms,
                                  "start_ms": start_ms, "end_ms": end_ms, "endpoint": rule})
        stream.segment += 1
        stream.last_partial = ""

    async def _send(self, stream: _Stream, message: dict) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await stream.websocket.send(json.dumps(message))
        except ConnectionClosed:
            self._streams.pop(stream.key, None)
            stream.done.set()


def _parse(message: str) -> dict:
    try:
        parsed = json.loads(message)
    except json.JSONDecodeError as e:
        raise ClientError(f"malformed JSON: {e}") from None
    if not isinstance(parsed, dict):
        raise ClientError("a text message must be a JSON object with a 'type'")
    return parsed
