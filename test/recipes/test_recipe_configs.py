"""Every recipe names configs that exist, and every decoding YAML is accepted by durep_inference."""
import re
from pathlib import Path

import pytest

from espnet_durep.bin.durep_inference import get_parser

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted(p.parent for p in ROOT.glob("egs2/*/durep1/run.sh"))
DECODE_CONFIGS = sorted({p.resolve() for p in [*ROOT.glob("conf/decode*.yaml"), *ROOT.glob("egs2/*/durep1/conf/decode*.yaml")]})


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.parent.name)
def test_recipe_configs_exist(recipe):
    named = re.findall(r"(conf/[\w.-]+\.yaml)", (recipe / "run.sh").read_text())
    assert {"conf/train_teacher.yaml", "conf/train_student.yaml", "conf/decode.yaml"} <= set(named)
    missing = [n for n in named if not (recipe / n).is_file()]
    assert not missing, f"{recipe}/run.sh names missing configs {missing}"


@pytest.mark.parametrize("config", DECODE_CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_decode_config_is_valid_for_durep_inference(config):
    args = get_parser().parse_args(["--config", str(config), "--asr_train_config", "c.yaml", "--asr_model_file",
                                    "m.pth", "--data_path_and_name_and_type", "wav.scp,speech,sound",
                                    "--output_dir", "out"])
    assert args.beam_size >= 1 and 0.0 <= args.ctc_weight <= 1.0
