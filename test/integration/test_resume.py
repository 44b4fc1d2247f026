"""A training run killed with SIGKILL in the middle of an epoch resumes from its last
checkpoint: the second run of the same stage skips the finished epochs and ends with the
configured number of epochs (mini_an4 teacher, 3 epochs), and the killed attempt's log is kept."""
import os
import signal
import subprocess
import time

import pytest

from mini_an4_run import RECIPE, run_mini_an4


def test_sigkill_mid_epoch_then_resume(tmp_path):
    exp = run_mini_an4("run.sh", tmp_path, "--stop_stage", "6")
    stage7 = ["./run.sh", "--expdir", str(exp), "--dumpdir", str(tmp_path / "dump"), "--stage", "7",
              "--stop_stage", "7", "--teacher_args", "--max_epoch 3"]
    log = exp / "teacher" / "train.log"
    proc = subprocess.Popen(stage7, cwd=RECIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and "2/3epoch started" in log.read_text(errors="replace"):
            break
        time.sleep(0.02)
    else:
        pytest.fail(f"epoch 2 never started (exit code {proc.poll()}); see {log}")
    os.killpg(proc.pid, signal.SIGKILL)  # the recipe, the launcher and the trainer
    proc.wait()
    killed = log.read_text(errors="replace")
    assert "1epoch results" in killed and "2epoch results" not in killed  # killed inside epoch 2
    assert (exp / "teacher" / "checkpoint.pth").exists()

    done = subprocess.run(stage7, cwd=RECIPE, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    resumed = log.read_text(errors="replace")
    assert (exp / "teacher" / "train.1.log").read_text(errors="replace") == killed  # the first attempt's log is kept
    assert "The training was resumed using" in resumed
    assert "1epoch results" not in resumed  # epoch 1 was not trained again
    assert "2epoch results" in resumed and "3epoch results" in resumed
    assert (exp / "teacher" / "3epoch.pth").exists() and (exp / "teacher" / "valid.acc.ave.pth").exists()
