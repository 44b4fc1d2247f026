"""kd_report on real AN4 speech: every enabled KD term gets a row with a measured gradient share."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
import yaml

from espnet_durep.bin import kd_report
from tiny_asr import TINY_CONFIG, save_experiment

CORPUS = Path(__file__).resolve().parents[2] / "egs2/mini_an4/durep1/corpus/an4_nemo_subset"


def _data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    lines = (CORPUS / "train/wav.scp").read_text().splitlines()[:8]
    (data / "wav.scp").write_text("".join(f"{u} {CORPUS / p}\n" for u, p in (line.split() for line in lines)))
    texts = dict(line.split(" ", 1) for line in (CORPUS / "train/text").read_text().splitlines())
    (data / "text").write_text("".join(f"{line.split()[0]} {texts[line.split()[0]]}\n" for line in lines))
    return data


def test_reports_loss_weight_and_gradient_share_of_every_term(tmp_path, capsys):
    torch.set_num_threads(1)
    tokens = tmp_path / "chars.txt"
    tokens.write_text("\n".join(["<blank>", "<unk>", "<space>", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ'", "<sos/eos>"]) + "\n")
    token_args = ["--token_list", str(tokens), "--token_type", "char"]
    teacher_cfg = copy.deepcopy(TINY_CONFIG)
    teacher_cfg["model_conf"]["mode_schedule"] = "full"
    teacher_exp, _ = save_experiment(tmp_path, "teacher", teacher_cfg, extra=token_args)
    student_cfg = copy.deepcopy(TINY_CONFIG)
    student_cfg["model_conf"].update(inplace_kd_weight=0.3, teacher_layer_kd_weight=0.2,
                                     teacher_posterior_kd_weight=0.5,
                                     teacher_kd_conf={"layer_pairs": [[2, 2]]})
    (tmp_path / "student.yaml").write_text(yaml.safe_dump(student_cfg))
    out_json = tmp_path / "report.json"
    rc = kd_report.main([
        "--config", str(tmp_path / "student.yaml"), *token_args,
        "--teacher_asr_train_config", str(teacher_exp / "config.yaml"),
        "--teacher_asr_model_file", str(teacher_exp / "model.pth"),
        "--data_dir", str(_data_dir(tmp_path)), "--num_batches", "2", "--utts_per_batch", "4",
        "--output_json", str(out_json)])
    assert rc == 0
    printed = capsys.readouterr().out
    report = json.loads(out_json.read_text())
    terms = {"asr", "loss_kd_inplace_ctc", "loss_kd_inplace_att", "loss_kd_layer_full", "loss_kd_layer_streaming",
             "loss_kd_posterior_full", "loss_kd_posterior_streaming"}
    assert set(report) == terms
    assert sum(r["grad_share"] for r in report.values()) == pytest.approx(1.0, abs=1e-4)
    for name, row in report.items():
        assert name in printed
        assert row["loss"] > 0 and 0 < row["grad_share"] < 1
        assert row["weighted"] == pytest.approx(row["weight"] * row["loss"], rel=1e-5)
    assert report["loss_kd_layer_full"]["weight"] == pytest.approx(0.2)
    assert report["loss_kd_inplace_att"]["weight"] == pytest.approx(0.3)


def test_missing_transcripts_name_the_utterance(tmp_path):
    data = _data_dir(tmp_path)
    lines = (data / "text").read_text().splitlines()
    (data / "text").write_text("\n".join(lines[1:]) + "\n")
    with pytest.raises(ValueError, match=lines[0].split()[0]):
        kd_report.load_batches(data, lambda u, d: d, 1, 2, 0)
