"""options.sh: --name value parsing, --help with defaults, clear errors."""
from __future__ import annotations

import subprocess

SCRIPT = """
set -euo pipefail
. {options}
durep_usage="Usage: demo [options]"
durep_opt stage 1 "first stage"
durep_opt test_sets "" "evaluation sets"
durep_opt stop_stage 13 "last stage"
durep_parse_opts "$@"
echo "stage=<$stage> test_sets=<$test_sets> stop_stage=<$stop_stage>"
"""


def run(scripts_dir, *args):
    return subprocess.run(["bash", "-c", SCRIPT.format(options=scripts_dir / "options.sh"), "demo", *args],
                          capture_output=True, text=True)


def test_defaults_and_overrides(scripts_dir):
    assert run(scripts_dir).stdout.strip() == "stage=<1> test_sets=<> stop_stage=<13>"
    done = run(scripts_dir, "--stage", "3", "--test_sets", "a b", "--stop-stage=5")
    assert done.stdout.strip() == "stage=<3> test_sets=<a b> stop_stage=<5>"
    assert run(scripts_dir, "--test_sets", "").stdout.strip() == "stage=<1> test_sets=<> stop_stage=<13>"


def test_help_lists_every_option_with_its_default(scripts_dir):
    done = run(scripts_dir, "--help")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0] == "Usage: demo [options]"
    assert any(line.split() == ["--stage", "first", "stage", "[1]"] for line in lines)
    assert any(line.split() == ["--stop_stage", "last", "stage", "[13]"] for line in lines)
    assert any(line.split() == ["--test_sets", "evaluation", "sets", "[]"] for line in lines)


def test_errors_name_the_problem(scripts_dir):
    assert "unknown option --nope" in run(scripts_dir, "--nope", "1").stderr
    assert "option --stage needs a value" in run(scripts_dir, "--stage").stderr
    assert "unexpected argument 'extra'" in run(scripts_dir, "extra").stderr
    assert run(scripts_dir, "--nope", "1").returncode == 2
