"""ESPnetASRModel options that this package's models do not run, rejected by name.

Both model families run their own feature and encoder path (two modes, two passes), not
``ESPnetASRModel.encode``, so a pre-encoder, a post-encoder or intermediate CTC would be
built and then silently skipped. A config that asks for one is an error instead.
"""
from __future__ import annotations


def reject_unsupported_espnet_options(model) -> None:
    """ValueError naming every such option set on ``model`` (an ESPnetASRModel)."""
    found = [name for name, is_set in (
        ("preencoder", model.preencoder is not None),
        ("postencoder", model.postencoder is not None),
        ("model_conf.interctc_weight", model.interctc_weight != 0.0),
        ("model_conf.aux_ctc", bool(model.aux_ctc)),
    ) if is_set]
    if found:
        raise ValueError(f"{type(model).__name__} does not run {', '.join(found)}: it encodes with its own "
                         f"dual-mode path, not ESPnetASRModel.encode; remove them from the config")
