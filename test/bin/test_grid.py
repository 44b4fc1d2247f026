"""grid: spec checks, run plan (teachers first, runs done left out), archived evidence, comparison
tables from decode trees, and every shipped grid row builds its model with its command-line
overrides."""
from __future__ import annotations

import json
import math
import shlex
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from espnet_durep.bin.grid import (_main, archive_run, check_same_command, load_runs, load_spec, plan_lines,
                                   planned_runs, relative, render_compare, runs_to_do, setting_label,
                                   train_log_facts)
from espnet_durep.tasks.durep import DurepTask

ROOT = Path(__file__).resolve().parents[2]
GRID_SPECS = sorted(ROOT.glob("egs2/*/durep1/conf/grid.yaml"))

SPEC = """
seeds: [0, 1]
common_args: --max_epoch 2
experiments:
  - name: student
    config: conf/s.yaml
    teacher: base
    args: --model_conf inplace_kd_weight=0.2
    compare_to: [base]
    claim: distilled
  - name: base
    config: conf/b.yaml
    full_searches: attention_rescoring joint
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_plan_puts_teachers_first_and_tags_runs_by_seed(tmp_path):
    spec = load_spec(write(tmp_path / "grid.yaml", SPEC))
    rows = [line.split("\t") for line in plan_lines(spec, planned_runs(spec))]
    assert [r[0] for r in rows] == ["base_seed0", "student_seed0", "base_seed1", "student_seed1"]
    assert rows[1] == ["student_seed0", "student", "0", "conf/s.yaml", "base_seed0",
                       "--max_epoch 2 --model_conf inplace_kd_weight=0.2", "-", "-", "-"]
    assert rows[0][-1] == "attention_rescoring joint"
    assert [e.tag(s) for e, s in planned_runs(spec, ["base"], [1])] == ["base_seed1"]
    with pytest.raises(ValueError, match="unknown experiments \\['nope'\\]"):
        planned_runs(spec, ["nope"])


def test_runs_done_are_left_out_and_a_recorded_teacher_without_checkpoint_is_trained_again(tmp_path):
    spec = load_spec(write(tmp_path / "grid.yaml", SPEC))
    expdir, records = tmp_path / "exp_grid", tmp_path / "records"
    write(records / "base_seed0" / "grid_run.json", "{}")   # recorded in an earlier checkout only
    write(records / "base_seed1" / "grid_run.json", "{}")
    write(records / "student_seed1" / "grid_run.json", "{}")
    todo, notes = runs_to_do(planned_runs(spec), expdir, records)
    # student_seed0 still needs base_seed0's checkpoint; seed 1 is complete
    assert [e.tag(s) for e, s in todo] == ["base_seed0", "student_seed0"]
    assert any(n.startswith("base_seed0: recorded in") and "trained again" in n for n in notes)
    assert sum("done before" in n for n in notes) == 2
    write(expdir / "base_seed0" / "grid_run.json", "{}")      # the teacher is here now
    todo, _ = runs_to_do(planned_runs(spec), expdir, records)
    assert [e.tag(s) for e, s in todo] == ["student_seed0"]


def test_plan_refuses_seeds_the_spec_does_not_have(tmp_path):
    """archive and compare read the spec's seeds only: a run of another seed would go unreported."""
    spec = load_spec(write(tmp_path / "grid.yaml", SPEC))
    assert [s for _, s in planned_runs(spec, seeds=[1])] == [1, 1]
    with pytest.raises(ValueError, match=r"--seeds: \[2\] not in the spec's seeds \[0, 1\]"):
        planned_runs(spec, seeds=[1, 2])


