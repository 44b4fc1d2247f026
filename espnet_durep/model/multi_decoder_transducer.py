"""Joint streaming / non-streaming transducer with multiple decoders and sp-KD (arXiv 2405.13514).

A :class:`CascadedConformerEncoder` provides the shared streaming encoder (the causal
encoder in chunked mode) and the non-streaming encoder (its non-causal blocks, stacked on
the streaming output with ``integration: cascaded`` or reading the subsampled features
with ``integration: parallel``).  The streaming path is decoded by the RNN-T decoder
built from ``decoder`` / ``decoder_conf``; the non-streaming (look-ahead) path by its own
decoders, any of

* ``ctc`` — ESPnet's CTC head;
* ``rnnt`` — a second tied-and-reduced prediction network + joint network (same shape);
* ``attention`` — an ESPnet Transformer decoder (``attention_decoder_conf``).

Loss::

    L = streaming_weight * L_rnnt(streaming) + (1 - streaming_weight) * sum_k w_k L_k(lookahead)
        + sp_kd_weight * (L_sp(encoders) + L_sp(decoders))  [+ teacher RNN-T KD]

Similarity-preserving KD (Tung & Mori 2019) treats the non-streaming side as teacher:
between the two encoders' outputs and between the two transducer joint networks'
activations (averaged over the valid label positions of each frame, so both sides are
(B, T', E)).  Statistics: ``loss_rnnt_streaming``, ``loss_{rnnt,ctc,att}_lookahead``,
``acc_lookahead`` (attention decoder), ``loss_streaming``, ``loss_lookahead``,
``loss_kd_sp_enc``, ``loss_kd_sp_dec``, ``loss``.
"""
from __future__ import annotations

import copy
from typing import Dict, Optional, Tuple

import torch
from espnet.nets.pytorch_backend.nets_utils import th_accuracy
from espnet.nets.pytorch_backend.transformer.add_sos_eos import add_sos_eos
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder

from espnet_durep.decoder.tied_reduced import TiedJointNetwork, TiedReducedPredictionNetwork
from espnet_durep.distill.sp_kd import SPKD
from espnet_durep.layers.masking import masked_mean
from espnet_durep.model.transducer import Targets, TransducerASRModel, TransducerOutput
from espnet_durep.modes import LOOKAHEAD, STREAMING, canonical_mode

FULL_DECODERS = ("ctc", "rnnt", "attention")
STAT_NAMES = {"ctc": "loss_ctc_lookahead", "rnnt": "loss_rnnt_lookahead", "attention": "loss_att_lookahead"}


def label_pooled(out: TransducerOutput, label_lengths: torch.Tensor) -> torch.Tensor:
    """Joint activations (B, T, U+1, E) averaged over each utterance's U_b + 1 label positions."""
    return masked_mean(out.hidden, label_lengths + 1, dim=2)


