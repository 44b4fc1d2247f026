"""run_grid.sh end to end on mini_an4 (its conf/grid.yaml: a baseline and a student distilled
from it, 2 epochs): training through run.sh, decoding with both full-context searches and
streaming, sclite, grid_run.json records and their archive, skipping finished runs, and
RESULTS_grid.md from the archive."""
import json
import subprocess

import pytest

from mini_an4_run import RECIPE, run_mini_an4


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("grid")
    # an earlier attempt of full_only, killed 100 s after its start: its time counts in the record
    (tmp_path / "exp" / "full_only_seed0" / "grid_attempts").mkdir(parents=True)
    (tmp_path / "exp" / "full_only_seed0" / "grid_attempts" / "1000").write_text("1100\n")
    return run_mini_an4("run_grid.sh", tmp_path, *grid_args(tmp_path)), tmp_path


def grid_args(tmp_path):
    return ["--chunk_sizes", "4", "--records_dir", str(tmp_path / "records"),
            "--results", str(tmp_path / "RESULTS_grid.md")]


def test_grid_runs_records_skips_and_compares(grid):
    exp, tmp_path = grid
    for tag in ("full_only_seed0", "dual_teacher_seed0"):
        record = json.loads((exp / tag / "grid_run.json").read_text())
        assert record["wall_seconds"] > 0 and "--seed 0" in record["command"] and "cores" in record["hardware"]
        assert len(record["code"]) >= 12  # the commit the run trained with
        assert {d.name for d in (exp / tag).glob("decode_*")} == {
            "decode_full_attention_rescoring", "decode_full_joint", "decode_streaming_chunk4_left-1"}
        assert (tmp_path / "records" / tag / "grid_run.json").read_text() == (exp / tag / "grid_run.json").read_text()
        assert not list((tmp_path / "records" / tag).glob("*.pth"))  # evidence, not checkpoints
    records = {tag: json.loads((exp / tag / "grid_run.json").read_text()) for tag in ("full_only_seed0", "dual_teacher_seed0")}
    assert records["full_only_seed0"]["attempts"] == 2 and records["dual_teacher_seed0"]["attempts"] == 1
    assert records["full_only_seed0"]["wall_seconds"] >= 100
    assert "--teacher_tag full_only_seed0" in json.loads((exp / "dual_teacher_seed0" / "grid_run.json").read_text())["command"]
    results = (tmp_path / "RESULTS_grid.md").read_text()
    assert "| full_only |" in results and "| dual_teacher |" in results
    assert "### dual_teacher: dual-mode student distilled from full_only" in results
    assert " %" in results.split("### dual_teacher")[1]  # relative changes were computed
    assert "Not run yet" not in results and "(2 attempts) |" in results.split("| full_only_seed0 |")[1].split("\n")[0]
    # a second call skips both runs and regenerates the table from the records
    (tmp_path / "RESULTS_grid.md").unlink()
    run_mini_an4("run_grid.sh", tmp_path, *grid_args(tmp_path))
    log = (tmp_path / "run.log").read_text()
    assert log.count("done before") == 2 and (tmp_path / "RESULTS_grid.md").read_text() == results


def test_probes_of_grid_models(grid):
    """run_probe.sh on two trained grid models: features in full and streaming mode, probe reports."""
    exp, tmp_path = grid
    done = subprocess.run(["./run_probe.sh", "--models", f"{exp / 'full_only_seed0'} {exp / 'dual_teacher_seed0'}",
                           "--data_set", "test", "--dumpdir", str(tmp_path / "dump"), "--chunk_sizes", "4",
                           "--epochs", "2", "--compare_dir", str(exp / "probe_compare")],
                          cwd=RECIPE, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    for model in ("full_only_seed0", "dual_teacher_seed0"):
        report = (exp / model / "probe_test" / "probe.md").read_text()
        assert "| layer | full | streaming160ms |" in report and "## speaker (accuracy)" in report
        assert (exp / model / "probe_test" / "probe.png").is_file()
        assert (exp / model / "feats_test_streaming4" / "layer0.scp").is_file()
    compared = (exp / "probe_compare" / "probe.md").read_text()  # both models' curves in one report
    assert ("| layer | full_only_seed0_full | full_only_seed0_streaming160ms | dual_teacher_seed0_full | "
            "dual_teacher_seed0_streaming160ms |") in compared