def test_an_experiment_can_have_more_seeds_than_the_spec(tmp_path):
    """A third seed of one baseline: planned, archived and compared for that experiment only."""
    spec = load_spec(write(tmp_path / "grid.yaml", SPEC.replace(
        "  - name: base\n", "  - name: base\n    seeds: [0, 1, 2]\n")))
    assert spec.all_seeds() == [0, 1, 2]
    assert [e.tag(s) for e, s in planned_runs(spec)] == \
        ["base_seed0", "student_seed0", "base_seed1", "student_seed1", "base_seed2"]
    with pytest.raises(ValueError, match=r"--only with --seeds \[2\]: .* student \(seeds \[0, 1\]\)"):
        planned_runs(spec, ["student"], [2])  # asked for by name: refused, not silently skipped
    assert [e.tag(s) for e, s in planned_runs(spec, seeds=[2])] == ["base_seed2"]
    assert [e.tag(s) for e, s in planned_runs(spec, ["base"], [2])] == ["base_seed2"]
    expdir = tmp_path / "exp_grid"
    for tag, cer in (("base_seed0", 40.0), ("base_seed1", 44.0), ("base_seed2", 42.0), ("student_seed0", 36.0)):
        decode(expdir, tag, "decode_full_joint", metrics("full", "joint"), cer, 80.0)
    runs, missing = load_runs(spec, expdir)
    assert [r.tag for r in runs] == ["student_seed0", "base_seed0", "base_seed1", "base_seed2"]  # spec order
    assert missing == ["student_seed1"]
    assert "| base | - | 0,1,2 | test | full | - | - | joint | 42.0 ± 2.0 |" in render_compare(spec, runs, missing, expdir)


def test_plan_cli_needs_both_directories(tmp_path, capsys):
    spec_file = write(tmp_path / "grid.yaml", SPEC)
    assert _main(["plan", "--spec", str(spec_file), "--expdir", str(tmp_path)]) == 1
    assert "both --expdir and --records" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("experiments: []", "non-empty 'experiments'"),
    ("experiments: [{name: a, config: c.yaml, colour: red}]", "experiment 1: unknown keys \\['colour'\\]"),
    ("experiments: [{name: a}]", "experiment 1: 'config' is required"),
    ("experiments: [{name: a, config: c, teacher: b}]", "experiment a names 'b', which is not an experiment"),
    ("experiments: [{name: a, config: c}, {name: a, config: d}]", "names used twice: \\['a'\\]"),
    ("experiments: [{name: a, config: c, teacher: b}, {name: b, config: c, teacher: a}]", "teacher cycle"),
    ("seeds: [0, 0]\nexperiments: [{name: a, config: c}]", "distinct integers"),
    ("experiments: [{name: a, config: c, seeds: [1, true]}]", "experiment 1 \\(a\\): 'seeds' must be"),
    ("seeds: [0]\nexperiments: [{name: a, config: c, teacher: b, seeds: [0, 1]}, {name: b, config: c}]",
     "a has seeds \\[0, 1\\], but its teacher b only \\[0\\]"),
    ("experiments: [{name: 'a b', config: c}]", "must be letters"),
    ("experiments: [{name: a, config: c, teacher: b, inference_model: valid.loss.ave.pth}, {name: b, config: c}]",
     "a distils from b's checkpoint valid.loss.ave.pth .* b is decoded with valid.acc.ave.pth"),
])
def test_bad_specs_name_the_file_and_the_problem(tmp_path, text, message):
    path = write(tmp_path / "grid.yaml", text)
    with pytest.raises(ValueError, match=message):
        load_spec(path)


def metrics(mode, search, chunk_ms=None, rtf=0.1):
    return {"decode_mode": mode, "search": search, "chunk_ms": chunk_ms, "chunk_size_frames": None,
            "num_left_chunks": -1 if chunk_ms else None, "rtf": rtf,
            "algorithmic_latency_ms": chunk_ms + 30 if chunk_ms else None,
            "emission_delay_ms": {"mean": 2 * chunk_ms, "p50": 0, "p90": 0, "count": 1} if chunk_ms else None}


def decode(expdir: Path, tag: str, name: str, m: dict, cer: float, wer: float) -> None:
    test = expdir / tag / name / "test"
    write(test / "metrics.json", json.dumps(m))
    for unit, err in (("score_cer", cer), ("score_wer", wer)):
        write(test / unit / "result.txt",
              f"| Sum/Avg |  10  100 | {100 - err:.1f} {err:.1f} 0.0 0.0 {err:.1f} 50.0 |\n")


