import copy
import subprocess
import sys

import pytest
import torch
import yaml

from espnet_durep.tasks.durep import DurepTask
from tiny_asr import TINY_CONFIG, TOKENS, build_args, save_experiment


def _teacher(tmp_path):
    config = copy.deepcopy(TINY_CONFIG)
    config["model_conf"]["mode_schedule"] = "full"
    return save_experiment(tmp_path, "teacher", config)


def _student_config():
    config = copy.deepcopy(TINY_CONFIG)
    config["model_conf"].update(
        teacher_layer_kd_weight=1.0, teacher_posterior_kd_weight=0.5, teacher_discrete_kd_weight=0.5,
        teacher_kd_conf={"layer_pairs": [[1, 1], [2, 2]], "codebook_size": 8, "code_dim": 4, "code_layer": 2})
    return config


def test_print_config_lists_our_options():
    """The training entry point prints a complete, parseable YAML config."""
    proc = subprocess.run(
        [sys.executable, "-m", "espnet_durep.bin.durep_train", "--print_config", "--model", "dual_mode",
         "--encoder", "dual_mode_conformer"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    printed = yaml.safe_load(proc.stdout)
    assert printed["encoder"] == "dual_mode_conformer"
    assert "chunk_size" in printed["encoder_conf"]
    assert "inplace_kd_weight" in printed["model_conf"]
    assert "teacher_asr_model_file" in printed


def test_build_model_from_file_round_trip(tmp_path, toy_batch):
    exp, model = save_experiment(tmp_path, "student", TINY_CONFIG)
    loaded, args = DurepTask.build_model_from_file(exp / "config.yaml", exp / "model.pth")
    model.eval(), loaded.eval()
    with torch.no_grad():
        a = model(*[t.clone() for t in toy_batch])[0]
        b = loaded(*[t.clone() for t in toy_batch])[0]
    assert torch.allclose(a, b)
    assert args.token_list == TOKENS


def test_legacy_model_conf_keys_are_renamed_with_a_warning_and_args_are_not_changed(tmp_path, toy_batch):
    config = copy.deepcopy(TINY_CONFIG)
    config["model_conf"].update(stream_weight=0.25, stream_prob=0.9, mode_schedule="random")
    args = build_args(tmp_path, config)
    given = copy.deepcopy(vars(args))
    with pytest.warns(DeprecationWarning) as caught:
        model = DurepTask.build_model(args)
    messages = [str(w.message) for w in caught]
    assert "model_conf.stream_weight is deprecated, write model_conf.streaming_weight instead" in messages
    assert "model_conf.stream_prob is deprecated, write model_conf.streaming_prob instead" in messages
    assert (model.streaming_weight, model.streaming_prob) == (0.25, 0.9)
    assert vars(args) == given  # the task copies, never mutates, its args
    model.eval()
    loss, stats, _ = model(*toy_batch)  # validation runs both modes, weighted by the old key's value
    torch.testing.assert_close(loss, 0.75 * stats["loss_full"] + 0.25 * stats["loss_streaming"])


def test_old_and_new_name_of_a_model_conf_key_together_are_an_error(tmp_path):
    config = copy.deepcopy(TINY_CONFIG)
    config["model_conf"].update(stream_weight=0.25, streaming_weight=0.5)
    with pytest.raises(ValueError, match="both stream_weight .* and streaming_weight"):
        DurepTask.build_model(build_args(tmp_path, config))


def test_an_experiment_written_with_the_old_mode_names_loads_with_warnings(tmp_path, toy_batch):
    """config.yaml of an experiment trained before the rename: stream_weight, mode_schedule: stream,
    encoder_conf.default_mode: stream (encoder options are built by the same task call)."""
    exp, model = save_experiment(tmp_path, "old", TINY_CONFIG)
    config = yaml.safe_load((exp / "config.yaml").read_text())
    config["model_conf"].update(stream_weight=0.3, mode_schedule="stream")
    config["encoder_conf"]["default_mode"] = "stream"
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.warns(DeprecationWarning) as caught:
        loaded, args = DurepTask.build_model_from_file(exp / "config.yaml", exp / "model.pth")
    messages = " | ".join(str(w.message) for w in caught)
    for option in ("model_conf.stream_weight", "model_conf.mode_schedule", "default_mode"):
        assert option in messages, messages
    assert args.model_conf["stream_weight"] == 0.3  # the returned args are the file's, as read
    assert (loaded.streaming_weight, loaded.mode_schedule, loaded.encoder.default_mode) == (0.3, "streaming",
                                                                                           "streaming")
    loaded.eval(), model.eval()
    feats, lens = loaded.features(*toy_batch[:2])
    with torch.no_grad():
        streamed = loaded.encoder(feats, lens)[0]  # the default mode is now streaming
        torch.testing.assert_close(streamed, model.encoder(feats, lens, mode="streaming")[0])
        _, stats, _ = loaded(*[t.clone() for t in toy_batch])
    assert "loss_streaming" in stats and "loss_full" not in stats


def test_teacher_supervises_both_modes_and_is_never_saved(tmp_path, toy_batch):
    teacher_exp, teacher = _teacher(tmp_path)
    args = build_args(tmp_path, _student_config(), [
        "--teacher_asr_train_config", str(teacher_exp / "config.yaml"),
        "--teacher_asr_model_file", str(teacher_exp / "model.pth")])
    student = DurepTask.build_model(args)
    assert student.teacher is not None and not student.teacher.training
    assert not any(k.startswith("_teacher") or "teacher" in k for k in student.state_dict())
    assert any(k.startswith("kd_") for k in student.state_dict())  # training-only heads exist
    loss, stats, _ = student(*toy_batch)
    for mode in ("full", "streaming"):
        for kind in ("layer", "posterior", "discrete"):
            assert f"loss_kd_{kind}_{mode}" in stats
    loss.backward()
    assert all(p.grad is None for p in student.teacher.parameters())
    assert student.kd_layer_regression is not None


def test_inference_build_drops_teacher_and_kd_heads(tmp_path, toy_batch):
    teacher_exp, _ = _teacher(tmp_path)
    exp, student = save_experiment(tmp_path, "student", _student_config(), [
        "--teacher_asr_train_config", str(teacher_exp / "config.yaml"),
        "--teacher_asr_model_file", str(teacher_exp / "model.pth")])
    assert any(k.startswith("kd_") for k in student.state_dict())
    loaded, _ = DurepTask.build_model_from_file(exp / "config.yaml", exp / "model.pth")
    assert loaded.teacher is None
    assert not any(k.startswith("kd_") for k in loaded.state_dict())
    n_student = sum(p.numel() for n, p in student.named_parameters() if not n.startswith("kd_"))
    assert sum(p.numel() for p in loaded.parameters()) == n_student


def test_token_list_mismatch_names_both_files(tmp_path):
    teacher_exp, _ = _teacher(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    args = build_args(other, _student_config(), [
        "--teacher_asr_train_config", str(teacher_exp / "config.yaml"),
        "--teacher_asr_model_file", str(teacher_exp / "model.pth")])
    (other / "tokens.txt").write_text("\n".join(TOKENS[:-2] + ["x", "<sos/eos>"]) + "\n")
    with pytest.raises(ValueError) as err:
        DurepTask.build_model(args)
    message = str(err.value)
    assert "token lists differ" in message and str(teacher_exp / "config.yaml") in message
    assert str(args.config) in message


def test_missing_teacher_is_a_clear_error(tmp_path):
    args = build_args(tmp_path, _student_config())
    with pytest.raises(ValueError, match="--teacher_asr_train_config"):
        DurepTask.build_model(args)


def test_collect_stats_never_loads_teacher(tmp_path):
    args = build_args(tmp_path, _student_config(), ["--collect_stats", "true"])
    model = DurepTask.build_model(args)  # no teacher files given, and none needed
    assert model.teacher is None


def test_layer_distillation_refuses_a_teacher_without_the_dual_mode_encoder(tmp_path):
    from tiny_transducer import cascaded_config

    teacher_exp, _ = save_experiment(tmp_path, "transducer_teacher", cascaded_config())
    config = copy.deepcopy(TINY_CONFIG)
    config["model_conf"].update(teacher_layer_kd_weight=1.0, teacher_kd_conf={"layer_pairs": [[1, 1]]})
    args = build_args(tmp_path, config, ["--teacher_asr_train_config", str(teacher_exp / "config.yaml"),
                                         "--teacher_asr_model_file", str(teacher_exp / "model.pth")])
    with pytest.raises(ValueError, match="needs a teacher with the dual_mode_conformer encoder"):
        DurepTask.build_model(args)


def test_building_a_transducer_leaves_the_callers_args_alone(tmp_path):
    from tiny_transducer import cascaded_config

    args = build_args(tmp_path, cascaded_config())
    before = copy.deepcopy(vars(args))
    DurepTask.build_model(args)
    assert vars(args) == before
