"""Import ESPnet's ASR task without network access.

Importing ``espnet2.tasks.asr`` pulls in ``g2p_en``, which calls ``nltk.download`` for
resources it does not find.  We never use grapheme-to-phoneme conversion, so while the
task module is imported we replace ``nltk.download`` by a function that only reports
the resource as unavailable.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
from types import ModuleType
from typing import Iterator


@contextlib.contextmanager
def _nltk_download_disabled() -> Iterator[None]:
    try:
        import nltk
    except ImportError:  # nltk absent: nothing can download
        yield
        return

    original = nltk.download

    def _refuse(info_or_id=None, *args, **kwargs) -> bool:
        logging.getLogger(__name__).debug("nltk resource %r not downloaded (offline)", info_or_id)
        return False

    nltk.download = _refuse
    try:
        yield
    finally:
        nltk.download = original


def import_offline(module: str) -> ModuleType:
    """Import ``module`` with nltk downloads disabled."""
    with _nltk_download_disabled():
        return importlib.import_module(module)