def test_compare_means_seeds_and_gives_relative_change(tmp_path):
    spec_file = write(tmp_path / "grid.yaml", SPEC)
    expdir = tmp_path / "exp_grid"
    for seed, (b_cer, s_cer) in enumerate([(40.0, 36.0), (44.0, 38.0)]):
        decode(expdir, f"base_seed{seed}", "decode_full_joint", metrics("full", "joint"), b_cer, 80.0)
        decode(expdir, f"base_seed{seed}", "decode_streaming_chunk16_left-1",
               metrics("streaming", "attention_rescoring", 640.0, rtf=0.02), b_cer + 10, 90.0)
        decode(expdir, f"student_seed{seed}", "decode_full_joint", metrics("full", "joint"), s_cer, 72.0)
        write(expdir / f"base_seed{seed}" / "train.log",
              "    Total Number of model parameters: 2.95 M\n"
              "x INFO: 20epoch results: [train] loss=1.0, total_count=4200, [valid] loss=2.0, total_count=380\n")
    write(expdir / "base_seed0" / "grid_run.json",
          json.dumps({"command": "./run.sh --seed 0", "hardware": "some CPU, 2 cores", "wall_seconds": 960,
                      "code": "0123456789ab"}))
    write(expdir / "student_seed0" / "grid_run.json",
          json.dumps({"command": "./run.sh --seed 0 --x", "hardware": "cpu", "wall_seconds": 60,
                      "code": "0123456789ab", "code_at_end": "ba9876543210+modified"}))
    spec = load_spec(spec_file)
    runs, missing = load_runs(spec, expdir)
    assert missing == [] and len(runs) == 4
    text = render_compare(spec, runs, missing, expdir)
    # at a glance: one CER table per set of settings decoded alike
    assert "| experiment | params (M) | seeds | full context (joint) | streaming 640 ms (attention_rescoring) |\n" \
           "|---|---|---|---|---|\n| base | 2.95 | 0,1 | 42.0 ± 2.8 | 52.0 ± 2.8 |\n" in text
    assert "| experiment | params (M) | seeds | full context (joint) |\n|---|---|---|---|\n| student | - | 0,1 | 37.0 ± 1.4 |" \
        in text
    assert "| base | 2.95 | 0,1 | test | full | - | - | joint | 42.0 ± 2.8 | 80.0 ± 0.0 | 0.100 | - | - | - |" in text
    assert "| base | 2.95 | 0,1 | test | streaming | 640 | all | attention_rescoring | 52.0 ± 2.8 | 90.0 ± 0.0 | 0.020 " \
           "| 12.8 | 670 | 1280 |" in text
    # student 37.0 vs base 42.0: -11.9 %, standard error sqrt(1.41^2 / 2 + (37 / 42)^2 2.83^2 / 2) / 42
    # = 4.8 %, Welch's t = -5 / sqrt(1 + 4) with 1.47 degrees of freedom: p = 0.20;
    # WER 72 vs 80: -10.0 %, no spread on either side, no test
    assert "### student: distilled" in text
    assert "| test | full | - | - | joint | 37.0 ± 1.4 | -11.9 ± 4.8 % (p = 0.20) | -10.0 ± 0.0 % |" in text
    assert "| base_seed0 | 4200 | 16.0 min | some CPU, 2 cores | 0123456789ab | `./run.sh --seed 0` |" in text
    assert "| student_seed0 | - | 1.0 min | cpu | 0123456789ab, at end ba9876543210+modified | `./run.sh --seed 0 --x` |" \
        in text
    assert "| student_seed1 | - | - | - | - | - |" in text


@pytest.mark.parametrize("values, base, cell", [
    ([38.0], [40.0, 42.0], "-7.3 %"),               # 5 % or more: one seed decides
    ([40.0], [40.0, 42.0], "-2.4 % (1 seed)"),      # under 5 % with one seed: not decided
    ([40.0, 41.0], [41.0], "-1.2 % (1 seed)"),
    # sqrt(0.5 / 2 + (40.5 / 41.5)^2 0.5 / 2) / 41.5; Welch: t = -1.41, 2 degrees of freedom
    ([40.0, 41.0], [41.0, 42.0], "-2.4 ± 1.7 % (p = 0.29)"),
    ([30.0, 30.4], [40.0, 40.6], "-25.1 ± 0.7 % (p < 0.01)"),
    ([], [41.0], "-"),
    ([1.0], [0.0], "-"),
])
def test_relative_change_says_whether_the_seeds_decide_it(values, base, cell):
    assert relative(values, base) == cell


@pytest.mark.parametrize("setting, with_test_set, label", [
    (("test", "full", 0.0, math.inf, "joint"), False, "full context (joint)"),
    (("test", "streaming", 640.0, math.inf, "attention_rescoring"), False, "streaming 640 ms (attention_rescoring)"),
    (("dev", "streaming", 320.0, 4.0, "ctc_greedy"), True, "dev: streaming 320 ms, 4 left chunks (ctc_greedy)"),
])
def test_setting_labels_name_mode_chunk_left_context_and_search(setting, with_test_set, label):
    assert setting_label(setting, with_test_set) == label


