"""ESPnet's own trainer drives our task: collect_stats, training, kill-and-resume."""
import copy
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch
import yaml

from tiny_asr import TINY_CONFIG, TOKENS
from espnet_durep.tasks.durep import DurepTask

UTTS = {"u1": "abcd", "u2": "bad", "u3": "cab", "u4": "dace", "u5": "ebb", "u6": "add"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    wav_scp, text = [], []
    for i, (utt, chars) in enumerate(sorted(UTTS.items())):
        path = root / f"{utt}.wav"
        soundfile.write(path, 0.1 * rng.standard_normal(4000 + 400 * i).astype(np.float32), 16000)
        wav_scp.append(f"{utt} {path}")
        text.append(f"{utt} {chars}")
    (root / "wav.scp").write_text("\n".join(wav_scp) + "\n")
    (root / "text").write_text("\n".join(text) + "\n")
    (root / "tokens.txt").write_text("\n".join(TOKENS) + "\n")
    config = copy.deepcopy(TINY_CONFIG)
    config["model_conf"]["inplace_kd_weight"] = 0.1
    config.update(optim="adam", optim_conf={"lr": 0.002}, batch_type="sorted", batch_size=2,
                  num_att_plot=0, keep_nbest_models=1, seed=3, num_workers=0)
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    return root


def _common(corpus):
    data = []
    for split in ("train", "valid"):
        data += [f"--{split}_data_path_and_name_and_type", f"{corpus}/wav.scp,speech,sound",
                 f"--{split}_data_path_and_name_and_type", f"{corpus}/text,text,text"]
    return ["--config", str(corpus / "config.yaml"), "--token_list", str(corpus / "tokens.txt"),
            "--token_type", "char", "--use_preprocessor", "true", "--ngpu", "0", *data]


@pytest.fixture(scope="module")
def stats_dir(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("stats")
    keys = corpus / "keys"
    keys.write_text("".join(f"{u} 1\n" for u in sorted(UTTS)))
    DurepTask.main(cmd=[*_common(corpus), "--collect_stats", "true", "--output_dir", str(out),
                        "--train_shape_file", str(keys), "--valid_shape_file", str(keys)])
    return out


def _train(corpus, stats_dir, out, max_epoch, resume=False):
    DurepTask.main(cmd=[*_common(corpus), "--output_dir", str(out), "--max_epoch", str(max_epoch),
                        "--resume", str(resume).lower(),
                        "--train_shape_file", str(stats_dir / "train" / "speech_shape"),
                        "--valid_shape_file", str(stats_dir / "valid" / "speech_shape")])


def test_collect_stats_writes_shapes_and_feature_stats(stats_dir):
    assert (stats_dir / "train" / "speech_shape").read_text().count("\n") == len(UTTS)
    stats = np.load(stats_dir / "train" / "feats_stats.npz")
    assert stats["sum"].shape == (20,) and int(stats["count"]) > 0


def test_killed_run_resumes_to_the_same_result(corpus, stats_dir, tmp_path):
    _train(corpus, stats_dir, tmp_path / "straight", max_epoch=2)
    _train(corpus, stats_dir, tmp_path / "killed", max_epoch=1)  # "killed" after epoch 1
    assert (tmp_path / "killed" / "checkpoint.pth").exists()
    _train(corpus, stats_dir, tmp_path / "killed", max_epoch=2, resume=True)
    a = torch.load(tmp_path / "straight" / "2epoch.pth", weights_only=True)
    b = torch.load(tmp_path / "killed" / "2epoch.pth", weights_only=True)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key
    assert int(b["train_steps"]) == int(a["train_steps"]) > 0
    # the trained model loads for inference through the safe path
    model, _ = DurepTask.build_model_from_file(tmp_path / "killed" / "config.yaml",
                                               tmp_path / "killed" / "2epoch.pth")
    assert model.train_steps == a["train_steps"]


def test_print_config_defaults_to_the_dual_mode_model():
    proc = subprocess.run([sys.executable, "-m", "espnet_durep.bin.durep_train", "--print_config"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = yaml.safe_load(proc.stdout)
    assert (config["model"], config["encoder"], config["decoder"]) == ("dual_mode", "dual_mode_conformer", "transformer")
    assert config["model_conf"]["mode_schedule"] == "both" and "chunk_size" in config["encoder_conf"]
