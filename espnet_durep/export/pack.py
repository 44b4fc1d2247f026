"""A trained model as one self-contained zip (``pack``), and back (``unpack``).

The zip holds, at its top level: ``config.yaml``, ``model.pth`` (weights without the
training-only distillation heads), the files the config refers to for inference
(``bpe.model``, ``feats_stats.npz``, ``tokens.txt`` when the token list is a file) and
``RESULTS.md``. Inside the packed ``config.yaml`` those references are bare file names
(relative to the zip root) and the teacher entries are removed: a packed model is for
inference. ``unpack`` extracts the zip and rewrites the references to absolute paths.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
import yaml

from espnet_durep.model.export import strip_training_only

CONFIG_NAME = "config.yaml"
MODEL_NAME = "model.pth"
RESULTS_NAME = "RESULTS.md"
TEACHER_KEYS = ("teacher_asr_train_config", "teacher_asr_model_file")


def _referenced_files(config: dict) -> Dict[str, Tuple[Tuple[str, ...], str]]:
    """{zip name: (key path in config, file on disk)} for the files inference needs."""
    refs = {}
    if config.get("bpemodel") not in (None, "none"):
        refs["bpe.model"] = (("bpemodel",), config["bpemodel"])
    stats = (config.get("normalize_conf") or {}).get("stats_file")
    if stats:
        refs["feats_stats.npz"] = (("normalize_conf", "stats_file"), stats)
    if isinstance(config.get("token_list"), str):
        refs["tokens.txt"] = (("token_list",), config["token_list"])
    return refs


def _set(config: dict, keys: Tuple[str, ...], value: str) -> None:
    for key in keys[:-1]:
        config = config[key]
    config[keys[-1]] = value


def pack(config_file: Path, model_file: Path, outpath: Path, results: Optional[Path] = None) -> List[str]:
    """Write the zip; returns its member names."""
    config = yaml.safe_load(Path(config_file).read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ValueError(f"{config_file}: not an ESPnet config (expected a YAML mapping)")
    refs = _referenced_files(config)
    missing = [f"{'.'.join(keys)}: {path}" for keys, path in refs.values() if not Path(path).is_file()]
    for path in (model_file, results):
        if path is not None and not Path(path).is_file():
            missing.append(str(path))
    if missing:
        raise FileNotFoundError(f"cannot pack {config_file}, missing files: {'; '.join(missing)}")
    for name, (keys, _) in refs.items():
        _set(config, keys, name)
    for key in TEACHER_KEYS:
        config.pop(key, None)
    state = strip_training_only(torch.load(model_file, map_location="cpu", weights_only=True))
    weights = io.BytesIO()
    torch.save(state, weights)
    outpath.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(outpath, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(CONFIG_NAME, yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
        zf.writestr(MODEL_NAME, weights.getvalue())
        for name, (_, path) in refs.items():
            zf.write(path, name)
        if results is not None:
            zf.write(results, RESULTS_NAME)
        return zf.namelist()


def unpack(zip_path: Path, out_dir: Path) -> Tuple[Path, Path]:
    """Extract the zip into ``out_dir``; returns (config.yaml, model.pth) with absolute references."""
    out_dir = Path(out_dir).resolve()
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        unsafe = [n for n in names if "/" in n or "\\" in n or n.startswith(".")]
        if unsafe or CONFIG_NAME not in names or MODEL_NAME not in names:
            raise ValueError(f"{zip_path}: not a packed espnet_durep model "
                             f"(members: {', '.join(names)})")
        out_dir.mkdir(parents=True, exist_ok=True)
        zf.extractall(out_dir)
    config = yaml.safe_load((out_dir / CONFIG_NAME).read_text(encoding="utf-8"))
    for name, (keys, _) in _referenced_files(config).items():
        if name not in names:
            raise ValueError(f"{zip_path}: config refers to {name}, which the zip lacks")
        _set(config, keys, str(out_dir / name))
    (out_dir / CONFIG_NAME).write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                                       encoding="utf-8")
    return out_dir / CONFIG_NAME, out_dir / MODEL_NAME
