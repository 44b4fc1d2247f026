#!/usr/bin/env python3
"""Experiment grid of a recipe: the plan a runner executes, and the comparison it yields.

    python -m espnet_durep.bin.grid plan --spec conf/grid.yaml [--only NAME ...] [--seeds 0 1] \
        [--expdir exp_grid --records grid_records]
    python -m espnet_durep.bin.grid archive --spec conf/grid.yaml --expdir exp_grid --records grid_records
    python -m espnet_durep.bin.grid compare --spec conf/grid.yaml --expdir grid_records --out RESULTS_grid.md

The spec (YAML) names every experiment once::

    seeds: [0, 1]                  # every experiment is trained once per seed (default: [0])
    common_args: --max_epoch 20    # training options of every experiment
    experiments:
      - name: full_only            # experiment tag <name>_seed<seed>
        config: conf/train.yaml    # training YAML
        args: --model_conf mode_schedule=full   # its own training options (optional)
        teacher: other_name        # optional: distil from <other_name>_seed<seed>
        inference_config: conf/decode.yaml      # optional: decoding YAML
        inference_model: valid.loss.ave.pth     # optional: checkpoint decoded (and distilled from)
        full_searches: attention_rescoring joint  # optional: full-context searches
        compare_to: [a, b]         # optional: baselines of the comparison table
        seeds: [0, 1, 2]           # optional: this experiment's seeds instead of the spec's; a
                                   # teacher needs every seed of its students
        claim: one line            # optional: what the row tests

``plan`` prints one tab-separated line per run, teachers before their students:
``tag, name, seed, config, teacher tag, training args, inference config, inference model,
full searches`` ("-": not given). With ``--expdir`` and ``--records`` it leaves out the runs
already done: those with a ``grid_run.json`` in either, except a teacher whose checkpoint is
needed by a run still to do and is not in ``--expdir`` (it is trained again).

``archive`` copies the evidence of every run of the spec finished in the experiment directory and
not yet recorded into the records directory, which is small enough to keep under version control: ``grid_run.json``,
``config.yaml``, ``train.log`` (and ``train.<n>.log`` of the attempts before a resume) and, per decoding, ``metrics.json`` and each ``score_*``'s
sclite summary (``hyp.trn.sys``) and hypotheses/references (``hyp.trn``, ``ref.trn``); a student's
record also holds the same evidence of the teacher run it distilled from, in ``teacher/``. A record
is never overwritten: it is the evidence of the run that produced it.

``compare`` reads each run's decodings (``<expdir>/<tag>/decode_*/<test>/``, as in
:mod:`espnet_durep.bin.make_results`; an experiment or a records directory), its training logs (parameters, updates) and the
``grid_run.json`` the runner wrote (command, hardware, wall time, code commit). It writes Markdown: the
grid (experiment x test set x mode x chunk x left context x search, mean and spread over
seeds; first at a glance, CER only), the relative change of every experiment against each of
its baselines on the settings both decoded, and the runs.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml
from scipy import stats

from espnet_durep.bin.make_results import DecodeResult, collect

EXPERIMENT_KEYS = {"name", "config", "args", "teacher", "inference_config", "inference_model", "full_searches",
                   "compare_to", "claim", "seeds"}
SPEC_KEYS = {"seeds", "common_args", "experiments"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PARAMS = re.compile(r"Total Number of model parameters: ([0-9.]+) ([KMG]?)")
UPDATES = re.compile(r"epoch results: \[train\].*?total_count=(\d+)")
SCALE = {"": 1e-6, "K": 1e-3, "M": 1.0, "G": 1e3}
RECORD = "grid_run.json"  # written by the runner when a run has trained, decoded and scored
RUN_EVIDENCE = (RECORD, "config.yaml", "train.log")
EARLIER_TRAIN_LOG = re.compile(r"train\.(\d+)\.log")  # attempt n before a resume (durep.sh)
SCORE_EVIDENCE = ("hyp.trn.sys", "hyp.trn", "ref.trn")
RECIPE_INFERENCE_MODEL = "valid.acc.ave.pth"  # durep.sh's --inference_model when a spec names none
TEACHER_EVIDENCE = "teacher"  # records/<student>/teacher/: the teacher run it distilled from


@dataclass
class Experiment:
    name: str
    config: str
    args: str = ""
    teacher: Optional[str] = None
    inference_config: Optional[str] = None
    inference_model: Optional[str] = None
    full_searches: Optional[str] = None
    compare_to: List[str] = field(default_factory=list)
    claim: str = ""
    seeds: List[int] = field(default_factory=lambda: [0])

    def tag(self, seed: int) -> str:
        return f"{self.name}_seed{seed}"

    def teacher_tag(self, seed: int) -> Optional[str]:
        """The run of the teacher this experiment distils from with ``seed``; None without one."""
        return f"{self.teacher}_seed{seed}" if self.teacher else None


@dataclass
class Spec:
    seeds: List[int]
    common_args: str
    experiments: List[Experiment]

    def by_name(self) -> Dict[str, Experiment]:
        return {e.name: e for e in self.experiments}

    def all_seeds(self) -> List[int]:
        """Every seed some experiment is trained with, the spec's first."""
        seeds = list(self.seeds)
        for e in self.experiments:
            seeds += [s for s in e.seeds if s not in seeds]
        return seeds


