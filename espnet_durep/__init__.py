"""espnet_durep: dual-mode (streaming + full-context) ASR with distillation on ESPnet2.

Importing the package does nothing else: ESPnet's choices learn our classes when the task
(:mod:`espnet_durep.tasks.durep`) is imported, which calls
:func:`espnet_durep.registry.register_all`.  So the PyTorch-free parts (:mod:`espnet_durep.search`,
:mod:`espnet_durep.runtime`) import without PyTorch or ESPnet.
"""

__version__ = "0.1.0"