def finished_run(expdir: Path, tag: str) -> Path:
    """A run directory as the recipe leaves it: evidence plus what the records leave out."""
    run = expdir / tag
    decode(expdir, tag, "decode_full_joint", metrics("full", "joint"), 40.0, 80.0)
    for unit in ("score_cer", "score_wer"):
        score = run / "decode_full_joint" / "test" / unit
        write(score / "hyp.trn.sys", (score / "result.txt").read_text())
        write(score / "hyp.trn", "a b (spk-utt1)\n")
        write(score / "ref.trn", "a c (spk-utt1)\n")
    write(run / "decode_full_joint" / "test" / "text", "utt1 a b\n")
    write(run / "decode_full_joint" / "test" / "score_cer.log", "sclite log\n")
    write(run / "train.log", "    Total Number of model parameters: 2.95 M\n")
    write(run / "config.yaml", "encoder: durep\n")
    write(run / "valid.acc.ave.pth", "weights")
    write(run / "grid_run.json", json.dumps({"command": "./run.sh", "hardware": "cpu", "wall_seconds": 60}))
    return run


def test_archive_keeps_the_evidence_only_and_never_overwrites(tmp_path, capsys):
    expdir, records = tmp_path / "exp_grid", tmp_path / "records"
    spec_file = write(tmp_path / "grid.yaml", SPEC)
    archive = ["archive", "--spec", str(spec_file), "--expdir", str(expdir), "--records", str(records)]
    finished_run(expdir, "base_seed0")
    write(expdir / "student_seed0" / "train.log", "training")   # not finished: no grid_run.json
    assert _main(archive) == 0
    assert "base_seed0: archived in" in capsys.readouterr().out
    kept = sorted(str(p.relative_to(records)) for p in records.rglob("*") if p.is_file())
    test = "base_seed0/decode_full_joint/test"
    assert kept == sorted(["base_seed0/config.yaml", "base_seed0/grid_run.json", "base_seed0/train.log",
                           f"{test}/metrics.json"] + [f"{test}/{u}/{n}" for u in ("score_cer", "score_wer")
                                                      for n in ("hyp.trn", "hyp.trn.sys", "ref.trn")])
    # the records alone give the same comparison as the experiment directory
    spec = load_spec(spec_file)
    from_exp, from_records = load_runs(spec, expdir)[0][0], load_runs(spec, records)[0][0]
    assert [r.scores for r in from_records.results] == [r.scores for r in from_exp.results]
    assert from_records.params_m == 2.95 and from_records.record == from_exp.record
    write(expdir / "base_seed0" / "train.log", "changed")
    assert _main(archive) == 0 and capsys.readouterr().out == ""
    assert archive_run(expdir, records, "base_seed0") is None  # a record is never overwritten
    assert (records / "base_seed0" / "train.log").read_text().startswith("    Total")
    with pytest.raises(ValueError, match="student_seed0: no grid_run.json; the run has not finished"):
        archive_run(expdir, records, "student_seed0")
    assert not (records / "student_seed0").exists()
    (expdir / "base_seed1" / "decode_full_joint" / "test").mkdir(parents=True)  # decoded, not scored
    write(expdir / "base_seed1" / "decode_full_joint" / "test" / "metrics.json", "{}")
    (expdir / "base_seed1" / "decode_full_joint" / "test" / "score_cer").mkdir()
    write(expdir / "base_seed1" / "grid_run.json", "{}")
    assert _main(archive) == 1
    assert "score_cer: no sclite summary hyp.trn.sys" in capsys.readouterr().err
    assert not list(records.glob("*base_seed1*"))


def test_one_bad_run_does_not_keep_the_others_from_their_records(tmp_path, capsys):
    expdir, records = tmp_path / "exp_grid", tmp_path / "records"
    spec_file = write(tmp_path / "grid.yaml", SPEC)
    finished_run(expdir, "base_seed0")
    shutil.rmtree(expdir / "base_seed0" / "decode_full_joint" / "test" / "score_cer")
    shutil.rmtree(expdir / "base_seed0" / "decode_full_joint" / "test" / "score_wer")  # decoded, never scored
    finished_run(expdir, "base_seed1")
    assert _main(["archive", "--spec", str(spec_file), "--expdir", str(expdir), "--records", str(records)]) == 1
    out, err = capsys.readouterr()
    assert out == f"base_seed1: archived in {records / 'base_seed1'}\n"
    assert "base_seed0/decode_full_joint/test: decoded but not scored" in err and "not archived: base_seed0" in err
    assert sorted(p.name for p in records.iterdir()) == ["base_seed1"]