def check_seeds(seeds: object, where: str) -> List[int]:
    if not isinstance(seeds, list) or not seeds or not all(type(s) is int for s in seeds) \
            or len(set(seeds)) != len(seeds):
        raise ValueError(f"{where}: 'seeds' must be a non-empty list of distinct integers, got {seeds!r}")
    return seeds


def load_spec(path: Path) -> Spec:
    """Read and check a grid spec; errors name the file and the experiment."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("experiments"), list) or not raw["experiments"]:
        raise ValueError(f"{path}: needs a non-empty 'experiments' list")
    unknown = set(raw) - SPEC_KEYS
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)} (known: {sorted(SPEC_KEYS)})")
    seeds = check_seeds(raw.get("seeds", [0]), str(path))
    experiments = []
    for i, item in enumerate(raw["experiments"]):
        where = f"{path}: experiment {i + 1}"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: must be a mapping")
        unknown = set(item) - EXPERIMENT_KEYS
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(EXPERIMENT_KEYS)})")
        for key in ("name", "config"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise ValueError(f"{where}: '{key}' is required")
        if not NAME.match(item["name"]):
            raise ValueError(f"{where}: name {item['name']!r} must be letters, digits, '_', '.', '-'")
        compare_to = item.get("compare_to", [])
        if not isinstance(compare_to, list):
            raise ValueError(f"{where} ({item['name']}): 'compare_to' must be a list of experiment names")
        experiments.append(Experiment(
            name=item["name"], config=item["config"], args=str(item.get("args") or ""),
            teacher=item.get("teacher"), inference_config=item.get("inference_config"),
            inference_model=item.get("inference_model"),
            full_searches=item.get("full_searches"), compare_to=[str(c) for c in compare_to],
            claim=str(item.get("claim") or ""),
            seeds=check_seeds(item["seeds"], f"{where} ({item['name']})") if "seeds" in item else list(seeds)))
    names = [e.name for e in experiments]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: experiment names used twice: {duplicates}")
    for e in experiments:
        for ref in ([e.teacher] if e.teacher else []) + e.compare_to:
            if ref not in names:
                raise ValueError(f"{path}: experiment {e.name} names '{ref}', which is not an experiment")
            if ref == e.name:
                raise ValueError(f"{path}: experiment {e.name} names itself as teacher or baseline")
    spec = Spec(seeds=seeds, common_args=str(raw.get("common_args") or ""), experiments=experiments)
    for e in experiments:
        teacher = spec.by_name().get(e.teacher)
        if teacher is not None and not set(e.seeds) <= set(teacher.seeds):
            raise ValueError(f"{path}: experiment {e.name} has seeds {e.seeds}, but its teacher {teacher.name} "
                             f"only {teacher.seeds}: each seed distils from the teacher's run of that seed")
        if teacher is not None and e.inference_model != teacher.inference_model:
            raise ValueError(f"{path}: experiment {e.name} distils from {teacher.name}'s checkpoint "
                             f"{e.inference_model or RECIPE_INFERENCE_MODEL} (the recipe takes the teacher's "
                             f"checkpoint by the student's inference_model), but {teacher.name} is decoded "
                             f"with {teacher.inference_model or RECIPE_INFERENCE_MODEL}: give both the same")
    run_order(spec, spec.experiments)  # rejects teacher cycles
    return spec


def run_order(spec: Spec, wanted: Sequence[Experiment]) -> List[Experiment]:
    """``wanted`` and the teachers they need, every teacher before its students."""
    by_name = spec.by_name()
    order: List[Experiment] = []
    visiting: List[str] = []

    def visit(e: Experiment) -> None:
        if e in order:
            return
        if e.name in visiting:
            raise ValueError(f"teacher cycle: {' -> '.join(visiting + [e.name])}")
        visiting.append(e.name)
        if e.teacher:
            visit(by_name[e.teacher])
        visiting.pop()
        order.append(e)

    for e in wanted:
        visit(e)
    return order


def planned_runs(spec: Spec, only: Sequence[str] = (), seeds: Optional[Sequence[int]] = None
                 ) -> List[Tuple[Experiment, int]]:
    """(experiment, seed) of every run asked for (each experiment with its seeds), per seed
    teachers before their students. An experiment named in `only` must have every seed asked for."""
    by_name = spec.by_name()
    unknown = [n for n in only if n not in by_name]
    if unknown:
        raise ValueError(f"--only: unknown experiments {unknown} (known: {list(by_name)})")
    outside = [s for s in seeds or [] if s not in spec.all_seeds()]
    if outside:
        raise ValueError(f"--seeds: {outside} not in the spec's seeds {spec.all_seeds()} "
                         "(archive and compare read only those; add them to the spec)")
    wanted = [by_name[n] for n in only] if only else spec.experiments
    lacking = [f"{e.name} (seeds {e.seeds})" for e in wanted if any(s not in e.seeds for s in seeds or [])]
    if only and lacking:
        raise ValueError(f"--only with --seeds {list(seeds)}: not every seed is in the 'seeds' of "
                         f"{', '.join(lacking)}; add it there to run it")
    return [(e, seed) for seed in (seeds if seeds is not None else spec.all_seeds())
            for e in run_order(spec, [w for w in wanted if seed in w.seeds])]


def runs_to_do(runs: Sequence[Tuple[Experiment, int]], expdir: Path, records: Path
               ) -> Tuple[List[Tuple[Experiment, int]], List[str]]:
    """The runs not done yet, and one note per run left out or trained again.

    A run is done when ``grid_run.json`` is in ``expdir/<tag>`` or ``records/<tag>``. A teacher
    that is done only in ``records`` (its checkpoint is not in ``expdir``) is trained again when
    a run still to do distils from it."""
    todo: List[Tuple[Experiment, int]] = []
    notes: List[str] = []
    teachers_needed = set()
    for e, seed in reversed(runs):  # students before their teachers
        tag = e.tag(seed)
        here, recorded = (expdir / tag / RECORD).is_file(), (records / tag / RECORD).is_file()
        if here or (recorded and tag not in teachers_needed):
            notes.append(f"{tag}: done before ({(expdir if here else records) / tag / RECORD}), skipped")
            continue
        if recorded:
            notes.append(f"{tag}: recorded in {records}, trained again: a run to do distils from its checkpoint")
        todo.append((e, seed))
        if e.teacher:
            teachers_needed.add(e.teacher_tag(seed))
    return todo[::-1], notes[::-1]


def plan_lines(spec: Spec, runs: Sequence[Tuple[Experiment, int]]) -> List[str]:
    lines = []
    for e, seed in runs:
        args = " ".join(a for a in (spec.common_args, e.args) if a)
        fields = [e.tag(seed), e.name, str(seed), e.config, e.teacher_tag(seed) or "-",
                  args or "-", e.inference_config or "-", e.inference_model or "-", e.full_searches or "-"]
        bad = [f for f in fields if "\t" in f or "\n" in f]
        if bad:
            raise ValueError(f"experiment {e.name}: tabs or newlines in {bad}")
        lines.append("\t".join(fields))
    return lines


# ---------------------------------------------------------------------- archive
def evidence_files(run_dir: Path) -> List[Path]:
    """The files of a finished run that ``archive`` keeps, relative to ``run_dir``."""
    if not (run_dir / RECORD).is_file():
        raise ValueError(f"{run_dir}: no {RECORD}; the run has not finished (the runner writes it last)")
    files = [Path(n) for n in RUN_EVIDENCE if (run_dir / n).is_file()]
    files += [p.relative_to(run_dir) for p in train_logs(run_dir)[:-1]]
    for metrics in sorted(run_dir.glob("decode_*/*/metrics.json")):
        files.append(metrics.relative_to(run_dir))
        score_dirs = sorted(d for d in metrics.parent.glob("score_*") if d.is_dir())
        if not score_dirs:
            raise ValueError(f"{metrics.parent}: decoded but not scored, no score_* (run the scoring stage)")
        for score_dir in score_dirs:
            if not (score_dir / SCORE_EVIDENCE[0]).is_file():
                raise ValueError(f"{score_dir}: no sclite summary {SCORE_EVIDENCE[0]} (run the scoring stage)")
            files += [p.relative_to(run_dir) for n in SCORE_EVIDENCE if (p := score_dir / n).is_file()]
    if not any(f.name == "metrics.json" for f in files):
        raise ValueError(f"{run_dir}: no decode_*/<test>/metrics.json; nothing to archive")
    return files


def archive_run(expdir: Path, records: Path, tag: str, teacher: Optional[str] = None) -> Optional[Path]:
    """Copy the evidence of ``expdir/tag`` to ``records/tag``; None if already recorded.

    With ``teacher`` (its tag), the evidence of the teacher it distilled from, the finished run in
    ``expdir/<teacher>``, goes to ``records/tag/teacher/``: a teacher trained again for this
    student is not the run recorded under its own tag."""
    dst = records / tag
    if (dst / RECORD).is_file():
        return None
    sources = [(expdir / tag, Path())]
    if teacher is not None:
        if (expdir / teacher / RECORD).is_file():
            sources.append((expdir / teacher, Path(TEACHER_EVIDENCE)))
        else:
            print(f"{tag}: its teacher {expdir / teacher} has no finished run; "
                  "the record keeps no teacher evidence", file=sys.stderr)
    copies = [(src / f, sub / f) for src, sub in sources for f in evidence_files(src)]
    partial = records / f".{tag}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    for src, rel in copies:
        (partial / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, partial / rel)
    shutil.rmtree(dst, ignore_errors=True)  # a record without grid_run.json is an interrupted copy
    partial.rename(dst)
    return dst


# ---------------------------------------------------------------------- compare
Setting = Tuple[str, str, float, float, str]  # test set, mode, chunk ms, left chunks (inf: all), search


def setting_of(r: DecodeResult) -> Setting:
    m = r.metrics
    left = m.get("num_left_chunks")
    return (r.test_set, m["decode_mode"], m.get("chunk_ms") or 0.0,
            math.inf if left is None or left < 0 else float(left), m.get("search") or "-")


def setting_cells(s: Setting) -> List[str]:
    test_set, mode, chunk, left, search = s
    if mode == "full":
        return [test_set, "full", "-", "-", search]
    return [test_set, mode, f"{chunk:.0f}", "all" if math.isinf(left) else f"{left:.0f}", search]


def setting_label(s: Setting, with_test_set: bool) -> str:
    """A setting as a column header: ``full context (joint)``, ``streaming 640 ms (attention_rescoring)``."""
    test_set, mode, chunk, left, search = s
    where = "full context" if mode == "full" else f"{mode} {chunk:.0f} ms" + (
        "" if math.isinf(left) else f", {left:.0f} left chunks")
    return (f"{test_set}: " if with_test_set else "") + f"{where} ({search})"


@dataclass
class Cell:
    """One experiment, one setting: the values of its seeds."""

    seeds: List[int] = field(default_factory=list)
    cer: List[float] = field(default_factory=list)
    wer: List[float] = field(default_factory=list)
    rtf: List[float] = field(default_factory=list)
    alg_latency: List[float] = field(default_factory=list)
    delay: List[float] = field(default_factory=list)
    compute_per_chunk: List[float] = field(default_factory=list)


def mean(values: Sequence[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def spread(values: Sequence[float]) -> Optional[float]:
    """Sample standard deviation (None below 2 values)."""
    if len(values) < 2:
        return None
    mu = sum(values) / len(values)
    return math.sqrt(sum((v - mu) ** 2 for v in values) / (len(values) - 1))


def mean_cell(values: Sequence[float], pattern: str = "{:.1f}", with_spread: bool = False) -> str:
    """The mean, and with ``with_spread`` `` ± `` the sample standard deviation of 2+ values."""
    mu, sd = mean(values), spread(values) if with_spread else None
    if mu is None:
        return "-"
    return pattern.format(mu) + ("" if sd is None else " ± " + pattern.format(sd))


DECIDED_RELATIVE_CHANGE = 5.0  # %: a smaller change needs two or more seeds on both sides


def welch_p(values: Sequence[float], base_values: Sequence[float]) -> Optional[float]:
    """Two-sided p-value of Welch's t-test that the two means are equal; None where it is
    undefined (a side with one value, or no spread on either side)."""
    if len(values) < 2 or len(base_values) < 2:
        return None
    v_a, v_b = spread(values) ** 2 / len(values), spread(base_values) ** 2 / len(base_values)
    if v_a + v_b == 0:
        return None
    t = (mean(values) - mean(base_values)) / math.sqrt(v_a + v_b)
    # Welch-Satterthwaite degrees of freedom
    dof = (v_a + v_b) ** 2 / (v_a ** 2 / (len(values) - 1) + v_b ** 2 / (len(base_values) - 1))
    return float(2.0 * stats.t.sf(abs(t), dof))


def relative(values: Sequence[float], base_values: Sequence[float]) -> str:
    """(a - b) / b in % of the means a, b of ``values`` and ``base_values``.

    Where both sides have 2+ seeds: `` ± e``, its standard error by the delta method,
    sqrt(s_a^2 / n_a + (a / b)^2 s_b^2 / n_b) / b, and ``(p = P)``, Welch's two-sided t-test.
    Where a side has a single seed and the change is under 5 %: `` (1 seed)``, not decided."""
    value, base = mean(values), mean(base_values)
    if value is None or base is None or base == 0:
        return "-"
    change = 100.0 * (value - base) / base
    sd, base_sd = spread(values), spread(base_values)
    if sd is not None and base_sd is not None:
        variance = sd ** 2 / len(values) + (value / base) ** 2 * base_sd ** 2 / len(base_values)
        cell = f"{change:+.1f} ± {100.0 * math.sqrt(variance) / base:.1f} %"
        p = welch_p(values, base_values)
        return cell + ("" if p is None else f" (p = {p:.2f})" if p >= 0.01 else " (p < 0.01)")
    return f"{change:+.1f} %" + (" (1 seed)" if abs(change) < DECIDED_RELATIVE_CHANGE else "")


@dataclass
class Run:
    experiment: Experiment
    seed: int
    tag: str
    results: List[DecodeResult]
    params_m: Optional[float]
    updates: Optional[int]
    record: Optional[dict]


def train_logs(run_dir: Path) -> List[Path]:
    """The training logs of a run, oldest attempt first: ``train.<n>.log`` (attempts before a
    resume, by n), then ``train.log``."""
    earlier = {int(m.group(1)): p for p in run_dir.glob("train.*.log")
               if (m := EARLIER_TRAIN_LOG.fullmatch(p.name))}
    return [earlier[n] for n in sorted(earlier)] + [p for p in [run_dir / "train.log"] if p.is_file()]


def train_log_facts(run_dir: Path) -> Tuple[Optional[float], Optional[int]]:
    """(parameters in millions, training updates) from a run's ESPnet training logs; the
    updates are those of the last epoch logged by any attempt."""
    params, updates = None, None
    for log in train_logs(run_dir):
        text = log.read_text(encoding="utf-8", errors="replace")
        if (found := PARAMS.search(text)) is not None:
            params = float(found.group(1)) * SCALE[found.group(2)]
        if counts := UPDATES.findall(text):
            updates = int(counts[-1])
    return params, updates


def load_runs(spec: Spec, expdir: Path) -> Tuple[List[Run], List[str]]:
    """Every run of the spec found under expdir, and the tags not (yet) there."""
    runs, missing = [], []
    for seed in spec.all_seeds():
        for e in spec.experiments:
            if seed not in e.seeds:
                continue
            tag = e.tag(seed)
            if not list((expdir / tag).glob("decode_*/*/metrics.json")):
                missing.append(tag)
                continue
            record_file = expdir / tag / RECORD
            try:
                record = json.loads(record_file.read_text(encoding="utf-8")) if record_file.is_file() else None
            except json.JSONDecodeError as err:
                raise ValueError(f"{record_file}: not valid JSON ({err})") from None
            params, updates = train_log_facts(expdir / tag)
            runs.append(Run(e, seed, tag, collect(expdir, [tag]), params, updates, record))
    return runs, missing


def without_seed(command: str, seed: int) -> str:
    """A run's command with its seed and the seed in its run tags replaced by ``<seed>``."""
    return re.sub(rf"(--seed |_seed){seed}(?![0-9])", r"\1<seed>", command)


