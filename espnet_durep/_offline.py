"""Import ESPnet's ASR task quietly and without network access.

Importing ``espnet2.tasks.asr`` pulls in ``g2p_en``, which calls ``nltk.download`` for
resources it does not find.  We never use grapheme-to-phoneme conversion, so while the
task module is imported we replace ``nltk.download`` by a function that only reports
the resource as unavailable.  ESPnet's attention module also prints a notice on stdout
when the optional flash-attn package is absent, which would corrupt ``--print_config``
output; that one module is imported first with its print sent to the debug log.  (Only
that module: ESPnet binds ``sys.stdout`` as a default argument elsewhere, so the rest
must be imported with the real stdout.)
"""
from __future__ import annotations

import contextlib
import importlib
import io
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


_PRINTS_ON_IMPORT = "espnet.nets.pytorch_backend.transformer.attention"


def import_offline(module: str) -> ModuleType:
    """Import ``module`` with nltk downloads disabled and ESPnet's import notice silenced."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        importlib.import_module(_PRINTS_ON_IMPORT)
    if printed.getvalue():
        logging.getLogger(__name__).debug("import notice: %s", printed.getvalue().strip())
    with _nltk_download_disabled():
        return importlib.import_module(module)