def test_a_student_record_keeps_the_teacher_it_distilled_from(tmp_path, capsys):
    """A teacher trained again for a student is another run than its own record: the student's
    record keeps that teacher's evidence, and the comparison does not count it as the student's."""
    expdir, records = tmp_path / "exp_grid", tmp_path / "records"
    spec_file = write(tmp_path / "grid.yaml", SPEC)
    finished_run(expdir, "base_seed0")
    finished_run(expdir, "student_seed0")
    write(expdir / "base_seed0" / "train.log", "    Total Number of model parameters: 9.99 M\n")  # the teacher
    write(records / "base_seed0" / "grid_run.json", "{}")  # recorded earlier: not archived again
    assert _main(["archive", "--spec", str(spec_file), "--expdir", str(expdir), "--records", str(records)]) == 0
    assert capsys.readouterr().out == f"student_seed0: archived in {records / 'student_seed0'}\n"
    teacher = records / "student_seed0" / "teacher"
    assert "9.99 M" in (teacher / "train.log").read_text()
    assert (teacher / "grid_run.json").is_file()
    assert (teacher / "decode_full_joint" / "test" / "score_cer" / "hyp.trn.sys").is_file()
    student = [r for r in load_runs(load_spec(spec_file), records)[0] if r.tag == "student_seed0"][0]
    assert student.params_m == 2.95 and len(student.results) == 1
    # a teacher without a finished run: the student is still archived, and that is said
    finished_run(expdir, "student_seed1")
    assert archive_run(expdir, records, "student_seed1", "base_seed1") == records / "student_seed1"
    assert "its teacher" in capsys.readouterr().err and not (records / "student_seed1" / "teacher").exists()


def test_a_resumed_run_keeps_every_attempt_log(tmp_path):
    """durep.sh keeps the log of each attempt before a resume as train.<n>.log: the facts come from
    all of them, and the archive keeps them all."""
    run = finished_run(tmp_path / "exp_grid", "base_seed0")
    write(run / "train.1.log", "    Total Number of model parameters: 2.95 M\n"
          "x INFO: 1epoch results: [train] loss=1.0, total_count=210, [valid] loss=2.0, total_count=19\n")
    write(run / "train.2.log", "x INFO: 2epoch results: [train] loss=1.0, total_count=420, [valid] loss=2.0\n")
    write(run / "train.log", "x INFO: The training was resumed using exp/checkpoint.pth\n")  # nothing left to train
    write(run / "train.x.log", "not an attempt")
    assert train_log_facts(run) == (2.95, 420)
    records = tmp_path / "records"
    archive_run(tmp_path / "exp_grid", records, "base_seed0")
    assert sorted(p.name for p in (records / "base_seed0").glob("train*.log")) == [
        "train.1.log", "train.2.log", "train.log"]
    assert train_log_facts(records / "base_seed0") == (2.95, 420)


def test_runs_table_sums_attempts(tmp_path):
    spec_file = write(tmp_path / "grid.yaml", SPEC)
    run = finished_run(tmp_path / "exp_grid", "base_seed0")
    write(run / "grid_run.json", json.dumps({"command": "./run.sh", "hardware": "cpu", "wall_seconds": 600,
                                             "attempts": 2, "code": "0123456789ab"}))
    spec = load_spec(spec_file)
    runs, missing = load_runs(spec, tmp_path / "exp_grid")
    text = render_compare(spec, runs, missing, tmp_path / "exp_grid")
    assert "| base_seed0 | - | 10.0 min (2 attempts) | cpu | 0123456789ab | `./run.sh` |" in text