def check_same_command(runs: Sequence[Run], expdir: Path) -> None:
    """Raise if two seeds of one experiment ran different commands, the seed aside: their mean
    would mix two configurations (a spec changed after some of its runs)."""
    first: Dict[str, Tuple[Run, str]] = {}
    for run in runs:
        if not (run.record or {}).get("command"):
            continue
        command = without_seed(run.record["command"], run.seed)
        name = run.experiment.name
        if name not in first:
            first[name] = (run, command)
        elif command != first[name][1]:
            other = first[name][0]
            raise ValueError(f"{expdir / other.tag / RECORD} and {expdir / run.tag / RECORD}: the seeds of {name} "
                             f"ran different commands, the seed aside, so their mean would mix two "
                             f"configurations (run the changed experiment again under a new name):\n"
                             f"  {first[name][1]}\n  {command}")


def cells_by_experiment(runs: Sequence[Run], unit_of: Dict[str, str]) -> Dict[str, Dict[Setting, Cell]]:
    table: Dict[str, Dict[Setting, Cell]] = {}
    for run in runs:
        for r in run.results:
            cell = table.setdefault(run.experiment.name, {}).setdefault(setting_of(r), Cell())
            cell.seeds.append(run.seed)
            if unit_of["cer"] in r.scores:
                cell.cer.append(r.scores[unit_of["cer"]].err)
            if unit_of["wer"] in r.scores:
                cell.wer.append(r.scores[unit_of["wer"]].err)
            m = r.metrics
            if m.get("rtf") is not None:
                cell.rtf.append(m["rtf"])
                if m.get("chunk_ms"):
                    cell.compute_per_chunk.append(m["rtf"] * m["chunk_ms"])
            if m.get("algorithmic_latency_ms") is not None:
                cell.alg_latency.append(m["algorithmic_latency_ms"])
            if m.get("emission_delay_ms"):
                cell.delay.append(m["emission_delay_ms"]["mean"])
    return table


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_overview(spec: Spec, table: Dict[str, Dict[Setting, Cell]], params: Dict[str, str]) -> List[str]:
    """CER of every experiment (rows) in every setting (columns), one table per set of settings
    decoded alike (e.g. the CTC/attention rows, the transducer rows)."""
    groups: Dict[Tuple[Setting, ...], List[str]] = {}
    for e in spec.experiments:
        if e.name in table:
            groups.setdefault(tuple(sorted(table[e.name])), []).append(e.name)
    with_test_set = len({s[0] for settings in groups for s in settings}) > 1
    lines = ["## CER at a glance", "",
             "Test CER %, mean ± sample standard deviation over the seeds (the grid below names the seeds of "
             "each setting); one table per set of settings the experiments decoded.", ""]
    for settings, names in groups.items():
        lines += [_row(["experiment", "params (M)", "seeds", *(setting_label(s, with_test_set) for s in settings)]),
                  "|" + "---|" * (len(settings) + 3)]
        for name in names:
            seeds = sorted({seed for s in settings for seed in table[name][s].seeds})
            lines.append(_row([name, params[name], ",".join(map(str, seeds)),
                               *(mean_cell(table[name][s].cer, with_spread=True) for s in settings)]))
        lines.append("")
    return lines


