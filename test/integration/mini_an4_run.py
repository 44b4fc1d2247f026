"""Run a mini_an4 recipe script end to end with its experiment and dump directories elsewhere."""
import shutil
import subprocess
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[2] / "egs2" / "mini_an4" / "durep1"


def run_mini_an4(script: str, out: Path, *extra: str) -> Path:
    """``RECIPE/script --expdir out/exp --dumpdir out/dump *extra``; returns the exp dir (log in out/run.log)."""
    if shutil.which("sclite") is None and not Path("/usr/lib/sctk/bin/sclite").exists():
        pytest.skip("sclite (Debian package sctk) is not installed; tools/setup.sh installs it")
    cmd = [f"./{script}", "--expdir", str(out / "exp"), "--dumpdir", str(out / "dump"), *extra]
    proc = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, timeout=1800)
    (out / "run.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return out / "exp"