class MultiDecoderTransducerModel(TransducerASRModel):
    """Streaming RNN-T path + non-streaming path with CTC / RNN-T / attention decoders.

    Options (``model_conf``), besides those of :class:`TransducerASRModel`:
        full_decoders: {decoder: weight} of the non-streaming path, decoders among
            ctc, rnnt, attention (weights > 0); default {rnnt: 1.0}.  Replaces ESPnet's
            ``ctc_weight``.
        attention_decoder_conf: :class:`TransformerDecoder` options (with ``attention``).
        sp_kd_weight: weight of each sp-KD term (0: none).
        sp_kd_conf: axis ("batch" | "time"), detach_teacher (stop gradients into the
            non-streaming side), decoder (also at joint-network level; needs ``rnnt``).
    """

    def __init__(
        self,
        *,
        streaming_weight: float = 0.5,
        full_decoders: Optional[Dict[str, float]] = None,
        attention_decoder_conf: Optional[dict] = None,
        sp_kd_weight: float = 0.0,
        sp_kd_conf: Optional[dict] = None,
        teacher_rnnt_kd_weight: float = 0.0,
        rnnt_kd_conf: Optional[dict] = None,
        **kwargs,
    ):
        if "ctc_weight" in kwargs:
            raise ValueError("multi_decoder_transducer weighs its CTC head with full_decoders.ctc, not ctc_weight")
        weights = dict(full_decoders or {"rnnt": 1.0})
        unknown = sorted(set(weights) - set(FULL_DECODERS))
        if unknown or not weights or any(float(w) <= 0 for w in weights.values()):
            raise ValueError(f"full_decoders must map some of {FULL_DECODERS} to weights > 0, got {weights}")
        super().__init__(use_ctc="ctc" in weights, streaming_weight=streaming_weight,
                         teacher_rnnt_kd_weight=teacher_rnnt_kd_weight, rnnt_kd_conf=rnnt_kd_conf, **kwargs)
        self.full_decoders = {k: float(v) for k, v in weights.items()}
        if "rnnt" in weights:
            self.full_decoder = copy.deepcopy(self.decoder)
            self.full_joint_network = TiedJointNetwork(self.encoder.output_size(), self.full_decoder,
                                                       **self.joint_net_conf)
        if "attention" in weights:
            self.attention_decoder = TransformerDecoder(self.vocab_size, self.encoder.output_size(),
                                                        **dict(attention_decoder_conf or {}))
        sp_kd_conf = dict(sp_kd_conf or {})
        self.sp_kd_decoder = bool(sp_kd_conf.pop("decoder", True))
        if sp_kd_weight > 0 and self.sp_kd_decoder and "rnnt" not in weights:
            raise ValueError("sp_kd_conf.decoder compares transducer joint activations: it needs "
                             "full_decoders.rnnt (or set sp_kd_conf.decoder: false)")
        self.sp_kd = SPKD(**sp_kd_conf)
        self.sp_kd_weight = sp_kd_weight
        self._check_passes()

    @property
    def rnnt_passes(self) -> Tuple[str, ...]:
        return (STREAMING, LOOKAHEAD) if "rnnt" in self.full_decoders else (STREAMING,)

    def rnnt_heads(self, pass_name: str) -> Tuple[TiedReducedPredictionNetwork, TiedJointNetwork]:
        if pass_name not in self.rnnt_passes:
            pass_name = canonical_mode(pass_name, "pass", (STREAMING, LOOKAHEAD))
            if pass_name not in self.rnnt_passes:
                raise ValueError(f"no transducer decoder for pass {pass_name!r}; "
                                 f"this model has {list(self.rnnt_passes)}")
        if pass_name == STREAMING:
            return self.decoder, self.joint_network
        return self.full_decoder, self.full_joint_network

    def _pass_loss(self, pass_name: str, enc: torch.Tensor, lens: torch.Tensor, targets: Targets) -> Dict:
        if pass_name == STREAMING:
            rnnt = self.transducer(pass_name, enc, lens, targets)
            return {"loss": rnnt.loss, "stats": {f"loss_rnnt_{STREAMING}": rnnt.loss}, "rnnt": rnnt}
        out: Dict = {"stats": {}}
        losses = {}
        if "rnnt" in self.full_decoders:
            out["rnnt"] = self.transducer(pass_name, enc, lens, targets)
            losses["rnnt"] = out["rnnt"].loss
        if "ctc" in self.full_decoders:
            losses["ctc"] = self.ctc(enc, lens, targets.text, targets.lengths)
        if "attention" in self.full_decoders:
            ys_in, ys_out = add_sos_eos(targets.text, self.sos, self.eos, self.ignore_id)
            dec_logits, _ = self.attention_decoder(enc, lens, ys_in, targets.lengths + 1)
            losses["attention"] = self.criterion_att(dec_logits, ys_out)
            out["stats"]["acc_lookahead"] = torch.tensor(
                th_accuracy(dec_logits.view(-1, self.vocab_size), ys_out, ignore_label=self.ignore_id))
        out["stats"].update({STAT_NAMES[k]: v for k, v in losses.items()})
        out["loss"] = sum(self.full_decoders[k] * v for k, v in losses.items())
        return out

    def _extra_terms(self, outs, encs, lens, targets):
        if self.sp_kd_weight <= 0:
            return {}
        terms = {"loss_kd_sp_enc": (self.sp_kd_weight, self.sp_kd(encs[STREAMING], encs[LOOKAHEAD], lens))}
        if self.sp_kd_decoder:
            stream = label_pooled(outs[STREAMING]["rnnt"], targets.lengths)
            full = label_pooled(outs[LOOKAHEAD]["rnnt"], targets.lengths)
            terms["loss_kd_sp_dec"] = (self.sp_kd_weight, self.sp_kd(stream, full, lens))
        return terms
