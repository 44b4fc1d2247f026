"""One utterance recognised incrementally, over any backend (PyTorch model or ONNX export).

The session owns the per-utterance state (incremental features, the encoder's chunk caches,
the search) and asks its recogniser for everything model-specific.  A recogniser provides:

* ``new_features()``: an object with ``accept_waveform(samples) -> frames``, ``finalize() ->
  frames`` and ``num_samples``;
* ``new_encoder_stream(chunk_size, num_left_chunks)``: an object with ``chunk_size`` and
  ``accept(frames, is_final) -> encoder frames (T, D)``;
* ``make_search("stream")``, ``keeps_encoder_output("stream")`` (attention rescoring needs
  the encoder output at the end), ``finish("stream", search, enc_pieces) -> Hypothesis``;
* ``waveform(samples)``, ``ids_to_text(ids)``, ``tokens_to_result(hyp, times_ms)``, ``sample_rate``.
"""
from __future__ import annotations

import time
from typing import List, Optional

from espnet_durep.search.base import RecognitionResult


class StreamingSession:
    """Feed audio pieces of any size; bounded state, constant work per chunk."""

    def __init__(self, recognizer, chunk_size: int, num_left_chunks: Optional[int]):
        self.recognizer = recognizer
        self.features = recognizer.new_features()
        self.encoder = recognizer.new_encoder_stream(chunk_size, num_left_chunks)
        self.search = recognizer.make_search("stream")
        self._keep_enc = recognizer.keeps_encoder_output("stream")
        self._enc: List = []  # encoder pieces, kept for the end-of-utterance attention rescoring
        self._emitted_samples: List[int] = []  # per encoder frame: samples received when it was emitted
        self.compute_s: List[float] = []  # wall time of each accept_waveform call
        self.finalize_s = 0.0
        self.first_token_call: Optional[int] = None  # index of the call whose partial first had a token

    @property
    def chunk_size(self) -> int:
        return self.encoder.chunk_size

    def _feed(self, frames, is_final: bool) -> None:
        enc = self.encoder.accept(frames, is_final)
        self.search.advance(enc)
        if self._keep_enc and len(enc):
            self._enc.append(enc)
        self._emitted_samples += [self.features.num_samples] * len(enc)

    def accept_waveform(self, samples) -> str:
        """Feed the next samples (n,) in [-1, 1]; returns the partial text."""
        start = time.perf_counter()
        self._feed(self.features.accept_waveform(self.recognizer.waveform(samples)), is_final=False)
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
        self._feed(self.features.finalize(), is_final=True)
        hyp = self.recognizer.finish("stream", self.search, self._enc)
        self.finalize_s = time.perf_counter() - start
        rate = self.recognizer.sample_rate
        times = [1000.0 * self._emitted_samples[f] / rate for f in hyp.token_frames]
        return self.recognizer.tokens_to_result(hyp, times)
