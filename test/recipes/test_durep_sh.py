"""durep.sh: option checks, --help, and a failing stage stopping the recipe with its log path."""
from __future__ import annotations

import subprocess
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[2] / "egs2" / "TEMPLATE" / "durep1"


def recipe(tmp_path: Path, data_sh: str) -> Path:
    work = tmp_path / "recipe"
    (work / "local").mkdir(parents=True)
    for name in ("durep.sh", "scripts", "path.sh", "cmd.sh"):
        (work / name).symlink_to(TEMPLATE / name)
    (work / "local" / "data.sh").write_text("#!/usr/bin/env bash\n" + data_sh)
    (work / "local" / "data.sh").chmod(0o755)
    return work


def durep(work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["./durep.sh", *args], cwd=work, capture_output=True, text=True)


def test_help_lists_stages_and_options(tmp_path):
    done = durep(recipe(tmp_path, "true\n"), "--help")
    assert done.returncode == 0
    assert "13 packed model zip" in done.stdout
    assert any(line.split()[:1] == ["--chunk_sizes"] and line.endswith("[16]") for line in done.stdout.splitlines())


def test_failing_stage_names_its_log(tmp_path):
    work = recipe(tmp_path, "echo 'corpus is broken' >&2\nexit 3\n")
    done = durep(work, "--train_set", "tr", "--valid_set", "dv", "--test_sets", "ev", "--stop_stage", "5")
    assert done.returncode == 1
    assert "stage 1 failed, see exp/log/data.log" in done.stderr
    assert "corpus is broken" in done.stderr  # tail of the log
    log = (work / "exp" / "log" / "data.log").read_text()
    assert log.startswith("# local/data.sh") and "with exit code 3" in log


def test_invalid_settings_are_rejected(tmp_path):
    work = recipe(tmp_path, "true\n")
    common = ["--train_set", "tr", "--valid_set", "dv"]
    assert "test set 'dv' is also the training or validation set" in durep(work, *common, "--test_sets", "dv").stderr
    assert "unknown mode 'offline'" in durep(work, *common, "--test_sets", "ev", "--decode_modes", "offline").stderr
    assert "--train_set is required" in durep(work).stderr


def test_a_test_set_that_decodes_nothing_stops_with_the_reason(tmp_path):
    """Stage 10 with no decodable utterance: a clear error pointing at failed_utts, not a
    silent exit (grep finding no timing row under set -e -o pipefail)."""
    import copy
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tiny_asr import TINY_CONFIG, save_experiment

    work = recipe(tmp_path, "true\n")
    (work / "exp").mkdir()
    save_experiment(work / "exp", "student", copy.deepcopy(TINY_CONFIG), ["--token_type", "char"])
    ev = work / "dump" / "raw" / "ev"
    ev.mkdir(parents=True)
    (ev / "wav.scp").write_text(f"u1 {tmp_path / 'gone1.wav'}\nu2 {tmp_path / 'gone2.wav'}\n")
    (ev / "text").write_text("u1 A\nu2 B\n")
    done = durep(work, "--train_set", "tr", "--valid_set", "dv", "--test_sets", "ev", "--skip_teacher", "true",
                 "--stage", "10", "--stop_stage", "10", "--inference_model", "model.pth", "--decode_modes", "full",
                 "--inference_nj", "1", "--inference_args", "--beam_size 2")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no utterance of ev could be decoded" in done.stderr and "failed_utts" in done.stderr
    failed = (work / "exp" / "student" / "decode_full" / "ev" / "failed_utts").read_text()
    assert "u1 audio file not found" in failed and "u2 audio file not found" in failed
