"""Find and load a trained model for decoding: experiment directories, packed zips, tokenizers."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple, Union

MODEL_FILE_PREFERENCE = ("valid.acc.ave.pth", "valid.acc.best.pth", "valid.loss.ave.pth",
                         "valid.loss.best.pth", "model.pth")


def experiment_files(path: Union[str, Path], model_file: Optional[str] = None) -> Tuple[Path, Path]:
    """(config.yaml, model .pth) of an experiment directory (its best model unless ``model_file``) or of
    a packed zip (extracted to a temporary directory)."""
    from espnet_durep.export.pack import unpack

    path = Path(path)
    if path.is_file() and path.suffix == ".zip":
        return unpack(path, Path(tempfile.mkdtemp(prefix="durep_model_")))
    if not (path / "config.yaml").is_file():
        raise FileNotFoundError(f"{path}: neither a packed model zip nor an experiment directory with config.yaml")
    if model_file is None:
        found = [name for name in MODEL_FILE_PREFERENCE if (path / name).is_file()]
        if not found:
            raise FileNotFoundError(f"{path}: none of {', '.join(MODEL_FILE_PREFERENCE)} found; pass model_file")
        model_file = found[0]
    return path / "config.yaml", path / model_file


@dataclass
class LoadedModel:
    """An inference model (no teacher, no ``kd_*`` heads), its training args and its text side."""

    model: object
    args: object
    token_list: List[str]
    tokenizer: object
    converter: object


def load_model(config: Union[str, Path], model_file: Union[str, Path], device: str = "cpu") -> LoadedModel:
    from espnet_durep.tasks.durep import DurepTask  # first: it imports ESPnet offline and quietly

    from espnet2.text.build_tokenizer import build_tokenizer
    from espnet2.text.token_id_converter import TokenIDConverter

    model, args = DurepTask.build_model_from_file(config, model_file, device)
    token_list = list(model.token_list)
    bpemodel = getattr(args, "bpemodel", None)
    if bpemodel not in (None, "none") and not Path(bpemodel).is_file():
        raise FileNotFoundError(
            f"{config} names bpemodel {bpemodel}, which does not exist here: relative paths in an "
            f"experiment's config are relative to its recipe directory (run from there), or use the packed zip")
    tokenizer = build_tokenizer(token_type=args.token_type, bpemodel=None if bpemodel in (None, "none") else bpemodel)
    return LoadedModel(model.eval(), args, token_list, tokenizer, TokenIDConverter(token_list=token_list))
