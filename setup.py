"""espnet_durep: one ASR model for streaming and full-context recognition (ESPnet extension)."""
from setuptools import find_packages, setup

# The pins are deliberate: espnet 202511 is the newest release for Python 3.11 and
# refuses setuptools >= 74, while torch >= 2.13 needs setuptools >= 77.  torchaudio
# 2.11 (abi3 build) runs with torch 2.12.1 (kaldi fbank, rnnt_loss, forced_align).
install_requires = [
    "torch==2.12.1",
    "torchaudio==2.11.0",
    "espnet==202511",
    "sentencepiece>=0.1.99",
    "kaldiio>=2.18",
    "jiwer>=3.0",
    "pyyaml>=6.0",
    "humanfriendly>=10.0",
    "soundfile>=0.12",
    "tensorboard",          # ESPnet's trainer logs to it
    "matplotlib",           # ESPnet's trainer plots attention and training curves
    "numpy",
    "scipy",                # Welch's t-test in the experiment grid's comparison (bin/grid)
    "onnx>=1.16",           # export_onnx
    "onnxruntime>=1.18",    # the PyTorch-free runtime (espnet_durep.runtime)
    "websockets>=13",       # the streaming server (espnet_durep.bin.serve)
]

setup(
    name="espnet_durep",
    version="0.1.0",
    description="Dual-mode (streaming + full-context) ASR with distillation, on ESPnet2",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["espnet_durep", "espnet_durep.*"]),
    install_requires=install_requires,
    extras_require={"test": ["pytest>=7"]},
)
