"""launch.py: JOB=1:N substitution, per-job logs, failures named, Slurm submission."""
from __future__ import annotations

import os
import stat
import subprocess
import sys


def run_launch(scripts_dir, *args, env=None):
    return subprocess.run([sys.executable, str(scripts_dir / "launch.py"), *args], capture_output=True,
                          text=True, env={**os.environ, "DUREP_BACKEND": "local", **(env or {})})


def test_jobs_get_their_number_and_a_log_each(scripts_dir, tmp_path):
    out = tmp_path / "out"
    done = run_launch(scripts_dir, "JOB=1:3", str(tmp_path / "log" / "x.JOB.log"),
                      "bash", "-c", f"mkdir -p {out} && echo job JOB says 'a b' > {out}/JOB.txt")
    assert done.returncode == 0, done.stderr
    for job in (1, 2, 3):
        assert (out / f"{job}.txt").read_text() == f"job {job} says a b\n"
        log = (tmp_path / "log" / f"x.{job}.log").read_text()
        assert log.startswith(f"# bash -c 'mkdir -p {out} && echo job {job} says")
        assert log.rstrip().endswith("with exit code 0")


def test_failing_job_makes_launch_fail_and_names_its_log(scripts_dir, tmp_path):
    done = run_launch(scripts_dir, "JOB=1:3", str(tmp_path / "x.JOB.log"),
                      "bash", "-c", "echo trouble in JOB; [ JOB != 2 ]")
    assert done.returncode == 1
    assert f"see {tmp_path / 'x.2.log'}" in done.stderr
    assert "trouble in 2" in done.stderr  # tail of the failing log
    assert "1 of 3 jobs failed" in done.stderr
    assert "with exit code 1" in (tmp_path / "x.2.log").read_text()
    assert "with exit code 0" in (tmp_path / "x.3.log").read_text()


def test_single_job_and_argument_quoting(scripts_dir, tmp_path):
    done = run_launch(scripts_dir, str(tmp_path / "one.log"), sys.executable, "-c",
                      "import sys; print(sys.argv[1:])", "two words", "$HOME")
    assert done.returncode == 0
    assert "['two words', '$HOME']" in (tmp_path / "one.log").read_text()


def test_usage_errors(scripts_dir, tmp_path):
    assert "log path must contain JOB" in run_launch(scripts_dir, "JOB=1:2", str(tmp_path / "x.log"), "true").stderr
    assert "unknown option --bogus" in run_launch(scripts_dir, "--bogus", "1", str(tmp_path / "x.log"), "true").stderr
    assert run_launch(scripts_dir, "JOB=3:1", str(tmp_path / "x.JOB.log"), "true").returncode == 2


def test_slurm_backend_submits_each_job_with_sbatch_wait(scripts_dir, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake = bin_dir / "sbatch"  # records its arguments, then runs --wrap like Slurm would
    fake.write_text(f"""#!/usr/bin/env bash
echo "$@" >> {calls}
out=""; while [ $# -gt 0 ]; do case "$1" in --output) out="$2"; shift 2;; --wrap) script="$2"; shift 2;; *) shift;; esac; done
bash -c "$script" > "$out" 2>&1
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "DUREP_BACKEND": "slurm",
           "DUREP_SLURM_GPU_PARTITION": "gpuq", "DUREP_SLURM_OPTS": "--time 1:00:00"}
    done = run_launch(scripts_dir, "--gpu", "2", "JOB=1:2", str(tmp_path / "t.JOB.log"), "echo", "hi", "JOB", env=env)
    assert done.returncode == 0, done.stderr
    lines = sorted(calls.read_text().splitlines())
    assert len(lines) == 2
    assert lines[0].startswith(f"--wait --job-name t.1 --output {tmp_path / 't.1.log'} --partition gpuq "
                               f"--gres=gpu:2 --time 1:00:00 --wrap")
    assert "hi 2" in (tmp_path / "t.2.log").read_text()
