"""One utterance recognised incrementally, over any backend (PyTorch model or ONNX export).

The session owns the per-utterance state (incremental features, the encoder's chunk caches,
the search) and asks its recogniser for everything model-specific.  A recogniser provides:

* ``new_features()``: an object with ``accept_waveform(samples) -> frames``, ``finalize() ->
  frames`` and ``num_samples``;
* ``new_encoder_stream(chunk_size, num_left_chunks)``: an object with ``chunk_size``,
  ``push(frames)``, ``run(is_final) -> encoder frames (T, D)`` of every complete chunk (and the
  last partial one when ``is_final``) and ``reset()`` (empty caches, buffered frames kept);
* ``make_search("streaming")``, ``keeps_encoder_output("streaming")`` (attention rescoring
  needs the encoder output at the end), ``finish("streaming", search, enc_pieces) -> Hypothesis``;
* ``waveform(samples)``, ``ids_to_text(ids)``, ``tokens_to_result(hyp, times_ms)``,
  ``sample_rate`` and ``frame_ms``.

A server that runs the encoder steps of many sessions itself (batched) calls :meth:`push_audio`,
:meth:`advance` and :meth:`finish_segment` instead of :meth:`accept_waveform` / :meth:`finalize`.
"""
from __future__ import annotations

import time
from typing import List, Optional

from espnet_durep.modes import STREAMING
from espnet_durep.search.base import RecognitionResult


class StreamingSession:
    """Feed audio pieces of any size; bounded state, constant work per chunk."""

    def __init__(self, recognizer, chunk_size: int, num_left_chunks: Optional[int]):
        self.recognizer = recognizer
        self.features = recognizer.new_features()
        self.encoder = recognizer.new_encoder_stream(chunk_size, num_left_chunks)
        self._keep_enc = recognizer.keeps_encoder_output(STREAMING)
        self.compute_s: List[float] = []  # wall time of each accept_waveform call
        self.finalize_s = 0.0
        self.first_token_call: Optional[int] = None  # index of the call whose partial first had a token
        self.segment_start_samples = 0  # where the current segment began (endpointing resets it)
        self._new_segment()

    def _new_segment(self) -> None:
        self.search = self.recognizer.make_search(STREAMING)
        self._enc: List = []  # encoder pieces, kept for the end-of-utterance attention rescoring
        self._emitted_samples: List[int] = []  # per encoder frame: samples received when it was emitted

    @property
    def chunk_size(self) -> int:
        return self.encoder.chunk_size

    # ------------------------------------------------------------ the steps
    def push_audio(self, samples) -> None:
        """Compute the features of new samples (n,) and buffer them for the encoder."""
        self.encoder.push(self.features.accept_waveform(self.recognizer.waveform(samples)))

    def end_audio(self) -> None:
        """No more audio: the last feature frames (right padding of the STFT) go to the encoder."""
        self.encoder.push(self.features.finalize())

    def advance(self, enc) -> None:
        """Search the encoder frames (T, D) of the next chunk(s)."""
        self.search.advance(enc)
        if self._keep_enc and len(enc):
            self._enc.append(enc)
        self._emitted_samples += [self.features.num_samples] * len(enc)

    def trailing_silence_ms(self) -> float:
        """Time since the best hypothesis's last token (since the segment start without one)."""
        frames = self.search.partial_token_frames()
        return (self.search.frames_seen - (frames[-1] + 1 if frames else 0)) * self.recognizer.frame_ms

    def segment_ms(self) -> float:
        return 1000.0 * (self.features.num_samples - self.segment_start_samples) / self.recognizer.sample_rate

    def finish_segment(self) -> RecognitionResult:
        """The result of the audio searched so far; the next segment starts with empty caches and
        search (audio not yet encoded stays buffered).  Token times count from the stream start."""
        hyp = self.recognizer.finish(STREAMING, self.search, self._enc)
        rate = self.recognizer.sample_rate
        result = self.recognizer.tokens_to_result(hyp, [1000.0 * self._emitted_samples[f] / rate
                                                        for f in hyp.token_frames])
        self.segment_start_samples = self.features.num_samples
        self.encoder.reset()
        self._new_segment()
        return result

    # --------------------------------------------------------- one-call API
    def accept_waveform(self, samples) -> str:
        """Feed the next samples (n,) in [-1, 1]; returns the partial text."""
        start = time.perf_counter()
        self.push_audio(samples)
        self.advance(self.encoder.run(is_final=False))
        partial = self.search.partial()
        self.compute_s.append(time.perf_counter() - start)
        if partial and self.first_token_call is None:
            self.first_token_call = len(self.compute_s) - 1
        return self.recognizer.ids_to_text(partial)

    def partial_ids(self) -> List[int]:
        return self.search.partial()

    def finalize(self) -> RecognitionResult:
        """End of audio: flush the last frames and chunk, finish the search."""
        start = time.perf_counter()
        self.end_audio()
        self.advance(self.encoder.run(is_final=True))
        result = self.finish_segment()
        self.finalize_s = time.perf_counter() - start
        return result
