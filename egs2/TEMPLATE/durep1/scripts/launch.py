#!/usr/bin/env python3
"""Run a command as one job or as an array of jobs, locally or on Slurm, one log per job.

    launch.py [options] [JOB=1:N] LOG COMMAND [ARG ...]

With ``JOB=1:N`` the command runs N times; the word ``JOB`` in LOG and in every ARG is
replaced by the job number (``logdir/decode.JOB.log`` -> ``logdir/decode.3.log``). Each
log starts with the exact command and ends with its exit code. If any job fails, the
exit status is 1 and the failing logs are named (with their last lines) on stderr.

Backends (``--backend``, default from ``$DUREP_BACKEND`` as set by the recipe's cmd.sh):

* ``local``: jobs run on this machine, at most ``--max_parallel`` at once.
* ``slurm``: each job is submitted with ``sbatch --wait`` (the job's output goes to LOG);
  ``--gpu N`` adds ``--gres=gpu:N`` and uses ``--gpu_partition`` instead of ``--partition``.

Options (each also read from the environment variable shown):
  --backend local|slurm     $DUREP_BACKEND (default local)
  --max_parallel K          $DUREP_MAX_PARALLEL (default: all jobs at once)
  --gpu N                   GPUs per job (default 0)
  --partition P             $DUREP_SLURM_PARTITION: Slurm partition for CPU jobs
  --gpu_partition P         $DUREP_SLURM_GPU_PARTITION: Slurm partition for GPU jobs
  --slurm_opts "OPTS"       $DUREP_SLURM_OPTS: extra sbatch options, e.g. "--time 2-0 --mem 16G"
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

JOB_WORD = re.compile(r"\bJOB\b")
TAIL_LINES = 10

OPTION_ENV = {
    "backend": ("DUREP_BACKEND", "local"),
    "max_parallel": ("DUREP_MAX_PARALLEL", "0"),
    "gpu": (None, "0"),
    "partition": ("DUREP_SLURM_PARTITION", ""),
    "gpu_partition": ("DUREP_SLURM_GPU_PARTITION", ""),
    "slurm_opts": ("DUREP_SLURM_OPTS", ""),
}


@dataclass
class Request:
    """A parsed command line: options, job range, log path template and command words."""

    options: Dict[str, str]
    first_job: Optional[int]
    last_job: Optional[int]
    log: str
    command: List[str]

    def jobs(self) -> List[Optional[int]]:
        return [None] if self.first_job is None else list(range(self.first_job, self.last_job + 1))


def parse_args(argv: Sequence[str]) -> Request:
    argv = list(argv)
    options = {name: os.environ.get(env, default) if env else default
               for name, (env, default) in OPTION_ENV.items()}
    while argv and argv[0].startswith("--"):
        name = argv.pop(0)[2:]
        if name not in options:
            raise ValueError(f"unknown option --{name} (known: {', '.join('--' + n for n in options)})")
        if not argv:
            raise ValueError(f"option --{name} needs a value")
        options[name] = argv.pop(0)
    if options["backend"] not in ("local", "slurm"):
        raise ValueError(f"--backend must be local or slurm, got '{options['backend']}'")
    first = last = None
    if argv and argv[0].startswith("JOB="):
        match = re.fullmatch(r"JOB=(\d+):(\d+)", argv.pop(0))
        if not match or int(match.group(1)) > int(match.group(2)):
            raise ValueError("job range must look like JOB=1:N with 1 <= N")
        first, last = int(match.group(1)), int(match.group(2))
    if len(argv) < 2:
        raise ValueError("usage: launch.py [options] [JOB=1:N] LOG COMMAND [ARG ...]")
    log, command = argv[0], argv[1:]
    if first is not None and not JOB_WORD.search(log):
        raise ValueError(f"with JOB=1:N the log path must contain JOB, got {log}")
    return Request(options, first, last, log, command)


def _substitute(word: str, job: Optional[int]) -> str:
    return word if job is None else JOB_WORD.sub(str(job), word)


def job_script(command: Sequence[str]) -> str:
    """Bash script that logs the command, runs it, and logs its exit code."""
    quoted = shlex.join(command)
    return (f"set -o pipefail; echo {shlex.quote('# ' + quoted)}; echo \"# started $(date)\"; "
            f"{quoted}; rc=$?; echo \"# finished $(date) with exit code $rc\"; exit $rc")


def backend_argv(options: Dict[str, str], script: str, log: Path, name: str) -> List[str]:
    """The process that runs ``script`` for one job."""
    if options["backend"] == "local":
        return ["bash", "-c", script]
    gpus = int(options["gpu"])
    partition = options["gpu_partition"] if gpus > 0 else options["partition"]
    argv = ["sbatch", "--wait", "--job-name", name, "--output", str(log)]
    if partition:
        argv += ["--partition", partition]
    if gpus > 0:
        argv += [f"--gres=gpu:{gpus}"]
    argv += shlex.split(options["slurm_opts"])
    return argv + ["--wrap", script]


def run_one(request: Request, job: Optional[int]) -> int:
    log = Path(_substitute(request.log, job))
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [_substitute(word, job) for word in request.command]
    argv = backend_argv(request.options, job_script(command), log, name=log.stem)
    if request.options["backend"] == "local":
        with open(log, "w", encoding="utf-8") as f:
            return subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
    log.unlink(missing_ok=True)
    return subprocess.run(argv, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL).returncode


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "    (log not written)"
    return "\n".join("    " + line for line in lines[-TAIL_LINES:])


def launch(request: Request) -> int:
    """Run every job; 0 if all succeeded, else 1 after naming the failing logs."""
    jobs = request.jobs()
    parallel = int(request.options["max_parallel"]) or len(jobs)
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(jobs)))) as pool:
        codes = list(pool.map(lambda job: run_one(request, job), jobs))
    failed = [(job, code) for job, code in zip(jobs, codes) if code != 0]
    for job, code in failed:
        log = Path(_substitute(request.log, job))
        print(f"launch.py: job {job if job is not None else ''} failed with exit code {code}, "
              f"see {log}:\n{_tail(log)}", file=sys.stderr)
    if failed:
        print(f"launch.py: {len(failed)} of {len(jobs)} jobs failed; first failing log: "
              f"{_substitute(request.log, failed[0][0])}", file=sys.stderr)
        return 1
    return 0


def _main(argv: Sequence[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 1
    try:
        request = parse_args(argv)
    except ValueError as e:
        print(f"launch.py: ERROR: {e}", file=sys.stderr)
        return 2
    return launch(request)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
