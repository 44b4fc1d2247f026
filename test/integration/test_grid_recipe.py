"""run_grid.sh end to end on mini_an4 (its conf/grid.yaml: a baseline and a student distilled
from it, 2 epochs): training through run.sh, decoding with both full-context searches and
streaming, sclite, grid_run.json records, skipping finished runs, and RESULTS_grid.md."""
import json

from mini_an4_run import run_mini_an4


def test_grid_runs_records_skips_and_compares(tmp_path):
    exp = run_mini_an4("run_grid.sh", tmp_path, "--chunk_sizes", "4")
    for tag in ("full_only_seed0", "dual_teacher_seed0"):
        record = json.loads((exp / tag / "grid_run.json").read_text())
        assert record["wall_seconds"] > 0 and "--seed 0" in record["command"] and "cores" in record["hardware"]
        assert {d.name for d in (exp / tag).glob("decode_*")} == {
            "decode_full_attention_rescoring", "decode_full_joint", "decode_streaming_chunk4_left-1"}
    assert "--teacher_tag full_only_seed0" in json.loads((exp / "dual_teacher_seed0" / "grid_run.json").read_text())["command"]
    results = (exp / "RESULTS_grid.md").read_text()
    assert "| full_only |" in results and "| dual_teacher |" in results
    assert "### dual_teacher: dual-mode student distilled from full_only" in results
    assert " %" in results.split("### dual_teacher")[1]  # relative changes were computed
    assert "Not run yet" not in results
    # a second call skips both runs and regenerates the table
    (exp / "RESULTS_grid.md").unlink()
    run_mini_an4("run_grid.sh", tmp_path, "--chunk_sizes", "4")
    log = (tmp_path / "run.log").read_text()
    assert log.count("done before") == 2 and (exp / "RESULTS_grid.md").is_file()
