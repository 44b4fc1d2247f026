"""Python API: one trained model, full-context and truly incremental streaming recognition.

    s2t = Speech2TextDualMode.from_pretrained("exp/student")     # or a packed .zip
    result = s2t(wav)                                            # full context
    stream = s2t.stream(chunk_ms=640, num_left_chunks=-1)        # streaming
    for piece in pieces:                                         # any piece sizes
        print(stream.accept_waveform(piece))                     # partial text
    result = stream.finalize()                                   # text + token times

Streaming runs the waveform through :class:`~espnet_durep.inference.frontend.StreamingFeatures`,
the encoder's ``accept_feats`` (a feature buffer over the tensor-cache chunk step
``forward_chunk``: attention keys/values and convolution context of every block) and an
incremental search; CTC/attention models finish with
attention rescoring of the CTC n-best (``streaming_search: attention_rescoring``),
transducer models with their own beam.  Full context uses ESPnet's joint CTC/attention
beam search (``full_search: joint``) or the same searches as streaming.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch

from espnet_durep.chunking import chunk_frames
from espnet_durep.inference.frontend import StreamingFeatures
from espnet_durep.inference.joint_search import build_joint_search
from espnet_durep.inference.loader import experiment_files, load_model
from espnet_durep.layers.quantized_linear import QUANTIZATIONS, quantize_linear_weights
from espnet_durep.metrics.latency import algorithmic_latency, forced_alignment_times_ms
from espnet_durep.model.inference import SearchOptions
from espnet_durep.modes import FULL, MODES, STREAMING, canonical_mode
from espnet_durep.search.base import Hypothesis, RecognitionResult, StreamingSearch
from espnet_durep.search.session import StreamingSession

FULL_SEARCHES = ("joint", "attention_rescoring", "ctc_prefix_beam", "ctc_greedy")
STREAMING_SEARCHES = ("attention_rescoring", "ctc_prefix_beam", "ctc_greedy")


class Speech2TextDualMode:
    """Recogniser over a model trained with ``durep_train``.

    Args:
        asr_train_config, asr_model_file: the experiment's config.yaml and model .pth.
        device: "cpu" or "cuda".
        beam_size: beam of every search (CTC prefix search, joint search, transducer).
        ctc_weight: CTC weight of joint decoding and of attention rescoring.
        full_search: "joint" (ESPnet beam search), "attention_rescoring",
            "ctc_prefix_beam" or "ctc_greedy" (CTC/attention models).
        streaming_search: "attention_rescoring", "ctc_prefix_beam" or "ctc_greedy".
        token_beam: tokens per frame considered by the CTC prefix search.
        blank_penalty: subtracted from the CTC blank log-posterior of every frame in the CTC
            prefix and greedy searches (> 0 trades deletions for insertions; not used by the
            joint search or by transducers).
        penalty, maxlenratio, minlenratio: ESPnet joint-search options.
        quantize: None, or "int8" (CPU): every linear weight int8, dynamically quantised
            (:mod:`espnet_durep.layers.quantized_linear`): a quarter of the weight bytes a
            streaming chunk reads, slightly different results.
    """

    def __init__(
        self,
        asr_train_config: Union[str, Path],
        asr_model_file: Union[str, Path],
        device: str = "cpu",
        beam_size: int = 10,
        ctc_weight: float = 0.3,
        full_search: str = "joint",
        streaming_search: str = "attention_rescoring",
        token_beam: int = 10,
        blank_penalty: float = 0.0,
        penalty: float = 0.0,
        maxlenratio: float = 0.0,
        minlenratio: float = 0.0,
        quantize: Optional[str] = None,
    ):
        if quantize and torch.device(device).type != "cpu":
            raise ValueError(f"quantize is a CPU option, got device {device!r}")
        if quantize is not None and quantize not in QUANTIZATIONS:
            raise ValueError(f"quantize must be None or one of {QUANTIZATIONS}, got {quantize!r}")
        loaded = load_model(asr_train_config, asr_model_file, device)
        model = self.model = loaded.model
        self.quantize = quantize
        if quantize:
            quantize_linear_weights(model)
        self.args = loaded.args
        self.device = device
        self.options = SearchOptions(beam_size, token_beam, blank_penalty, ctc_weight)
        self.beam_size, self.ctc_weight, self.token_beam = beam_size, ctc_weight, token_beam
        self.blank_penalty = blank_penalty
        self.full_search = self._resolve(FULL, full_search, FULL_SEARCHES)
        self.streaming_search = self._resolve(STREAMING, streaming_search, STREAMING_SEARCHES)
        for mode in MODES:
            if self.search_name(mode) != "joint":
                self.make_search(mode)  # a wrong option fails here, not at the first utterance
        self.penalty, self.maxlenratio, self.minlenratio = penalty, maxlenratio, minlenratio
        self.token_list, self.tokenizer, self.converter = loaded.token_list, loaded.tokenizer, loaded.converter
        self.features = StreamingFeatures(model.frontend, model.normalize)
        self.encoder = model.streaming_encoder
        self._joint_search = None

    # ----------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(cls, path: Union[str, Path], model_file: Optional[str] = None, **kwargs):
        """From an experiment directory (config.yaml + the best model .pth), a packed zip, or an ONNX
        export directory (then an :class:`~espnet_durep.runtime.recognizer.OnnxSpeech2Text`)."""
        path = Path(path)
        if (path / "manifest.json").is_file():  # an ONNX export: ONNX Runtime, same API
            from espnet_durep.runtime.recognizer import OnnxSpeech2Text

            return OnnxSpeech2Text(path, **kwargs)
        return cls(*experiment_files(path, model_file), **kwargs)

    # ------------------------------------------------------------------ basics
    @property
    def sample_rate(self) -> int:
        return self.features.sample_rate

    @property
    def feature_shift_ms(self) -> float:
        """Hop of the feature frames (from the frontend, not from the encoder's config)."""
        return 1000.0 * self.features.hop / self.sample_rate

    @property
    def frame_ms(self) -> float:
        """Duration of one encoder frame."""
        return self.feature_shift_ms * self.encoder.subsampling

    def chunk_ms(self, chunk_size: int) -> float:
        return chunk_size * self.frame_ms

    @property
    def frontend_lookahead_ms(self) -> float:
        return 1000.0 * self.features.lookahead_samples / self.sample_rate

    def min_samples(self) -> int:
        """Shortest waveform the encoder can take (its subsampling receptive field)."""
        frames = self.encoder.embed.receptive_field
        hop = self.features.hop
        return (frames - 1) * hop + (1 if self.features.center else self.features.n_fft)

    def chunk_frames(self, chunk_ms: Optional[float] = None, chunk_size: Optional[int] = None) -> int:
        """Chunk in encoder frames from milliseconds or frames (default: the model's)."""
        return chunk_frames(chunk_ms, chunk_size, self.frame_ms, self.encoder.chunk_size)

    def algorithmic_latency(self, chunk_size: int):
        subsampling_lookahead_ms = self.encoder.embed.lookahead_frames * self.feature_shift_ms
        return algorithmic_latency(self.chunk_ms(chunk_size), subsampling_lookahead_ms,
                                   self.frontend_lookahead_ms, self.frame_ms)

    def tokens_to_result(self, hyp: Hypothesis, times_ms: Sequence[float]) -> RecognitionResult:
        ids = [int(i) for i in hyp.tokens if int(i) != 0]
        tokens = self.converter.ids2tokens(ids)
        return RecognitionResult(self.tokenizer.tokens2text(tokens), tokens, ids, float(hyp.score), list(times_ms))

    def text_to_ids(self, text: str) -> List[int]:
        return self.converter.tokens2ids(self.tokenizer.text2tokens(text))

    def _speech(self, speech: Union[np.ndarray, torch.Tensor]) -> torch.Tensor:
        speech = torch.as_tensor(np.asarray(speech), dtype=torch.float32)
        if speech.dim() != 1:
            raise ValueError(f"expected a mono waveform (n,), got shape {tuple(speech.shape)}")
        return speech

    @torch.no_grad()
    def features_of(self, speech: torch.Tensor):
        """Offline normalised features (1, T, D) and lengths of a waveform (n,)."""
        x = speech[None].to(self.device)
        return self.model.features(x, torch.tensor([x.size(1)], device=self.device))

    # ----------------------------------------------------------------- searches
    def _resolve(self, mode: str, name: str, choices) -> str:
        """The search run for ``mode``: ``name``, or the model's only one (a transducer's beam) when
        ``name`` is the default of a model family it does not apply to."""
        if name not in choices:
            raise ValueError(f"{'full_search' if mode == FULL else 'streaming_search'} must be one of "
                             f"{choices}, got {name!r}")
        if name == "joint" and self.model.joint_search_heads() is not None:
            return name
        available = self.model.searches(mode)
        if name in available:
            return name
        if name == choices[0] and len(available) == 1:
            return available[0]
        raise ValueError(f"{type(self.model).__name__} decodes {mode} mode with {', '.join(available)}"
                         f"{' or joint' if mode == FULL and self.model.joint_search_heads() else ''}; "
                         f"got {name!r}")

    def search_name(self, mode: str) -> str:
        """Name of the search run for ``mode`` ("full" or "streaming")."""
        mode = canonical_mode(mode, "mode", MODES)
        return self.streaming_search if mode == STREAMING else self.full_search

    def make_search(self, mode: str) -> StreamingSearch:
        """A fresh incremental search for ``mode`` ("full" or "streaming")."""
        mode = canonical_mode(mode, "mode", MODES)
        return self.model.make_search(mode, self.search_name(mode), self.options)

    def finish(self, mode: str, search: StreamingSearch, enc: Sequence[torch.Tensor]) -> Hypothesis:
        """Best hypothesis of ``search`` after the last frame, given the encoder output in pieces
        (T_i, D) (the model's second pass, e.g. attention rescoring)."""
        mode = canonical_mode(mode, "mode", MODES)
        enc = torch.cat(list(enc)) if len(enc) else torch.zeros(0, self.encoder.output_size())
        return self.model.second_pass(mode, self.search_name(mode), search.finalize(), enc, self.options)[0]

    def _joint(self):
        if self._joint_search is None:
            self._joint_search = build_joint_search(self.model, self.token_list, self.beam_size, self.ctc_weight,
                                                    self.penalty, self.device)
        return self._joint_search

    # ---------------------------------------------------------------- decoding
    @property
    def has_ctc(self) -> bool:
        """Whether the model has a (full-context) CTC head, needed for forced alignments."""
        return self.model.ctc is not None

    @torch.no_grad()
    def ctc_log_probs(self, enc: torch.Tensor) -> Optional[torch.Tensor]:
        """(T, V) full-context CTC log-posteriors of encoder output (T, D), None without CTC."""
        return self.model.alignment_log_probs(enc)

    @torch.no_grad()
    def encode(self, speech: torch.Tensor, mode: str = FULL, chunk_size: Optional[int] = None,
               num_left_chunks: Optional[int] = None) -> torch.Tensor:
        """Whole-utterance encoder output (T', D); mode "streaming" simulates streaming with masks."""
        mode = canonical_mode(mode, "mode", MODES)
        feats, lens = self.features_of(speech)
        enc, _ = self.model.encode_for_decoding(feats, lens, mode, chunk_size, num_left_chunks)
        return enc[0]

    @torch.no_grad()
    def decode_full(self, speech) -> RecognitionResult:
        """Full-context recognition of a whole waveform (n,)."""
        speech = self._speech(speech)
        enc = self.encode(speech, FULL)
        if self.full_search == "joint":
            best = self._joint()(x=enc, maxlenratio=self.maxlenratio, minlenratio=self.minlenratio)[0]
            hyp = Hypothesis([int(t) for t in best.yseq[1:-1]], float(best.score))
        else:
            search = self.make_search(FULL)
            search.advance(enc)
            hyp = self.finish(FULL, search, [enc])
        log_probs = self.ctc_log_probs(enc)
        times = None if log_probs is None else forced_alignment_times_ms(log_probs, hyp.tokens, self.frame_ms)
        return self.tokens_to_result(hyp, times or [])

    __call__ = decode_full

    @torch.no_grad()
    def decode_simulated_streaming(self, speech, chunk_size: Optional[int] = None,
                                   num_left_chunks: Optional[int] = None) -> RecognitionResult:
        """Streaming mode without incremental state: one masked pass, then the streaming search."""
        speech = self._speech(speech)
        enc = self.encode(speech, STREAMING, self.chunk_frames(chunk_size=chunk_size), num_left_chunks)
        search = self.make_search(STREAMING)
        search.advance(enc)
        hyp = self.finish(STREAMING, search, [enc])
        return self.tokens_to_result(hyp, [])

    def stream(self, chunk_ms: Optional[float] = None, chunk_size: Optional[int] = None,
               num_left_chunks: Optional[int] = None) -> StreamingSession:
        """A new streaming session (chunk in ms or encoder frames; left context in chunks)."""
        return StreamingSession(self, self.chunk_frames(chunk_ms, chunk_size), num_left_chunks)

    # ------------------------------------------- what a StreamingSession asks of its recogniser
    def new_features(self) -> StreamingFeatures:
        return StreamingFeatures(self.model.frontend, self.model.normalize)

    def new_encoder_stream(self, chunk_size: int, num_left_chunks: Optional[int]) -> "EncoderStream":
        return EncoderStream(self.encoder, chunk_size, num_left_chunks, self.device)

    def keeps_encoder_output(self, mode: str) -> bool:
        return self.search_name(mode) == "attention_rescoring"

    def waveform(self, samples) -> torch.Tensor:
        return self._speech(samples).reshape(-1)

    def ids_to_text(self, ids: Sequence[int]) -> str:
        return self.tokenizer.tokens2text(self.converter.ids2tokens(ids))


class EncoderStream:
    """The encoder's chunk caches of one utterance: feature frames in, encoder frames (T, D) out."""

    def __init__(self, encoder, chunk_size: int, num_left_chunks: Optional[int], device: str):
        self.encoder, self.device = encoder, device
        self.chunk_size, self.num_left_chunks = chunk_size, num_left_chunks
        self.cache = encoder.init_cache(1, chunk_size, num_left_chunks)
        self._pushed: List[torch.Tensor] = []

    def push(self, frames: torch.Tensor) -> None:
        self._pushed.append(frames)

    @torch.no_grad()
    def run(self, is_final: bool) -> torch.Tensor:
        feats = torch.cat(self._pushed) if self._pushed else torch.zeros(0, self.encoder.input_size)
        self._pushed = []
        enc, self.cache = self.encoder.accept_feats(feats[None].to(self.device), self.cache, is_final)
        return enc[0]

    def accept(self, frames: torch.Tensor, is_final: bool) -> torch.Tensor:
        self.push(frames)
        return self.run(is_final)

    def reset(self) -> None:
        buffered = self.cache.feats
        self.cache = self.encoder.init_cache(1, self.chunk_size, self.num_left_chunks)
        self.cache.feats = buffered
