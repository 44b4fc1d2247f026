"""Dual-mode hybrid CTC/attention ASR model with in-place, teacher and sp-KD distillation.

One encoder runs in full-context and in streaming mode on the same batch (DuRep; Dual-mode
ASR).  Per mode: CTC + attention-decoder loss (ESPnet conventions), combined as
``(1 - streaming_weight) * L_full + streaming_weight * L_streaming``, plus:

* in-place KD — the full-context pass teaches the streaming pass (detached);
* ASR-aware teacher KD — a frozen, separately trained full-context teacher supervises
  chosen student layers (regression) and posteriors (KL) in both modes;
* sp-KD — similarity-preserving KD between the full-context (teacher side) and the
  streaming path, at encoder and decoder level (multi-decoder joint optimisation).

The teacher is attached by the task for training only (:meth:`attach_teacher`); it is
never registered as a sub-module, so it is not in checkpoints, not moved by ``.to`` of
the trainer's DDP wrapper, and never trained.
"""
from __future__ import annotations

import copy
from typing import Dict, List, Optional, Tuple

import torch
from espnet.nets.pytorch_backend.nets_utils import th_accuracy
from espnet.nets.pytorch_backend.transformer.add_sos_eos import add_sos_eos
from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.torch_utils.device_funcs import force_gatherable

from espnet_durep.distill.gradient_share import LossTerms
from espnet_durep.distill.inplace_kd import InplaceKD
from espnet_durep.distill.sp_kd import SPKD
from espnet_durep.distill.teacher_kd import (
    DiscreteTargetKD,
    LayerRegressionKD,
    RandomProjectionQuantizer,
    posterior_kd,
)
from espnet_durep.model.base import DurepModelBase, model_features
from espnet_durep.model.espnet_options import reject_unsupported_espnet_options
from espnet_durep.model.inference import SearchOptions, check_search, ctc_log_posteriors, decoder_log_probs
from espnet_durep.modes import FULL, MODES, STREAMING, canonical_mode
from espnet_durep.search.base import Hypothesis, StreamingSearch
from espnet_durep.search.ctc import CTCGreedySearch, CTCPrefixBeamSearch
from espnet_durep.search.rescoring import attention_rescore

MODE_SCHEDULES = ("both", "random", "alternate", FULL, STREAMING)
CTC_SEARCHES = ("attention_rescoring", "ctc_prefix_beam", "ctc_greedy")  # decoding, the default first


