"""pack_model: self-contained zip without training-only weights; unpack restores paths."""
from __future__ import annotations

import zipfile

import pytest
import torch
import yaml

from espnet_durep.export.pack import pack, unpack


@pytest.fixture
def experiment(tmp_path):
    (tmp_path / "bpe.model").write_bytes(b"spm-bytes")
    (tmp_path / "stats.npz").write_bytes(b"npz-bytes")
    config = {"encoder": "dual_mode_conformer", "token_list": ["<blank>", "a", "<sos/eos>"],
              "bpemodel": str(tmp_path / "bpe.model"), "normalize": "global_mvn",
              "normalize_conf": {"stats_file": str(tmp_path / "stats.npz")},
              "teacher_asr_train_config": "exp/teacher/config.yaml",
              "teacher_asr_model_file": "exp/teacher/valid.acc.ave.pth"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    torch.save({"encoder.w": torch.ones(2), "kd_proj.weight": torch.zeros(3)}, tmp_path / "model.pth")
    (tmp_path / "RESULTS.md").write_text("# RESULTS\n")
    return tmp_path


def test_pack_then_unpack(experiment, tmp_path):
    zip_path = tmp_path / "out" / "packed_model.zip"
    names = pack(experiment / "config.yaml", experiment / "model.pth", zip_path, experiment / "RESULTS.md")
    assert sorted(names) == ["RESULTS.md", "bpe.model", "config.yaml", "feats_stats.npz", "model.pth"]
    with zipfile.ZipFile(zip_path) as zf:
        packed = yaml.safe_load(zf.read("config.yaml"))
        assert zf.read("bpe.model") == b"spm-bytes"
    assert packed["bpemodel"] == "bpe.model"
    assert packed["normalize_conf"] == {"stats_file": "feats_stats.npz"}
    assert "teacher_asr_train_config" not in packed and "teacher_asr_model_file" not in packed
    assert packed["token_list"] == ["<blank>", "a", "<sos/eos>"]

    config, model = unpack(zip_path, tmp_path / "unpacked")
    state = torch.load(model, weights_only=True)
    assert list(state) == ["encoder.w"]  # kd_* training-only weights stripped
    assert torch.equal(state["encoder.w"], torch.ones(2))
    restored = yaml.safe_load(config.read_text())
    assert restored["bpemodel"] == str((tmp_path / "unpacked" / "bpe.model").resolve())
    assert (tmp_path / "unpacked" / "feats_stats.npz").read_bytes() == b"npz-bytes"


def test_missing_referenced_file_is_named(experiment, tmp_path):
    (experiment / "stats.npz").unlink()
    with pytest.raises(FileNotFoundError, match="normalize_conf.stats_file: .*stats.npz"):
        pack(experiment / "config.yaml", experiment / "model.pth", tmp_path / "x.zip")


def test_unpack_rejects_foreign_zip(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("../evil.txt", "x")
    with pytest.raises(ValueError, match="not a packed espnet_durep model"):
        unpack(tmp_path / "other.zip", tmp_path / "o")