def render_compare(spec: Spec, runs: Sequence[Run], missing: Sequence[str], expdir: Path) -> str:
    table = cells_by_experiment(runs, {"cer": "score_cer", "wer": "score_wer"})
    facts = {}
    for run in runs:
        facts.setdefault(run.experiment.name, []).append(run)
    params = {name: mean_cell([r.params_m for r in named if r.params_m is not None], "{:.2f}")
              for name, named in facts.items()}
    lines = ["# Experiment grid", "",
             f"Generated by `python -m espnet_durep.bin.grid compare` from `{expdir}`; every number is read "
             "from the experiment directories. Values are the mean over seeds, `± sample standard deviation` "
             "where there are two or more (error rates only). CER/WER: sclite `Err` (%). RTF: decoding wall time / audio time. "
             "compute/chunk: RTF x chunk length, the average compute per streaming chunk (ms). "
             "alg. latency: chunk + look-ahead (ms). delay: mean emission delay against a forced alignment (ms).",
             ""]
    if missing:
        lines += [f"Not run yet: {', '.join(missing)}.", ""]
    lines += render_overview(spec, table, params)
    header = ["experiment", "params (M)", "seeds", "test set", "mode", "chunk (ms)", "left chunks", "search",
              "CER %", "WER %", "RTF", "compute/chunk (ms)", "alg. latency (ms)", "delay (ms)"]
    lines += ["## Grid", "", _row(header), "|" + "---|" * len(header)]
    for e in spec.experiments:
        if e.name not in table:
            continue
        for s in sorted(table[e.name]):
            c = table[e.name][s]
            lines.append(_row([e.name, params[e.name], ",".join(map(str, c.seeds)), *setting_cells(s),
                               mean_cell(c.cer, with_spread=True), mean_cell(c.wer, with_spread=True),
                               mean_cell(c.rtf, "{:.3f}"), mean_cell(c.compute_per_chunk, "{:.1f}"),
                               mean_cell(c.alg_latency, "{:.0f}"), mean_cell(c.delay, "{:.0f}")]))
    lines.append("")
    compared = [e for e in spec.experiments if e.compare_to and e.name in table]
    if compared:
        lines += ["## Relative change against the baselines", "",
                  "(experiment - baseline) / baseline of the mean error rate, on every setting both decoded "
                  "(negative: fewer errors). Where both sides have two or more seeds, `± e` is the standard "
                  "error of that change (delta method: sqrt(s_a^2 / n_a + (a / b)^2 s_b^2 / n_b) / b, a and b "
                  "the means, s the sample standard deviations over seeds) and p the two-sided p-value of "
                  "Welch's t-test on the seeds' error rates. With two seeds a side the test has 1-2 degrees of "
                  "freedom, so p < 0.05 needs a change of about 4-13 e: a larger p says the seeds do not "
                  "decide the change, not that there is none. "
                  "`(1 seed)`: under 5 % with a single seed on a side, not decided.", ""]
        for e in compared:
            bases = [b for b in e.compare_to if b in table]
            if not bases:
                continue
            head = ["test set", "mode", "chunk (ms)", "left chunks", "search", "CER %"]
            for b in bases:
                head += [f"CER vs {b}", f"WER vs {b}"]
            lines += [f"### {e.name}" + (f": {e.claim}" if e.claim else ""), "", _row(head),
                      "|" + "---|" * len(head)]
            for s in sorted(table[e.name]):
                c = table[e.name][s]
                cells = [*setting_cells(s), mean_cell(c.cer, with_spread=True)]
                for b in bases:
                    base = table[b].get(s)
                    cells += [relative(c.cer, base.cer if base else []),
                              relative(c.wer, base.wer if base else [])]
                lines.append(_row(cells))
            lines.append("")
    lines += ["## Runs", "", "Command, hardware, wall time (summed over the attempts of a run that was killed "
              "and resumed) and code commit of each run, as recorded by the "
              "runner (`grid_run.json`; `+modified`: the package or conf/ differed from the commit; "
              "`a, at end b`: the code changed while the run trained, and b decoded it); "
              "updates = training steps (ESPnet's train `total_count`).", "",
              _row(["run", "updates", "wall time", "hardware", "code", "command"]), "|---|---|---|---|---|---|"]
    for run in runs:
        rec = run.record or {}
        wall, attempts = rec.get("wall_seconds"), rec.get("attempts", 1)
        wall_cell = "-" if wall is None else f"{wall / 60:.1f} min" + (f" ({attempts} attempts)" if attempts > 1 else "")
        lines.append(_row([run.tag, "-" if run.updates is None else str(run.updates), wall_cell, rec.get("hardware", "-"),
                           rec.get("code", "-") + (f", at end {rec['code_at_end']}" if rec.get("code_at_end") else ""),
                           "`" + rec["command"] + "`" if rec.get("command") else "-"]))
    lines.append("")
    return "\n".join(lines)


