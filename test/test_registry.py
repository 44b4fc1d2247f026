import subprocess
import sys

import pytest
import torch

import espnet_durep
from espnet_durep import registry
from espnet_durep._offline import import_offline

asr = import_offline("espnet2.tasks.asr")


def test_every_entry_is_registered_under_its_key():
    for choices_name, key, target in registry.REGISTRY:
        cls = registry._load(target)
        assert getattr(asr, choices_name).classes[key] is cls


def test_registration_is_idempotent():
    assert registry.register_all() == registry.register_all()


def test_refuses_to_overwrite_an_existing_key():
    with pytest.raises(KeyError, match="conformer"):
        registry.register("encoder_choices", "conformer",
                          registry._load(registry.REGISTRY[0][2]))


def test_refuses_a_class_of_the_wrong_kind():
    with pytest.raises(TypeError, match="AbsEncoder"):
        registry.register("encoder_choices", "not_an_encoder", torch.nn.Linear)
    assert "not_an_encoder" not in asr.encoder_choices.classes


def test_keys_are_lower_case():
    with pytest.raises(ValueError, match="lower-case"):
        registry.register("encoder_choices", "DualMode", registry._load(registry.REGISTRY[0][2]))


def test_import_tries_no_network():
    """A fresh interpreter importing the task must not try to download nltk data."""
    proc = subprocess.run(
        [sys.executable, "-c", "import espnet_durep.tasks.durep, espnet2.tasks.asr; import espnet_durep; "
                               "print(espnet_durep.__version__)"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == espnet_durep.__version__
    assert "nltk_data" not in proc.stderr and "urlopen" not in proc.stderr, proc.stderr


def test_the_package_and_the_runtime_import_without_torch_or_espnet():
    """Registration is the task's job, not an import side effect; the runtime is PyTorch-free."""
    modules = ("espnet_durep", "espnet_durep.search.ctc", "espnet_durep.search.rescoring", "espnet_durep.search.session",
               "espnet_durep.frontend.logmel", "espnet_durep.chunking", "espnet_durep.runtime.recognizer",
               "espnet_durep.runtime.server", "espnet_durep.bin.serve", "espnet_durep.bin.stream_client")
    code = (f"import sys, importlib; [importlib.import_module(m) for m in {modules!r}]; "
            "print(sorted(m for m in ('torch', 'espnet2', 'espnet') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
