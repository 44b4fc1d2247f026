"""compress_config: a 0.5 student of the shipped teacher has about half its parameters."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from espnet_durep.bin.compress_config import compress_config, main

ROOT = Path(__file__).resolve().parents[2]
TEACHER = ROOT / "conf" / "train_transducer_teacher.yaml"


def test_cli_writes_a_student_with_about_half_the_parameters(tmp_path, capsys):
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(["<blank>", "<unk>", *[f"t{i}" for i in range(297)], "<sos/eos>"]) + "\n")
    out = tmp_path / "student.yaml"
    assert main(["--teacher_config", str(TEACHER), "--compression_ratio", "0.5", "--out", str(out),
                 "--token_list", str(tokens), "--teacher_asr_train_config", "exp/teacher/config.yaml",
                 "--teacher_asr_model_file", "exp/teacher/valid.loss.ave.pth"]) == 0
    printed = capsys.readouterr().out
    n_teacher = int(re.search(r"^teacher parameters: (\d+)$", printed, re.M).group(1))
    n_student = int(re.search(r"^student parameters: (\d+) ", printed, re.M).group(1))
    print(f"teacher {n_teacher} parameters, student {n_student} ({n_student / n_teacher:.3f} x)")
    assert 0.4 < n_student / n_teacher < 0.6
    student = yaml.safe_load(out.read_text())
    assert student["teacher_asr_model_file"] == "exp/teacher/valid.loss.ave.pth"
    assert student["model_conf"]["teacher_rnnt_kd_weight"] > 0
    assert f"teacher {n_teacher}, student {n_student}" in out.read_text()


def test_only_the_streaming_parts_shrink():
    teacher = yaml.safe_load(TEACHER.read_text())
    student = compress_config(teacher, 0.5, kd_kind="full")
    t_enc, s_enc = teacher["encoder_conf"], student["encoder_conf"]
    assert s_enc["causal_conf"]["num_blocks"] == t_enc["causal_conf"]["num_blocks"] // 2
    assert s_enc["causal_conf"]["linear_units"] == t_enc["causal_conf"]["linear_units"] // 2
    assert s_enc["causal_conf"]["output_size"] == t_enc["causal_conf"]["output_size"]
    assert {k: v for k, v in s_enc.items() if k != "causal_conf"} == {k: v for k, v in t_enc.items() if k != "causal_conf"}
    assert student["decoder_conf"]["embed_dim"] == teacher["decoder_conf"]["embed_dim"] // 2
    assert student["model_conf"]["rnnt_kd_conf"]["kind"] == "full"
    assert teacher == yaml.safe_load(TEACHER.read_text())  # the teacher dict is not modified


@pytest.mark.parametrize("ratio", [0.0, 1.5])
def test_bad_ratio(ratio):
    with pytest.raises(ValueError, match="compression_ratio"):
        compress_config(yaml.safe_load(TEACHER.read_text()), ratio)


def test_needs_a_cascaded_transducer_teacher():
    with pytest.raises(ValueError, match="cascaded_conformer"):
        compress_config(yaml.safe_load((ROOT / "conf" / "train_teacher.yaml").read_text()), 0.5)
