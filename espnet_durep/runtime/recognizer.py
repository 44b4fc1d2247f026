"""The recogniser API of :class:`espnet_durep.inference.recognizer.Speech2TextDualMode` over an
ONNX export: ``__call__`` (full context), ``stream()`` -> ``accept_waveform`` / ``finalize``."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from espnet_durep.chunking import SubsamplingGeometry, chunk_frames
from espnet_durep.frontend.logmel import LogMelFeatures, LogMelSettings
from espnet_durep.modes import FULL, MODES, STREAMING, canonical_mode
from espnet_durep.runtime.model import OnnxModel
from espnet_durep.runtime.tokens import TokenText
from espnet_durep.search.base import Hypothesis, RecognitionResult, StreamingSearch
from espnet_durep.search.ctc import CTCGreedySearch, CTCPrefixBeamSearch
from espnet_durep.search.rescoring import attention_rescore
from espnet_durep.search.session import StreamingSession

SEARCHES = ("attention_rescoring", "ctc_prefix_beam", "ctc_greedy")


class OnnxSpeech2Text:
    """Recogniser over an export directory (ONNX Runtime + NumPy).

    Args:
        export_dir: written by ``python -m espnet_durep.bin.export_onnx``.
        beam_size, token_beam, ctc_weight, blank_penalty: as for ``Speech2TextDualMode``.
        full_search, streaming_search: "attention_rescoring", "ctc_prefix_beam" or "ctc_greedy"
            (ESPnet's joint beam search is not part of an export).
        num_threads: ONNX Runtime intra-op threads.
    """

    def __init__(self, export_dir: Path, beam_size: int = 10, ctc_weight: float = 0.3,
                 full_search: str = "attention_rescoring", streaming_search: str = "attention_rescoring",
                 token_beam: int = 10, blank_penalty: float = 0.0, num_threads: int = 1, verify: bool = True):
        for name, value in (("full_search", full_search), ("streaming_search", streaming_search)):
            if value not in SEARCHES:
                raise ValueError(f"{name} of an ONNX export must be one of {SEARCHES}, got {value!r}")
        self.model = OnnxModel(export_dir, num_threads=num_threads, verify=verify)
        manifest = self.model.manifest
        self.manifest = manifest
        self.beam_size, self.ctc_weight, self.token_beam = beam_size, ctc_weight, token_beam
        self.blank_penalty = blank_penalty
        self.full_search, self.streaming_search = full_search, streaming_search
        self.frontend = LogMelSettings.load(manifest["frontend"], self.model.dir)
        tok = manifest["tokens"]
        token_list = (self.model.dir / tok["file"]).read_text(encoding="utf-8").splitlines()
        self.token_text = TokenText(token_list, tok["token_type"],
                                    self.model.dir / tok["bpemodel"] if tok["bpemodel"] else None,
                                    tok["space_symbol"])
        self.blank_id, self.sos, self.eos = tok["blank_id"], tok["sos"], tok["eos"]
        enc = manifest["encoder"]
        self.geometry = SubsamplingGeometry.of(enc["subsampling_layout"])
        self.default_chunk_size, self.default_left_chunks = enc["chunk_size"], enc["num_left_chunks"]

    @classmethod
    def from_export(cls, export_dir: Path, **kwargs) -> "OnnxSpeech2Text":
        return cls(export_dir, **kwargs)

    # ------------------------------------------------------------------ basics
    @property
    def sample_rate(self) -> int:
        return self.frontend.sample_rate

    @property
    def frame_ms(self) -> float:
        """Duration of one encoder frame."""
        return 1000.0 * self.frontend.hop / self.sample_rate * self.geometry.subsampling

    def chunk_ms(self, chunk_size: int) -> float:
        return chunk_size * self.frame_ms

    def chunk_frames(self, chunk_ms: Optional[float] = None, chunk_size: Optional[int] = None) -> int:
        """Chunk in encoder frames from milliseconds or frames (default: the model's)."""
        return chunk_frames(chunk_ms, chunk_size, self.frame_ms, self.default_chunk_size)

    def waveform(self, samples) -> np.ndarray:
        speech = np.asarray(samples, dtype=np.float32)
        if speech.ndim != 1:
            raise ValueError(f"expected a mono waveform (n,), got shape {speech.shape}")
        return speech

    def ids_to_text(self, ids: Sequence[int]) -> str:
        return self.token_text.tokens2text(self.token_text.ids2tokens(ids))

    def tokens_to_result(self, hyp: Hypothesis, times_ms: Sequence[float]) -> RecognitionResult:
        ids = [int(i) for i in hyp.tokens if int(i) != self.blank_id]
        tokens = self.token_text.ids2tokens(ids)
        return RecognitionResult(self.token_text.tokens2text(tokens), tokens, ids, float(hyp.score), list(times_ms))

    # ----------------------------------------------------------------- searches
    def search_name(self, mode: str) -> str:
        """Name of the search run for ``mode`` ("full" or "streaming")."""
        mode = canonical_mode(mode, "mode", MODES)
        return self.streaming_search if mode == STREAMING else self.full_search

    def make_search(self, mode: str) -> StreamingSearch:
        """A fresh incremental search for ``mode`` ("full" or "streaming")."""
        mode = canonical_mode(mode, "mode", MODES)

        def log_posteriors(enc: np.ndarray) -> np.ndarray:
            return self.model.ctc_log_probs(mode, enc)

        if self.search_name(mode) == "ctc_greedy":
            return CTCGreedySearch(log_posteriors, blank_id=self.blank_id, blank_penalty=self.blank_penalty)
        return CTCPrefixBeamSearch(log_posteriors, beam_size=self.beam_size, token_beam=self.token_beam,
                                   blank_id=self.blank_id, blank_penalty=self.blank_penalty)

    def keeps_encoder_output(self, mode: str) -> bool:
        mode = canonical_mode(mode, "mode", MODES)
        return self.search_name(mode) == "attention_rescoring" and self.model.has_decoder(mode)

    def finish(self, mode: str, search: StreamingSearch, enc: Sequence[np.ndarray]) -> Hypothesis:
        """Best hypothesis after the last frame, given the encoder output in pieces (T_i, D)."""
        mode = canonical_mode(mode, "mode", MODES)
        hyps = search.finalize()
        if self.keeps_encoder_output(mode) and len(enc):
            memory = np.concatenate(list(enc))
            if memory.shape[0]:
                def decoder_log_probs(ys_in: np.ndarray, ys_in_lens: np.ndarray) -> np.ndarray:
                    return self.model.decoder_log_probs(mode, memory, ys_in, ys_in_lens)

                hyps = attention_rescore(decoder_log_probs, hyps, self.sos, self.eos, self.ctc_weight)
        return hyps[0]

    # ---------------------------------------------------------------- decoding
    def features_of(self, speech) -> np.ndarray:
        """Normalised features (T, n_mels) of a whole waveform (n,)."""
        return LogMelFeatures(self.frontend).whole(self.waveform(speech))

    def decode_full(self, speech) -> RecognitionResult:
        """Full-context recognition of a whole waveform (n,); token times are the frames at which
        the CTC search emitted each token (end of that encoder frame)."""
        feats = self.features_of(speech)
        if self.geometry.output_length(feats.shape[0]) < 1:
            raise ValueError(f"audio of {len(speech)} samples gives {feats.shape[0]} feature frames, fewer than "
                             f"the {self.geometry.receptive_field} the encoder needs")
        enc = self.model.encode_full(feats)
        search = self.make_search(FULL)
        search.advance(enc)
        hyp = self.finish(FULL, search, [enc])
        return self.tokens_to_result(hyp, [(f + 1) * self.frame_ms for f in hyp.token_frames])

    __call__ = decode_full

    def stream(self, chunk_ms: Optional[float] = None, chunk_size: Optional[int] = None,
               num_left_chunks: Optional[int] = None) -> StreamingSession:
        """A new streaming session (chunk in ms or encoder frames; left context in chunks)."""
        return StreamingSession(self, self.chunk_frames(chunk_ms, chunk_size), num_left_chunks)

    def new_features(self) -> LogMelFeatures:
        return LogMelFeatures(self.frontend)

    def new_encoder_stream(self, chunk_size: int, num_left_chunks: Optional[int]) -> "OnnxEncoderStream":
        left = self.default_left_chunks if num_left_chunks is None else int(num_left_chunks)
        return OnnxEncoderStream(self.model, self.geometry, chunk_size, left)


class OnnxEncoderStream:
    """Chunk caches of one utterance over the exported chunk step: feature frames in, encoder frames out.

    :meth:`run` does every step itself; a server batching many streams asks each for its
    :meth:`next_window`, runs the chunk step on the batch and hands the outputs back with
    :meth:`complete`.
    """

    def __init__(self, model: OnnxModel, geometry: SubsamplingGeometry, chunk_size: int, num_left_chunks: int):
        self.model, self.geometry = model, geometry
        self.chunk_size, self.num_left_chunks = chunk_size, num_left_chunks
        self.feats = np.zeros((0, model.input_size), dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        """Empty caches (a new segment); buffered feature frames are kept."""
        self.att_cache, self.cnn_cache = self.model.empty_caches(1)

    def push(self, frames: np.ndarray) -> None:
        self.feats = np.concatenate([self.feats, frames.astype(np.float32, copy=False)])

    def next_window(self, is_final: bool) -> Optional[np.ndarray]:
        """Feature frames (F, idim) of the next chunk step, None until a chunk is complete."""
        read = self.geometry.next_step(self.feats.shape[0], self.chunk_size, is_final)
        return None if read is None else self.feats[:read]

    def complete(self, enc: np.ndarray, att_cache: np.ndarray, cnn_cache: np.ndarray) -> np.ndarray:
        """Take the outputs of the step on :meth:`next_window`: enc (c, D), att_cache (L, 1, H, Tc + c, 2 d_k)
        (trimmed here to the left context), cnn_cache (L, 1, D, K')."""
        if self.num_left_chunks >= 0:
            keep = min(self.num_left_chunks * self.chunk_size, att_cache.shape[3])
            att_cache = att_cache[:, :, :, att_cache.shape[3] - keep:]
        self.att_cache, self.cnn_cache = att_cache, cnn_cache
        self.feats = self.feats[enc.shape[0] * self.geometry.subsampling:]
        return enc

    def run(self, is_final: bool) -> np.ndarray:
        out: List[np.ndarray] = []
        while (window := self.next_window(is_final)) is not None:
            enc, att, cnn = self.model.chunk_step(window[None], self.att_cache, self.cnn_cache)
            out.append(self.complete(enc[0], att, cnn))
        return np.concatenate(out) if out else np.zeros((0, self.model.output_size), dtype=np.float32)

    def accept(self, frames: np.ndarray, is_final: bool) -> np.ndarray:
        self.push(frames)
        return self.run(is_final)
