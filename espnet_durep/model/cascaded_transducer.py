"""Shallow cascaded two-pass transducer with one shared tied-and-reduced decoder (arXiv 2312.09842).

The causal encoder's streaming output (first pass) and the shallow non-causal encoder's
output (second, look-ahead pass) are decoded by the same prediction network and joint
network.  Per pass ``p``::

    L_p = (1 - ctc_weight) * L_rnnt(p) + ctc_weight * L_ctc(p)
    L = streaming_weight * L_streaming + (1 - streaming_weight) * L_lookahead
        + teacher_rnnt_kd_weight * sum over kd_passes of L_kd_rnnt(p)

Reported statistics: ``loss_rnnt_streaming``, ``loss_rnnt_lookahead`` (RNN-T losses per
pass), ``loss_ctc_<pass>`` (with CTC), ``loss_streaming``, ``loss_lookahead`` (pass losses),
``loss_kd_rnnt_<pass>`` (with a teacher) and ``loss``.  There is no accuracy: select
checkpoints on the validation loss.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch

from espnet_durep.decoder.tied_reduced import TiedJointNetwork, TiedReducedPredictionNetwork
from espnet_durep.model.transducer import PASSES, Targets, TransducerASRModel
from espnet_durep.modes import canonical_mode


class CascadedTransducerModel(TransducerASRModel):
    """Cascaded-encoder transducer: one decoder and joint network for both passes.

    Options (``model_conf``), besides those of :class:`TransducerASRModel`:
        ctc_weight: weight of an auxiliary CTC loss on each pass, in [0, 1) (0: no CTC head).
    """

    def __init__(
        self,
        *,
        ctc_weight: float = 0.0,
        streaming_weight: float = 0.5,
        teacher_rnnt_kd_weight: float = 0.0,
        rnnt_kd_conf: Optional[dict] = None,
        **kwargs,
    ):
        if not 0.0 <= ctc_weight < 1.0:
            raise ValueError(f"ctc_weight must be in [0, 1) for a transducer model, got {ctc_weight}")
        super().__init__(use_ctc=ctc_weight > 0, streaming_weight=streaming_weight,
                         teacher_rnnt_kd_weight=teacher_rnnt_kd_weight, rnnt_kd_conf=rnnt_kd_conf, **kwargs)
        self.ctc_weight = ctc_weight
        self._check_passes()

    @property
    def rnnt_passes(self) -> Tuple[str, ...]:
        return PASSES

    def rnnt_heads(self, pass_name: str) -> Tuple[TiedReducedPredictionNetwork, TiedJointNetwork]:
        canonical_mode(pass_name, "pass", PASSES)
        return self.decoder, self.joint_network

    def _pass_loss(self, pass_name: str, enc: torch.Tensor, lens: torch.Tensor, targets: Targets) -> Dict:
        rnnt = self.transducer(pass_name, enc, lens, targets)
        stats = {f"loss_rnnt_{pass_name}": rnnt.loss}
        loss = rnnt.loss
        if self.ctc is not None:
            loss_ctc = self.ctc(enc, lens, targets.text, targets.lengths)
            stats[f"loss_ctc_{pass_name}"] = loss_ctc
            loss = (1 - self.ctc_weight) * rnnt.loss + self.ctc_weight * loss_ctc
        return {"loss": loss, "stats": stats, "rnnt": rnnt}