def _main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="print the runs, teachers first (tab-separated)")
    p.add_argument("--spec", type=Path, required=True)
    p.add_argument("--only", nargs="*", default=[], help="these experiments (and their teachers)")
    p.add_argument("--seeds", type=int, nargs="*", default=None, help="these seeds (default: the spec's)")
    p.add_argument("--expdir", type=Path, default=None, help="with --records: leave out the runs done")
    p.add_argument("--records", type=Path, default=None, help="records directory of archived runs")
    p = sub.add_parser("archive", help="copy the evidence of finished runs into the records directory")
    p.add_argument("--spec", type=Path, required=True)
    p.add_argument("--expdir", type=Path, required=True)
    p.add_argument("--records", type=Path, required=True)
    p = sub.add_parser("compare", help="write the grid and the comparison tables")
    p.add_argument("--spec", type=Path, required=True)
    p.add_argument("--expdir", type=Path, required=True, help="experiment or records directory")
    p.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        spec = load_spec(args.spec)
        if args.command == "archive":
            failed = []  # one bad run does not keep the others from their records
            for e, seed in planned_runs(spec):
                tag = e.tag(seed)
                if not (args.expdir / tag / RECORD).is_file():
                    continue
                try:
                    if archive_run(args.expdir, args.records, tag, e.teacher_tag(seed)):
                        print(f"{tag}: archived in {args.records / tag}")
                except (ValueError, OSError) as err:
                    print(f"ERROR: {err}", file=sys.stderr)
                    failed.append(tag)
            if failed:
                raise ValueError(f"not archived: {', '.join(failed)}")
        elif args.command == "plan":
            if (args.expdir is None) != (args.records is None):
                raise ValueError("plan: give both --expdir and --records, or neither")
            runs = planned_runs(spec, args.only, args.seeds)
            if args.expdir is not None:
                runs, notes = runs_to_do(runs, args.expdir, args.records)
                for note in notes:
                    print(note, file=sys.stderr)
            if runs:
                print("\n".join(plan_lines(spec, runs)))
        else:
            runs, missing = load_runs(spec, args.expdir)
            if not runs:
                raise ValueError(f"no decoded run of {args.spec} under {args.expdir}")
            check_same_command(runs, args.expdir)
            args.out.write_text(render_compare(spec, runs, missing, args.expdir), encoding="utf-8")
            print(f"wrote {args.out} ({len(runs)} runs, {len(missing)} not run yet)")
    except (ValueError, KeyError, OSError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
