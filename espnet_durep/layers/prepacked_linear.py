"""Linear maps whose weights are re-laid-out once for fast CPU inference.

PyTorch's default CPU path for ``F.linear`` hands the plain (N, K) weight to the BLAS library on
every call. For the few rows of a streaming chunk (a few to tens of frames) some CPUs spend more
time re-reading that weight than multiplying. oneDNN can reorder the weight once into its blocked
layout (``mkldnn._reorder_linear_weight``) and multiply many times from it
(``mkldnn._linear_pointwise``). Whether that pays depends on the CPU (README, Benchmarks): where
the default small-matrix path is slow (an AMD EPYC VM) the products ran about 3x faster, where it
is not (an Intel Xeon VM) about 7 % slower; tiny models (d=32) are slower everywhere.

:class:`PrepackedLinear` wraps an ``nn.Linear`` or a kernel-1 :class:`Pointwise` convolution and
shares its parameters, so state dicts, tied weights and training are unchanged: it falls back to
``F.linear`` whenever gradients, tracing, compiling, another dtype or another device are
involved, and packs again when the weight changes in place (``load_state_dict``) or moves
(``.to()``). Weights created under ``torch.inference_mode`` have no version counter to detect
in-place changes by, so they are never packed (build the model outside it).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from espnet_durep.layers.linear_maps import LINEAR_MAPS, replace_linear_maps

# oneDNN builds (and caches) one primitive per (rows, K, N); rows are padded to a multiple of this
# so that utterances of every length reuse a few primitives instead of creating one each (0.6-5 ms).
ROW_BUCKET = 16


def prepacking_available() -> bool:
    """Whether this PyTorch build has oneDNN's packed linear operators."""
    return (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
            and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


class PrepackedLinear(nn.Module):
    """``source``'s linear map (B..., K) -> (B..., N), from a weight packed for ``rows_hint`` rows.

    ``weight`` and ``bias`` are ``source``'s own Parameters (a Pointwise weight keeps its
    (N, K, 1) layout), so the module saves and loads exactly as ``source`` does.
    """

    def __init__(self, source: nn.Module, rows_hint: int = ROW_BUCKET):
        super().__init__()
        if not isinstance(source, LINEAR_MAPS):
            raise TypeError(f"PrepackedLinear wraps {[c.__name__ for c in LINEAR_MAPS]}, got {type(source).__name__}")
        if not prepacking_available():
            raise RuntimeError("this PyTorch build has no oneDNN (mkldnn) packed linear operators")
        if rows_hint < 1:
            raise ValueError(f"rows_hint must be >= 1, got {rows_hint}")
        self.weight = source.weight
        self.bias = source.bias
        self.out_features, self.in_features = source.weight.shape[:2]
        self.rows_hint = rows_hint
        self._packed: Optional[torch.Tensor] = None
        self._packed_key = None

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, rows_hint={self.rows_hint}")

    def _matrix(self) -> torch.Tensor:
        return self.weight.reshape(self.out_features, self.in_features)

    def _usable(self, x: torch.Tensor) -> bool:
        if torch.jit.is_scripting() or torch.jit.is_tracing() or torch.compiler.is_compiling():
            return False
        if torch.is_grad_enabled() and (self.weight.requires_grad or x.requires_grad):
            return False
        weight = self.weight
        return (x.device.type == "cpu" and weight.device.type == "cpu" and x.dtype == torch.float32
                and weight.dtype == torch.float32 and not weight.is_inference())

    def _packed_weight(self) -> torch.Tensor:
        key = (self.weight.data_ptr(), self.weight._version)
        if self._packed is None or key != self._packed_key:
            with torch.no_grad():
                self._packed = torch.ops.mkldnn._reorder_linear_weight(self._matrix().detach(), self.rows_hint)
            self._packed_key = key
        return self._packed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._usable(x):
            return F.linear(x, self._matrix(), self.bias)
        rows = x.numel() // self.in_features
        flat = x.reshape(rows, self.in_features)
        padded = -(-rows // ROW_BUCKET) * ROW_BUCKET
        if padded != rows:
            flat = F.pad(flat, (0, 0, 0, padded - rows))
        bias = None if self.bias is None else self.bias.detach()
        y = torch.ops.mkldnn._linear_pointwise(flat, self._packed_weight(), bias, "none", [], "")
        return y[:rows].reshape(*x.shape[:-1], self.out_features)

    def _apply(self, fn, recurse: bool = True):
        self._packed, self._packed_key = None, None  # the weight may move or change dtype
        return super()._apply(fn, recurse)

    def __getstate__(self):
        state = self.__dict__.copy()  # the packed (oneDNN) tensor can be neither pickled nor copied
        state["_packed"], state["_packed_key"] = None, None
        return state


def prepack_linear_weights(module: nn.Module, rows_hint: int = ROW_BUCKET) -> int:
    """Replace every ``nn.Linear`` and :class:`Pointwise` inside ``module`` (in place) by a
    :class:`PrepackedLinear` sharing its parameters; returns how many were replaced."""
    if not prepacking_available():
        raise RuntimeError("weight prepacking needs a PyTorch build with oneDNN (mkldnn)")
    return replace_linear_maps(module, lambda source: PrepackedLinear(source, rows_hint))