class DualModeASRModel(DurepModelBase, ESPnetASRModel):
    """ESPnetASRModel trained in full-context and streaming mode with distillation.

    Options (``model_conf`` in YAML; the ESPnet ones — ctc_weight, lsm_weight,
    length_normalized_loss, ... — keep their meaning):
        mode_schedule: "both" (full + streaming on every batch), "random" (one mode per
            step, streaming with ``streaming_prob``), "alternate", or a single mode "full" /
            "streaming" (e.g. a full-context teacher).
        streaming_weight: weight of the streaming-mode ASR loss.
        streaming_prob: P(streaming) per step for ``mode_schedule: random``.
        multi_decoder: separate CTC + attention decoders for the streaming path
            (arXiv 2405.13514); default shares them.
        inplace_kd_weight / inplace_kd_conf: full -> streaming in-place KD
            (temperature, tolerance, att_weight).
        teacher_layer_kd_weight, teacher_posterior_kd_weight, teacher_discrete_kd_weight,
        teacher_kd_conf: ASR-aware distillation from a frozen teacher: layer_pairs
            [[student_layer, teacher_layer], ...], loss_type, cos_weight, temperature,
            att_posterior (also distil decoder posteriors), codebook_size, code_dim,
            code_layer, quantizer_seed.
        sp_kd_weight / sp_kd_conf: similarity-preserving KD streaming <- full
            (axis, detach_teacher, decoder: also at decoder level).
        kd_warmup_steps: KD weights ramp linearly from 0 over this many training steps.
        grad_share_interval: every this many training steps, report each loss term's share
            of the encoder gradient norm (``gshare_asr``, ``gshare_loss_kd_*``; 0: never).
        specaug_start_steps: SpecAugment only from this training step on (0: from the start).
            On small corpora augmentation from the first update can keep CTC on its blank
            plateau; starting it once the model aligns avoids that.

    Every KD term is a sum over each utterance's frames / tokens averaged over the batch,
    the scale of ESPnet's CTC and attention losses (see :mod:`espnet_durep.distill`).
    """

    def __init__(
        self,
        *args,
        mode_schedule: str = "both",
        streaming_weight: float = 0.5,
        streaming_prob: float = 0.5,
        multi_decoder: bool = False,
        inplace_kd_weight: float = 0.0,
        inplace_kd_conf: Optional[dict] = None,
        teacher_layer_kd_weight: float = 0.0,
        teacher_posterior_kd_weight: float = 0.0,
        teacher_discrete_kd_weight: float = 0.0,
        teacher_kd_conf: Optional[dict] = None,
        sp_kd_weight: float = 0.0,
        sp_kd_conf: Optional[dict] = None,
        kd_warmup_steps: int = 0,
        grad_share_interval: int = 100,
        specaug_start_steps: int = 0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        reject_unsupported_espnet_options(self)
        mode_schedule = canonical_mode(mode_schedule, "model_conf.mode_schedule", MODE_SCHEDULES)
        if not 0.0 <= streaming_weight <= 1.0:
            raise ValueError(f"streaming_weight must be in [0, 1], got {streaming_weight}")
        if self.decoder is None and self.ctc_weight < 1.0:
            raise ValueError("ctc_weight < 1 needs an attention decoder")
        self.mode_schedule = mode_schedule
        self.streaming_weight = streaming_weight
        self.streaming_prob = streaming_prob
        self.multi_decoder = multi_decoder
        if multi_decoder:  # (attribute names are checkpoint keys: kept as they were)
            self.stream_ctc = copy.deepcopy(self.ctc)
            self.stream_decoder = copy.deepcopy(self.decoder)
        inplace_kd_conf = dict(inplace_kd_conf or {})
        self.inplace_att_weight = float(inplace_kd_conf.pop("att_weight", 1.0))
        self.inplace_kd = InplaceKD(**inplace_kd_conf)
        self.inplace_kd_weight = inplace_kd_weight
        sp_kd_conf = dict(sp_kd_conf or {})
        self.sp_kd_decoder = bool(sp_kd_conf.pop("decoder", True))
        self.sp_kd = SPKD(**sp_kd_conf)
        self.sp_kd_weight = sp_kd_weight
        self.teacher_kd_conf = dict(teacher_kd_conf or {})
        self.teacher_layer_kd_weight = teacher_layer_kd_weight
        self.teacher_posterior_kd_weight = teacher_posterior_kd_weight
        self.teacher_discrete_kd_weight = teacher_discrete_kd_weight
        self.kd_warmup_steps = kd_warmup_steps
        self.loss_terms = LossTerms(grad_share_interval)
        # training forward passes so far: drive the alternate schedule, KD warm-up and SpecAugment start
        self._init_base(specaug_start_steps)

    # ---------------------------------------------------------------- teacher
    @property
    def uses_teacher(self) -> bool:
        return (self.teacher_layer_kd_weight + self.teacher_posterior_kd_weight
                + self.teacher_discrete_kd_weight) > 0

    def attach_teacher(self, teacher: ESPnetASRModel) -> None:
        """Use ``teacher`` (frozen, eval mode) and build the training-only ``kd_*`` heads."""
        self._attach_frozen(teacher)
        conf = self.teacher_kd_conf
        s_dim, t_dim = self.encoder.output_size(), teacher.encoder.output_size()
        if self.teacher_layer_kd_weight > 0:
            pairs = [tuple(p) for p in conf.get("layer_pairs", [])]
            if not pairs:
                raise ValueError("teacher_layer_kd_weight > 0 needs teacher_kd_conf.layer_pairs")
            self.kd_layer_regression = LayerRegressionKD(
                s_dim, t_dim, pairs, loss_type=conf.get("loss_type", "l1_cos"),
                cos_weight=conf.get("cos_weight", 1.0))
        if self.teacher_discrete_kd_weight > 0:
            self.kd_quantizer = RandomProjectionQuantizer(
                t_dim, conf.get("codebook_size", 512), conf.get("code_dim", 16), conf.get("quantizer_seed", 0))
            self.kd_discrete = DiscreteTargetKD(s_dim, conf.get("codebook_size", 512))

    def _teacher_layers(self) -> List[int]:
        layers = {t for _, t in self.teacher_kd_conf.get("layer_pairs", [])}
        if self.teacher_discrete_kd_weight > 0:
            layers.add(self.teacher_kd_conf.get("code_layer", len(self._teacher.encoder.encoders)))
        return sorted(layers)

    def _student_layers(self) -> List[int]:
        if self._teacher is None or self.teacher_layer_kd_weight <= 0:
            return []
        return sorted({s for s, _ in self.teacher_kd_conf.get("layer_pairs", [])})

    @torch.no_grad()
    def _run_teacher(self, speech, speech_lengths, ys_in, ys_in_lens) -> Dict[str, object]:
        teacher = self._teacher_on(speech.device)
        feats, flens = model_features(teacher, speech, speech_lengths)
        enc, elens, layers = teacher.encoder(feats, flens, mode=FULL, return_layers=self._teacher_layers())
        out = {"enc": enc, "lens": elens, "layers": layers or {}, "ctc_logits": teacher.ctc.ctc_lo(enc)}
        if teacher.decoder is not None and self.teacher_kd_conf.get("att_posterior", True):
            out["dec_logits"], _ = teacher.decoder(enc, elens, ys_in, ys_in_lens)
        return out

    # ---------------------------------------------------------------- forward
    def _modes(self) -> List[str]:
        if self.mode_schedule == "both":
            return [FULL, STREAMING]
        if self.mode_schedule in MODES:
            return [self.mode_schedule]
        if not self.training:
            return [FULL, STREAMING]  # validation always reports both modes
        if self.mode_schedule == "alternate":
            return [STREAMING if int(self.train_steps) % 2 else FULL]
        return [STREAMING if float(torch.rand(())) < self.streaming_prob else FULL]

    def _kd_scale(self) -> float:
        if self.kd_warmup_steps <= 0:
            return 1.0
        return min(1.0, float(self.train_steps) / self.kd_warmup_steps)

    def heads(self, mode: str):
        """(ctc, decoder) used by ``mode`` (separate ones for streaming with multi_decoder)."""
        if mode not in MODES:
            mode = canonical_mode(mode, "mode", MODES)
        if mode == STREAMING and self.multi_decoder:
            return self.stream_ctc, self.stream_decoder
        return self.ctc, self.decoder

    # -------------------------------------------------------------- decoding
    @property
    def streaming_encoder(self):
        """The encoder that :mod:`espnet_durep.inference` runs chunk by chunk."""
        return self.encoder

    def encode_for_decoding(self, feats, feats_lengths, mode: str, chunk_size=None, num_left_chunks=None):
        """(B, T, D) encoder output and (B,) lengths of normalised ``feats`` in ``mode``."""
        enc, lens, _ = self.encoder(feats, feats_lengths, mode=mode, chunk_size=chunk_size,
                                    num_left_chunks=num_left_chunks)
        return enc, lens

    def searches(self, mode: str) -> Tuple[str, ...]:
        """Incremental searches of ``mode`` (the inference contract, :mod:`espnet_durep.model.inference`)."""
        return CTC_SEARCHES if self.heads(mode)[1] is not None else CTC_SEARCHES[1:]

    def make_search(self, mode: str, name: str, options: SearchOptions) -> StreamingSearch:
        mode = check_search(self, mode, name)
        ctc = self.heads(mode)[0]
        if ctc is None:
            raise ValueError("decoding a dual-mode model needs its CTC head (train with ctc_weight > 0)")
        log_posteriors = ctc_log_posteriors(ctc)
        if name == "ctc_greedy":
            return CTCGreedySearch(log_posteriors, blank_id=self.blank_id, blank_penalty=options.blank_penalty)
        return CTCPrefixBeamSearch(log_posteriors, beam_size=options.beam_size, token_beam=options.token_beam,
                                   blank_id=self.blank_id, blank_penalty=options.blank_penalty)

    def second_pass(self, mode: str, name: str, hyps: List[Hypothesis], enc: torch.Tensor,
                    options: SearchOptions) -> List[Hypothesis]:
        """Attention rescoring of the CTC n-best over the utterance's encoder output (T, D)."""
        decoder = self.heads(mode)[1]
        if name != "attention_rescoring" or decoder is None or enc.size(0) == 0:
            return hyps
        return attention_rescore(decoder_log_probs(decoder, enc), hyps, self.sos, self.eos, options.ctc_weight)

    def alignment_log_probs(self, enc: torch.Tensor) -> Optional[torch.Tensor]:
        """(T, V) full-context CTC log-posteriors of encoder output (T, D)."""
        return torch.log_softmax(self.ctc.ctc_lo(enc), dim=-1)

    def joint_search_heads(self):
        """(ctc, decoder) of full-context mode for ESPnet's joint beam search; None without a decoder."""
        ctc, decoder = self.heads(FULL)
        return None if decoder is None else (ctc, decoder)

    def _branch(self, mode, feats, flens, ys_pad, ys_lens, ys_in, ys_out, ys_in_lens) -> Dict[str, object]:
        """Encoder pass in ``mode`` + its CTC / attention losses."""
        enc, elens, layers = self.encoder(feats, flens, mode=mode, return_layers=self._student_layers())
        ctc, decoder = self.heads(mode)
        out = {"enc": enc, "lens": elens, "layers": layers or {}, "ctc_logits": ctc.ctc_lo(enc)}
        out["loss_ctc"] = ctc(enc, elens, ys_pad, ys_lens)
        loss = out["loss_ctc"]
        if decoder is not None:
            (dec_logits, dec_hidden), _ = decoder(enc, elens, ys_in, ys_in_lens, return_hs=True)
            out["dec_logits"], out["dec_hidden"] = dec_logits, dec_hidden
            out["loss_att"] = self.criterion_att(dec_logits, ys_out)
            out["acc"] = th_accuracy(dec_logits.view(-1, self.vocab_size), ys_out, ignore_label=self.ignore_id)
            loss = self.ctc_weight * out["loss_ctc"] + (1 - self.ctc_weight) * out["loss_att"]
        if not self.training and self.error_calculator is not None:
            hyp = ctc.argmax(enc).data
            out["cer_ctc"] = self.error_calculator(hyp.cpu(), ys_pad.cpu(), is_ctc=True)
        out["loss"] = loss
        return out

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """Losses of both modes and the distillation terms; ``kwargs`` (utt_id) unused."""
        batch_size = speech.size(0)
        text = text[:, : text_lengths.max()]
        text[text == -1] = self.ignore_id
        feats, flens = self.features(speech, speech_lengths)
        ys_in, ys_out = add_sos_eos(text, self.sos, self.eos, self.ignore_id)
        ys_in_lens = text_lengths + 1

        modes = self._modes()
        branches = {m: self._branch(m, feats, flens, text, text_lengths, ys_in, ys_out, ys_in_lens) for m in modes}
        stats: Dict[str, Optional[torch.Tensor]] = {}
        weights = ({FULL: 1.0 - self.streaming_weight, STREAMING: self.streaming_weight} if len(modes) == 2
                   else {modes[0]: 1.0})
        loss = sum(weights[m] * branches[m]["loss"] for m in modes)
        for m, b in branches.items():
            stats[f"loss_{m}"] = b["loss"].detach()
            stats[f"loss_ctc_{m}"] = b["loss_ctc"].detach()
            if "loss_att" in b:
                stats[f"loss_att_{m}"] = b["loss_att"].detach()
                stats[f"acc_{m}"] = b["acc"]
            if "cer_ctc" in b:
                stats[f"cer_ctc_{m}"] = b["cer_ctc"]

        scale = self._kd_scale() if self.training else 1.0
        kd_terms = self._distillation(branches, speech, speech_lengths, ys_in, ys_in_lens, ys_out)
        if kd_terms:
            loss = self.loss_terms.combine(loss, kd_terms, stats, self.encoder.parameters(), self.training, scale)

        accs = [(weights[m], branches[m]["acc"]) for m in modes if "acc" in branches[m]]
        if accs:
            stats["acc"] = sum(w * a for w, a in accs) / sum(w for w, _ in accs)
        stats["loss"] = loss.detach()
        self._count_step()
        loss, stats, weight = force_gatherable((loss, stats, batch_size), loss.device)
        return loss, stats, weight

    def _distillation(self, branches, speech, speech_lengths, ys_in, ys_in_lens, ys_out):
        """name -> (weight, loss) of every active KD term."""
        terms: Dict[str, Tuple[float, torch.Tensor]] = {}
        full, stream = branches.get(FULL), branches.get(STREAMING)
        if self.inplace_kd_weight > 0 and full is not None and stream is not None:
            kd = self.inplace_kd(
                stream["ctc_logits"], full["ctc_logits"], stream["lens"],
                stream.get("dec_logits"), full.get("dec_logits"), ys_in_lens if "dec_logits" in stream else None)
            for name, value in kd.items():
                weight = self.inplace_att_weight if name.endswith("_att") else 1.0
                terms[name] = (self.inplace_kd_weight * weight, value)
        if self.sp_kd_weight > 0 and full is not None and stream is not None:
            terms["loss_kd_sp_enc"] = (self.sp_kd_weight, self.sp_kd(stream["enc"], full["enc"], stream["lens"]))
            if self.sp_kd_decoder and "dec_hidden" in stream:
                terms["loss_kd_sp_dec"] = (
                    self.sp_kd_weight, self.sp_kd(stream["dec_hidden"], full["dec_hidden"], ys_in_lens))
        if self._teacher is not None and self.uses_teacher:
            terms.update(self._teacher_terms(branches, speech, speech_lengths, ys_in, ys_in_lens))
        return terms

    def _teacher_terms(self, branches, speech, speech_lengths, ys_in, ys_in_lens):
        teacher = self._run_teacher(speech, speech_lengths, ys_in, ys_in_lens)
        temperature = self.teacher_kd_conf.get("temperature", 1.0)
        terms = {}
        for mode, b in branches.items():
            if self.teacher_layer_kd_weight > 0:
                terms[f"loss_kd_layer_{mode}"] = (
                    self.teacher_layer_kd_weight,
                    self.kd_layer_regression(b["layers"], teacher["layers"], b["lens"]))
            if self.teacher_posterior_kd_weight > 0:
                value = posterior_kd(b["ctc_logits"], teacher["ctc_logits"], b["lens"], temperature)
                if "dec_logits" in teacher and "dec_logits" in b:
                    value = value + posterior_kd(b["dec_logits"], teacher["dec_logits"], ys_in_lens, temperature)
                terms[f"loss_kd_posterior_{mode}"] = (self.teacher_posterior_kd_weight, value)
            if self.teacher_discrete_kd_weight > 0:
                code_layer = self.teacher_kd_conf.get("code_layer", len(self._teacher.encoder.encoders))
                codes = self.kd_quantizer(teacher["layers"][code_layer])
                terms[f"loss_kd_discrete_{mode}"] = (
                    self.teacher_discrete_kd_weight, self.kd_discrete(b["enc"], codes, b["lens"]))
        return terms
