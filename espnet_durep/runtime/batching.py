"""Advance many streams with one batched chunk step.

Streams of one batch share the chunk window length F; their attention caches hold different
amounts of history, so the shorter ones are left-padded and masked (``att_cache_mask``), and
each stream's part of the output is cut back to its own history.  Every stream gets exactly
what a step of its own would give.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

from espnet_durep.runtime.model import OnnxModel


def batched_chunk_step(model: OnnxModel, windows: Sequence[np.ndarray], att_caches: Sequence[np.ndarray],
                       cnn_caches: Sequence[np.ndarray]) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One step for B streams: windows (F, idim) of one length, att_caches (L, 1, H, Tc_b, 2 d_k),
    cnn_caches (L, 1, D, K') -> per stream (enc (c, D), att_cache (L, 1, H, Tc_b + c, 2 d_k), cnn_cache)."""
    longest = max(a.shape[3] for a in att_caches)
    padded, mask = [], np.ones((len(windows), longest), dtype=bool)
    for b, att in enumerate(att_caches):
        pad = longest - att.shape[3]
        mask[b, :pad] = False
        padded.append(np.pad(att, ((0, 0), (0, 0), (0, 0), (pad, 0), (0, 0))) if pad else att)
    enc, att, cnn = model.chunk_step(np.stack(windows), np.concatenate(padded, axis=1),
                                     np.concatenate(cnn_caches, axis=1), mask)
    return [(enc[b], att[:, b:b + 1, :, longest - a.shape[3]:], cnn[:, b:b + 1])
            for b, a in enumerate(att_caches)]


def group_by_length(windows: Dict[object, np.ndarray], max_batch: int) -> List[List[object]]:
    """Keys of ``windows`` in batches of equal window length, at most ``max_batch`` each."""
    by_length: Dict[int, List[object]] = {}
    for key, window in windows.items():
        by_length.setdefault(window.shape[0], []).append(key)
    return [keys[i:i + max_batch] for keys in by_length.values() for i in range(0, len(keys), max_batch)]
