"""Register espnet_durep's classes into ESPnet2's ASR task choices, in one place.

ESPnet keeps its choices as plain module-level ``ClassChoices`` objects whose ``classes``
dict maps a lower-case key to a class.  ESPnet does not check what is put there, so we
check that every class subclasses the choice's base type and refuse to overwrite a key
that already names a different class.
"""
from __future__ import annotations

import importlib
from typing import Dict, List, Tuple

from espnet_durep._offline import import_offline

# (choices object in espnet2.tasks.asr, key, "module:Class")
REGISTRY: List[Tuple[str, str, str]] = [
    ("encoder_choices", "dual_mode_conformer",
     "espnet_durep.encoder.dual_mode_conformer:DualModeConformerEncoder"),
    ("encoder_choices", "cascaded_conformer",
     "espnet_durep.encoder.cascaded_conformer:CascadedConformerEncoder"),
    ("decoder_choices", "tied_reduced",
     "espnet_durep.decoder.tied_reduced:TiedReducedPredictionNetwork"),
    ("model_choices", "dual_mode", "espnet_durep.model.dual_mode_asr:DualModeASRModel"),
    ("model_choices", "cascaded_transducer",
     "espnet_durep.model.cascaded_transducer:CascadedTransducerModel"),
    ("model_choices", "multi_decoder_transducer",
     "espnet_durep.model.multi_decoder_transducer:MultiDecoderTransducerModel"),
]

def _load(target: str) -> type:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def register(choices_name: str, key: str, cls: type) -> None:
    """Add ``cls`` under ``key`` to ``espnet2.tasks.asr.<choices_name>``."""
    asr = import_offline("espnet2.tasks.asr")
    choices = getattr(asr, choices_name)
    if key != key.lower():
        raise ValueError(f"choice keys are lower-case in ESPnet: {key!r}")
    base = choices.base_type
    if base is not None and not issubclass(cls, base):
        raise TypeError(f"{cls.__qualname__} must subclass {base.__qualname__} "
                        f"to be an ESPnet {choices_name} entry")
    existing = choices.classes.get(key)
    if existing is not None and existing is not cls:
        raise KeyError(f"ESPnet {choices_name} already has {key!r} -> {existing.__qualname__}")
    choices.classes[key] = cls


def register_all() -> Dict[str, type]:
    """Register every entry of :data:`REGISTRY` (idempotent); returns key -> class."""
    import_offline("espnet2.tasks.asr")  # first, so our modules' espnet imports stay quiet
    added = {}
    for choices_name, key, target in REGISTRY:
        cls = _load(target)
        register(choices_name, key, cls)
        added[key] = cls
    return added
