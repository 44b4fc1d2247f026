"""The mode vocabulary of the whole package, and the one check every mode value passes.

* ``full``: full-context (offline) encoding and decoding;
* ``streaming``: chunked streaming (chunk attention masks, cached state, chunk by chunk);
* ``lookahead``: not a mode but the name of the cascaded transducer's second, non-causal
  pass (decoded in ``full`` mode); the first pass is ``streaming``.

Configs, experiment directories and exports written before the vocabulary was unified say
``stream``; :func:`canonical_mode` still reads it, with a deprecation message.  PyTorch-free.
"""
from __future__ import annotations

import logging
import warnings
from typing import Sequence

FULL = "full"
STREAMING = "streaming"
LOOKAHEAD = "lookahead"
MODES = (FULL, STREAMING)

# old value -> its name now (configs and exports written before "streaming" replaced it)
LEGACY_MODES = {"stream": STREAMING}

_logged = set()  # (option, value) pairs already logged: a hot path warns once, not per batch


def canonical_mode(value, option: str, allowed: Sequence[str] = MODES) -> str:
    """``value`` if it is one of ``allowed``; a legacy name (``stream``) as its new name, with a
    ``DeprecationWarning`` and a log message naming ``option``; otherwise a ``ValueError``.

    The membership test comes first, so calling this on every batch costs next to nothing.
    """
    if value in allowed:
        return value
    new = LEGACY_MODES.get(value) if isinstance(value, str) else None
    if new is None or new not in allowed:
        raise ValueError(f"{option} must be one of {tuple(allowed)}, got {value!r}")
    message = f"{option}: {value!r} is deprecated, write {new!r} instead"
    warnings.warn(message, DeprecationWarning, stacklevel=2)
    if (option, value) not in _logged:
        _logged.add((option, value))
        logging.warning(message)
    return new
