"""Every shipped YAML parses and builds its model through the task (tiny token list)."""
from pathlib import Path

import pytest
import torch
import yaml

from espnet_durep.tasks.durep import DurepTask

ROOT = Path(__file__).resolve().parents[1]
TRAIN_CONFIGS = sorted(p for p in [*ROOT.glob("conf/train_*.yaml"), *ROOT.glob("egs2/*/durep1/conf/train_*.yaml")])


@pytest.mark.parametrize("config", TRAIN_CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_config_builds_a_model(config, tmp_path):
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(["<blank>", "<unk>", "a", "b", "<sos/eos>"]) + "\n")
    loaded = yaml.safe_load(config.read_text())
    assert isinstance(loaded, dict) and "model" in loaded
    args = DurepTask.get_parser().parse_args(["--config", str(config), "--token_list", str(tokens),
                                              "--collect_stats", "true"])
    args.normalize = None  # stats files come from a recipe's collect_stats stage
    torch.manual_seed(0)
    model = DurepTask.build_model(args)
    assert sum(p.numel() for p in model.parameters()) > 0
