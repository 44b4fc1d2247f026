"""espnet_durep: dual-mode (streaming + full-context) ASR with distillation on ESPnet2.

Importing the package registers its encoder, decoder and model classes into ESPnet2's
ASR task choices (see :mod:`espnet_durep.registry`).
"""
from espnet_durep.registry import register_all

__version__ = "0.1.0"

register_all()
