"""Common base of the two-pass transducer models: passes, RNN-T loss, teacher KD, inference API.

Both transducer models encode a batch with a :class:`CascadedConformerEncoder` into two
passes of the same frame rate:

* ``streaming`` — the causal encoder in streaming (chunked) mode;
* ``lookahead`` — the non-causal second pass (full context).

Each pass has a loss; the total is ``streaming_weight * L_streaming + (1 - streaming_weight) *
L_lookahead`` plus distillation terms.  Decoding in ``streaming`` mode decodes the
``streaming`` pass, in ``full`` mode the ``lookahead`` pass (:data:`DECODE_PASS`).

The RNN-T loss is :func:`torchaudio.functional.rnnt_loss` over the lattice logits of a
tied-and-reduced prediction network and its tied joint network; ESPnet's own transducer
loss (warp-transducer) is not used.

Transducer posterior KD from a frozen teacher (another transducer model of this family,
attached by the task for training only, never a sub-module) supervises the lattice
logits of chosen student passes with :class:`~espnet_durep.distill.rnnt_kd.RNNTKD`.

Inference: the contract of :mod:`espnet_durep.model.inference` (searches, make_search,
second_pass, ...), over :attr:`streaming_encoder`, :meth:`encode_for_decoding` and
:meth:`streaming_search`.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torchaudio
from espnet2.asr.ctc import CTC
from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.torch_utils.device_funcs import force_gatherable

from espnet_durep.decoder.tied_reduced import TiedJointNetwork, TiedReducedPredictionNetwork
from espnet_durep.decoder.transducer_search import TransducerSearch
from espnet_durep.distill.gradient_share import LossTerms
from espnet_durep.distill.rnnt_kd import RNNTKD
from espnet_durep.encoder.cascaded_conformer import CascadedConformerEncoder
from espnet_durep.encoder.dual_mode_conformer import DualModeConformerEncoder
from espnet_durep.model.base import DurepModelBase
from espnet_durep.model.espnet_options import reject_unsupported_espnet_options
from espnet_durep.model.inference import SearchOptions, check_search
from espnet_durep.modes import FULL, LOOKAHEAD, MODES, STREAMING, canonical_mode
from espnet_durep.search.base import Hypothesis

PASSES = (STREAMING, LOOKAHEAD)
# decoding mode of encode_for_decoding / streaming_search -> the pass it decodes
DECODE_PASS = {STREAMING: STREAMING, FULL: LOOKAHEAD}
TEACHER_PASSES = ("matched", LOOKAHEAD)


@dataclass
class Targets:
    """Label sequences of a batch.

    text: (B, U) ids padded with ``ignore_id`` (CTC / attention targets).
    labels: (B, U) ids padded with blank (transducer targets).
    lengths: (B,) label counts.
    """

    text: torch.Tensor
    labels: torch.Tensor
    lengths: torch.Tensor


@dataclass
class TransducerOutput:
    """One pass through a prediction network and joint network.

    loss: RNN-T loss (mean over utterances); logits: (B, T, U+1, V) lattice logits;
    hidden: (B, T, U+1, E) joint hidden activations.
    """

    loss: torch.Tensor
    logits: torch.Tensor
    hidden: torch.Tensor


class TransducerASRModel(DurepModelBase, ESPnetASRModel):
    """Two-pass transducer model base; subclasses define each pass's loss.

    Subclasses implement :meth:`rnnt_heads`, :attr:`rnnt_passes` and
    :meth:`_pass_loss`, and may add terms with :meth:`_extra_terms`.

    Options (``model_conf``; ESPnet's own — lsm_weight, sym_blank, ... — keep their meaning):
        streaming_weight: weight of the streaming pass's loss, ``lambda_s``.
        joint_net_conf: :class:`TiedJointNetwork` options (joint_activation_type,
            dropout_rate); the task passes ESPnet's top-level ``joint_net_conf`` here.
        teacher_rnnt_kd_weight: weight of transducer posterior KD from a frozen teacher
            (> 0 makes the task load ``--teacher_asr_*``).
        rnnt_kd_conf: kind ("full" | "collapsed"), temperature, kd_passes (student passes
            distilled among "streaming" and "lookahead", default every pass with a transducer
            decoder), teacher_pass ("matched": the teacher's pass of the same name, "lookahead":
            always the teacher's second pass).
        grad_share_interval: every this many training steps, report each loss term's share
            of the encoder gradient norm (``gshare_asr``, ``gshare_loss_kd_*``; 0: never).
        specaug_start_steps: SpecAugment only from this training step on (0: from the start;
            see :mod:`espnet_durep.model.base`).
    """

    def __init__(
        self,
        *,
        ctc: CTC,
        use_ctc: bool = False,
        streaming_weight: float = 0.5,
        joint_net_conf: Optional[dict] = None,
        teacher_rnnt_kd_weight: float = 0.0,
        rnnt_kd_conf: Optional[dict] = None,
        grad_share_interval: int = 100,
        specaug_start_steps: int = 0,
        **espnet_kwargs,
    ):
        # ESPnet keeps the decoder as an attention decoder and drops its CTC for weight 0;
        # the transducer losses are computed here, and the CTC head kept when used.
        super().__init__(ctc=ctc, ctc_weight=0.0, **espnet_kwargs)
        reject_unsupported_espnet_options(self)
        if not isinstance(self.encoder, CascadedConformerEncoder):
            raise TypeError(f"{type(self).__name__} needs encoder: cascaded_conformer, "
                            f"got {type(self.encoder).__name__}")
        if not isinstance(self.decoder, TiedReducedPredictionNetwork):
            raise TypeError(f"{type(self).__name__} needs decoder: tied_reduced, got {type(self.decoder).__name__}")
        if self.decoder.blank_id != self.blank_id:
            raise ValueError(f"decoder_conf.blank_id={self.decoder.blank_id} but the token list has "
                             f"{self.token_list[self.blank_id]!r} at {self.blank_id}")
        if not 0.0 <= streaming_weight <= 1.0:
            raise ValueError(f"streaming_weight must be in [0, 1], got {streaming_weight}")
        self.ctc = ctc if use_ctc else None
        self.streaming_weight = streaming_weight
        self.joint_net_conf = dict(joint_net_conf or {})
        self.joint_network = TiedJointNetwork(self.encoder.output_size(), self.decoder, **self.joint_net_conf)
        kd_conf = dict(rnnt_kd_conf or {})
        kd_passes = kd_conf.pop("kd_passes", None)
        self._kd_passes = None if kd_passes is None else tuple(
            canonical_mode(p, "rnnt_kd_conf.kd_passes", PASSES) for p in kd_passes)
        self.teacher_pass = kd_conf.pop("teacher_pass", "matched")
        if self.teacher_pass not in TEACHER_PASSES:
            raise ValueError(f"rnnt_kd_conf.teacher_pass must be one of {TEACHER_PASSES}, got {self.teacher_pass!r}")
        self.rnnt_kd = RNNTKD(blank_id=self.blank_id, **kd_conf)
        self.teacher_rnnt_kd_weight = teacher_rnnt_kd_weight
        self.loss_terms = LossTerms(grad_share_interval)
        self._init_base(specaug_start_steps)

    # ------------------------------------------------------------- subclasses
    @property
    @abc.abstractmethod
    def rnnt_passes(self) -> Tuple[str, ...]:
        """Passes that have a transducer decoder (may be decoded and distilled)."""

    @abc.abstractmethod
    def rnnt_heads(self, pass_name: str) -> Tuple[TiedReducedPredictionNetwork, TiedJointNetwork]:
        """(prediction network, joint network) of ``pass_name``."""

    @abc.abstractmethod
    def _pass_loss(self, pass_name: str, enc: torch.Tensor, lens: torch.Tensor, targets: Targets) -> Dict:
        """Loss of one pass: dict with "loss", "stats" (name -> value) and, for transducer
        passes, "rnnt" (:class:`TransducerOutput`)."""

    def _extra_terms(self, outs: Dict[str, Dict], encs: Dict[str, torch.Tensor], lens: torch.Tensor,
                     targets: Targets) -> Dict[str, Tuple[float, torch.Tensor]]:
        """Additional weighted loss terms, name -> (weight, value)."""
        return {}

    @property
    def kd_passes(self) -> Tuple[str, ...]:
        """Student passes distilled from the teacher (default: every transducer pass)."""
        return tuple(self._kd_passes or self.rnnt_passes)

    def _check_passes(self) -> None:
        """Validate pass-dependent options once the subclass has built its heads."""
        bad = [p for p in self.kd_passes if p not in self.rnnt_passes]
        if bad:
            raise ValueError(f"rnnt_kd_conf.kd_passes {bad} have no transducer decoder; "
                             f"choose among {list(self.rnnt_passes)}")

    # ------------------------------------------------------------ shared math
    def encode_passes(
        self, feats: torch.Tensor, flens: torch.Tensor, chunk_size: int, num_left_chunks: int
    ) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        """{pass: (B, T', D)} and (B,) lengths for features (B, T, idim)."""
        streaming, lookahead, lens = self.encoder.forward_both(feats, flens, chunk_size, num_left_chunks)
        return {STREAMING: streaming, LOOKAHEAD: lookahead}, lens

    def targets(self, text: torch.Tensor, text_lengths: torch.Tensor) -> Targets:
        text = text[:, : int(text_lengths.max())]
        text = text.masked_fill(text == -1, self.ignore_id)
        labels = text.masked_fill(text == self.ignore_id, self.blank_id)
        return Targets(text, labels, text_lengths)

    def transducer(self, pass_name: str, enc: torch.Tensor, lens: torch.Tensor, targets: Targets) -> TransducerOutput:
        """RNN-T loss, lattice logits and joint activations of one pass (B, T, D)."""
        decoder, joint = self.rnnt_heads(pass_name)
        pred = joint.project_prediction(decoder(targets.labels))
        hidden = joint.hidden(joint.project_encoder(enc)[:, :, None], pred[:, None])
        logits = joint.logits(hidden)
        loss = torchaudio.functional.rnnt_loss(
            logits, targets.labels.int(), lens.int(), targets.lengths.int(), blank=self.blank_id, reduction="mean")
        return TransducerOutput(loss, logits, hidden)

    # ---------------------------------------------------------------- forward
    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """Both passes' losses and the distillation terms; ``kwargs`` (utt_id) unused."""
        batch_size = speech.size(0)
        targets = self.targets(text, text_lengths)
        feats, flens = self.features(speech, speech_lengths)
        chunk, left = self.encoder.resolve_chunking(None, None)
        encs, lens = self.encode_passes(feats, flens, chunk, left)
        outs = {p: self._pass_loss(p, encs[p], lens, targets) for p in PASSES}
        stats: Dict[str, torch.Tensor] = {}
        for p, out in outs.items():
            stats[f"loss_{p}"] = out["loss"].detach()
            stats.update({name: value.detach() for name, value in out["stats"].items()})
        loss = (self.streaming_weight * outs[STREAMING]["loss"]
                + (1 - self.streaming_weight) * outs[LOOKAHEAD]["loss"])
        terms = self._extra_terms(outs, encs, lens, targets)
        if self._teacher is not None and self.uses_teacher:
            terms.update(self._teacher_terms(outs, speech, speech_lengths, targets, lens, chunk, left))
        if terms:
            loss = self.loss_terms.combine(loss, terms, stats, self.encoder.parameters(), self.training)
        stats["loss"] = loss.detach()
        self._count_step()
        loss, stats, weight = force_gatherable((loss, stats, batch_size), loss.device)
        return loss, stats, weight

    # ---------------------------------------------------------------- teacher
    @property
    def uses_teacher(self) -> bool:
        return self.teacher_rnnt_kd_weight > 0

    def check_teacher(self, teacher, teacher_config) -> None:
        """Raise ValueError unless ``teacher`` can supervise this model's kd_passes."""
        if not isinstance(teacher, TransducerASRModel):
            raise ValueError(f"transducer KD needs a transducer teacher; {teacher_config} builds "
                             f"{type(teacher).__name__}")
        needed = {self._teacher_pass_of(p) for p in self.kd_passes}
        missing = sorted(needed - set(teacher.rnnt_passes))
        if missing:
            raise ValueError(f"teacher {teacher_config} has no transducer decoder for passes {missing}")
        if teacher.blank_id != self.blank_id:
            raise ValueError(f"blank ids differ: student {self.blank_id}, teacher ({teacher_config}) {teacher.blank_id}")

    def attach_teacher(self, teacher: "TransducerASRModel") -> None:
        """Use ``teacher`` (frozen, eval mode, not a sub-module: never saved or trained)."""
        self._attach_frozen(teacher)

    def _teacher_pass_of(self, pass_name: str) -> str:
        return pass_name if self.teacher_pass == "matched" else LOOKAHEAD

    @torch.no_grad()
    def lattice_logits(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        targets: Targets,
        chunk_size: int,
        num_left_chunks: int,
        passes: Sequence[str],
    ) -> Dict[str, torch.Tensor]:
        """(B, T', U+1, V) lattice logits of ``passes`` for raw speech (teacher side)."""
        feats, flens = self.features(speech, speech_lengths)
        encs, _ = self.encode_passes(feats, flens, chunk_size, num_left_chunks)
        logits = {}
        for p in passes:
            decoder, joint = self.rnnt_heads(p)
            logits[p] = joint(encs[p], decoder(targets.labels))
        return logits

    def _teacher_terms(self, outs, speech, speech_lengths, targets, lens, chunk, left):
        teacher = self._teacher_on(speech.device)
        wanted = {p: self._teacher_pass_of(p) for p in self.kd_passes}
        t_logits = teacher.lattice_logits(speech, speech_lengths, targets, chunk, left, sorted(set(wanted.values())))
        terms = {}
        for p, tp in wanted.items():
            student = outs[p]["rnnt"].logits
            if t_logits[tp].shape != student.shape:
                raise RuntimeError(f"teacher lattice {tuple(t_logits[tp].shape)} != student {tuple(student.shape)}")
            value = self.rnnt_kd(student, t_logits[tp], targets.labels, lens, targets.lengths)
            terms[f"loss_kd_rnnt_{p}"] = (self.teacher_rnnt_kd_weight, value)
        return terms

    # -------------------------------------------------------------- inference
    @property
    def streaming_encoder(self) -> DualModeConformerEncoder:
        """The causal encoder: ``init_cache`` / ``accept_feats`` (over ``forward_chunk``) for chunked streaming."""
        return self.encoder.causal

    @torch.no_grad()
    def encode_for_decoding(
        self,
        feats: torch.Tensor,
        feats_lengths: torch.Tensor,
        mode: str,
        chunk_size: Optional[int] = None,
        num_left_chunks: Optional[int] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Encoder output to decode from normalised features (B, T, idim).

        mode "streaming": the causal encoder with chunk masks (what ``accept_feats`` gives);
        mode "full": the look-ahead second pass over the chunked causal output.
        Returns (B, T', D) and (B,) lengths.
        """
        mode = canonical_mode(mode, "mode", MODES)
        if mode == STREAMING:
            enc, lens, _ = self.streaming_encoder(feats, feats_lengths, mode=STREAMING, chunk_size=chunk_size,
                                                  num_left_chunks=num_left_chunks)
        else:
            enc, lens, _ = self.encoder(feats, feats_lengths, chunk_size=chunk_size, num_left_chunks=num_left_chunks)
        return enc, lens

    def streaming_search(self, beam_size: int = 4, mode: str = STREAMING, **kwargs) -> TransducerSearch:
        """Search over encoder frames of ``mode`` ("streaming": :attr:`streaming_encoder` or
        ``encode_for_decoding(mode="streaming")``; "full": ``encode_for_decoding(mode="full")``).

        ``kwargs``: :class:`TransducerSearch` options (max_symbols_per_frame, nbest).
        """
        mode = canonical_mode(mode, "mode", MODES)
        decoder, joint = self.rnnt_heads(DECODE_PASS[mode])
        return TransducerSearch(decoder, joint, beam_size=beam_size, **kwargs)

    # the inference contract (espnet_durep.model.inference)
    def searches(self, mode: str) -> Tuple[str, ...]:
        return ("transducer_beam",)

    def make_search(self, mode: str, name: str, options: SearchOptions) -> TransducerSearch:
        mode = check_search(self, mode, name)
        if options.blank_penalty:
            raise ValueError("blank_penalty applies to the CTC searches of CTC/attention models, not to transducers")
        return self.streaming_search(beam_size=options.beam_size, mode=mode)

    def second_pass(self, mode: str, name: str, hyps: List[Hypothesis], enc: torch.Tensor,
                    options: SearchOptions) -> List[Hypothesis]:
        return hyps  # the transducer beam is final

    def alignment_log_probs(self, enc: torch.Tensor) -> Optional[torch.Tensor]:
        """(T, V) CTC log-posteriors of the look-ahead pass when the model has a CTC head, else None."""
        return None if self.ctc is None else torch.log_softmax(self.ctc.ctc_lo(enc), dim=-1)

    def joint_search_heads(self):
        return None  # no ESPnet joint CTC/attention search: the transducer beam decodes both modes
