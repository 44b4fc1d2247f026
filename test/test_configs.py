"""Every shipped YAML parses and builds its model through the task (tiny token list)."""
from pathlib import Path

import pytest
import torch
import yaml

from espnet_durep.bin.compress_config import compress_config
from espnet_durep.tasks.durep import DurepTask

ROOT = Path(__file__).resolve().parents[1]
TRAIN_CONFIGS = sorted(p for p in [*ROOT.glob("conf/train_*.yaml"), *ROOT.glob("egs2/*/durep1/conf/train_*.yaml"),
                                 *ROOT.glob("egs2/*/durep1/conf/grid/*.yaml")])


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


TRANSDUCER_CONFIGS = [p for p in TRAIN_CONFIGS if yaml.safe_load(p.read_text())["model"].endswith("_transducer")]


@pytest.mark.parametrize("config", TRANSDUCER_CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_transducer_configs_select_checkpoints_on_validation_loss(config):
    """Transducer models report no accuracy: n-best selection must use the validation loss."""
    loaded = yaml.safe_load(config.read_text())
    assert loaded["best_model_criterion"] == [["valid", "loss", "min"]]
    assert loaded["keep_nbest_models"] >= 1


def test_shipped_transducer_student_is_the_compressed_teacher():
    teacher = yaml.safe_load((ROOT / "conf" / "train_transducer_teacher.yaml").read_text())
    student = yaml.safe_load((ROOT / "conf" / "train_transducer_student.yaml").read_text())
    expected = compress_config(teacher, 0.5, kd_kind=student["model_conf"]["rnnt_kd_conf"]["kind"])
    for key in ("encoder_conf", "decoder_conf", "joint_net_conf"):
        assert student[key] == expected[key], key
    assert student["model_conf"]["teacher_rnnt_kd_weight"] > 0