def test_seeds_column_names_the_seeds_that_decoded_each_setting(tmp_path):
    spec_file = write(tmp_path / "grid.yaml", SPEC)
    expdir = tmp_path / "exp_grid"
    for seed in (0, 1):
        decode(expdir, f"base_seed{seed}", "decode_full_joint", metrics("full", "joint"), 40.0 + seed, 80.0)
    decode(expdir, "base_seed1", "decode_streaming_chunk16_left-1", metrics("streaming", "attention_rescoring", 640.0),
           50.0, 90.0)
    spec = load_spec(spec_file)
    text = render_compare(spec, *load_runs(spec, expdir), expdir)
    assert "| base | - | 0,1 | test | full | - | - | joint | 40.5 ± 0.7 |" in text
    assert "| base | - | 1 | test | streaming | 640 | all | attention_rescoring | 50.0 |" in text


def test_compare_refuses_to_average_seeds_that_ran_different_commands(tmp_path, capsys):
    """The seed aside, every seed of an experiment must have run the same command: a spec changed
    between seeds would otherwise be averaged into one row."""
    spec_file = write(tmp_path / "grid.yaml", SPEC)
    expdir = tmp_path / "exp_grid"
    command = "./run.sh --seed {s} --student_tag student_seed{s} --teacher_tag base_seed{s} --student_args --x\\ 1"
    for seed in (0, 1):
        decode(expdir, f"student_seed{seed}", "decode_full_joint", metrics("full", "joint"), 40.0, 80.0)
        write(expdir / f"student_seed{seed}" / "grid_run.json", json.dumps({"command": command.format(s=seed)}))
    spec = load_spec(spec_file)
    check_same_command(load_runs(spec, expdir)[0], expdir)  # the seed and the tags differ only
    write(expdir / "student_seed1" / "grid_run.json", json.dumps({"command": command.format(s=1) + "0"}))
    out = ["compare", "--spec", str(spec_file), "--expdir", str(expdir), "--out", str(tmp_path / "r.md")]
    assert _main(out) == 1
    err = capsys.readouterr().err
    assert "student_seed0/grid_run.json and " in err and "the seeds of student ran different commands" in err
    assert not (tmp_path / "r.md").exists()
    write(expdir / "student_seed1" / "grid_run.json", "{")
    assert _main(out) == 1 and "student_seed1/grid_run.json: not valid JSON" in capsys.readouterr().err


def test_compare_cli_lists_runs_not_done_and_fails_on_none(tmp_path, capsys):
    spec_file = write(tmp_path / "grid.yaml", SPEC)
    expdir = tmp_path / "exp_grid"
    assert _main(["compare", "--spec", str(spec_file), "--expdir", str(expdir), "--out", str(tmp_path / "r.md")]) == 1
    assert "no decoded run" in capsys.readouterr().err
    decode(expdir, "base_seed0", "decode_full_joint", metrics("full", "joint"), 40.0, 80.0)
    assert _main(["compare", "--spec", str(spec_file), "--expdir", str(expdir), "--out", str(tmp_path / "r.md")]) == 0
    assert "Not run yet: student_seed0, student_seed1, base_seed1." in (tmp_path / "r.md").read_text()


def _grid_rows():
    for spec_file in GRID_SPECS:
        spec = load_spec(spec_file)
        for e in spec.experiments:
            yield pytest.param(spec_file.parents[1], spec, e, id=f"{spec_file.parents[2].name}:{e.name}")


@pytest.mark.parametrize("recipe, spec, experiment", list(_grid_rows()))
def test_shipped_grid_rows_build_their_models(recipe, spec, experiment, tmp_path):
    """Each row's config plus its command-line overrides parses and builds (tiny token list)."""
    for f in (experiment.config, experiment.inference_config):
        assert f is None or (recipe / f).is_file(), f
    tokens = write(tmp_path / "tokens.txt", "\n".join(["<blank>", "<unk>", "a", "b", "<sos/eos>"]) + "\n")
    overrides = shlex.split(f"{spec.common_args} {experiment.args}")
    args = DurepTask.get_parser().parse_args(["--config", str(recipe / experiment.config), "--token_list", str(tokens),
                                              "--collect_stats", "true", *overrides])
    args.normalize = None
    torch.manual_seed(0)
    model = DurepTask.build_model(args)
    assert sum(p.numel() for p in model.parameters()) > 0
    if experiment.teacher:  # a distilled row must actually have a KD term to train
        conf = args.model_conf
        assert any(float(conf.get(k, 0)) > 0 for k in conf if k.startswith("teacher_") and k.endswith("_weight"))
    best = yaml.safe_load((recipe / experiment.config).read_text())["best_model_criterion"][0][1]
    assert (experiment.inference_model or "valid.acc.ave.pth") == f"valid.{best}.ave.pth"
