#!/usr/bin/env python3
"""Recipe results: merge per-job decoding metrics, parse sclite, write RESULTS.md.

    python -m espnet_durep.bin.make_results merge_metrics OUT.json PART.json [PART.json ...]
    python -m espnet_durep.bin.make_results report --expdir exp --models teacher student \\
        --out exp/RESULTS.md

``merge_metrics`` combines the ``metrics.json`` of parallel decoding jobs of one test set
(schema written by ``durep_inference``): counts and seconds are summed, the real-time
factor is recomputed from the sums, latency means are weighted by the number of decoded
utterances and emission-delay statistics by their ``count``. Settings that must agree
between jobs (mode, chunk, left context, threads, device, algorithmic latency) are checked.
Merged emission-delay percentiles are count-weighted means of the jobs' percentiles, an
approximation of the percentile over all utterances.

``report`` reads ``<expdir>/<model>/decode_*/<test_set>/{metrics.json,score_wer,score_cer}``
and writes a Markdown file: the environment, then for every test set and unit (WER, CER)
one table whose rows are decoding settings (full context, then streaming by chunk length
and left context) with the models' rows next to each other, then the wall time of every
stage (``<expdir>/log/stage_times.tsv``, written by durep.sh) and each model's learning
curve (the epoch summaries of ``<expdir>/<model>/train.log``).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

SCLITE_COLUMNS = ("Snt", "Wrd", "Corr", "Sub", "Del", "Ins", "Err", "S.Err")
MUST_AGREE = ("decode_mode", "search", "chunk_size_frames", "chunk_ms", "num_left_chunks", "num_threads",
              "device", "algorithmic_latency_ms", "algorithmic_latency_avg_ms")
SUMMED = ("num_utts", "audio_seconds", "wall_seconds", "num_failed_utts")
UTT_WEIGHTED = ("first_token_latency_ms_mean", "final_latency_ms_mean")
UNITS = (("score_wer", "WER (words)"), ("score_cer", "CER (characters)"))


@dataclass(frozen=True)
class ScliteSummary:
    """sclite's ``Sum/Avg`` row: sentence and word counts, then percentages."""

    snt: int
    wrd: int
    corr: float
    sub: float
    dele: float
    ins: float
    err: float
    s_err: float

    def cells(self) -> List[str]:
        return [str(self.snt), str(self.wrd)] + [f"{v:.1f}" for v in
                                                 (self.corr, self.sub, self.dele, self.ins, self.err, self.s_err)]


def parse_sclite(path: Path) -> ScliteSummary:
    """The ``Sum/Avg`` row of an sclite ``.sys`` file or ``-o all stdout`` result.txt."""
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if "Sum/Avg" not in line:
            continue
        cells = [c.split() for c in line.split("|")[2:4]]
        try:
            (snt, wrd), rates = cells
            values = [float(v) for v in rates]
            if len(values) != 6:
                raise ValueError
            return ScliteSummary(int(snt), int(wrd), *values)
        except ValueError:
            raise ValueError(f"{path}: cannot parse sclite summary row: {line.strip()}") from None
    raise ValueError(f"{path}: no 'Sum/Avg' row; not an sclite summary (sclite failed?)")


def _weighted_mean(values: Sequence[Optional[float]], weights: Sequence[float]) -> Optional[float]:
    pairs = [(v, w) for v, w in zip(values, weights) if v is not None and w > 0]
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total > 0 else None


def merge_metrics(parts: Sequence[dict], sources: Sequence[str]) -> dict:
    """One ``metrics.json`` for a test set from those of its decoding jobs."""
    if not parts:
        raise ValueError("no metrics to merge")
    for part, source in zip(parts, sources):
        missing = [k for k in MUST_AGREE + SUMMED if k not in part]
        if missing:
            raise ValueError(f"{source}: metrics lack {', '.join(missing)}")
    merged: Dict[str, object] = {}
    for key in MUST_AGREE:
        values = {json.dumps(p.get(key)) for p in parts}
        if len(values) != 1:
            raise ValueError(f"'{key}' differs between decoding jobs ({', '.join(sorted(values))}): "
                             f"{', '.join(sources)}")
        merged[key] = parts[0].get(key)
    for key in SUMMED:
        merged[key] = sum(p[key] for p in parts)
    if merged["audio_seconds"] <= 0:
        raise ValueError(f"no audio decoded in {', '.join(sources)}")
    merged["rtf"] = merged["wall_seconds"] / merged["audio_seconds"]
    decoded = [p["num_utts"] - p["num_failed_utts"] for p in parts]
    for key in UTT_WEIGHTED:
        merged[key] = _weighted_mean([p.get(key) for p in parts], decoded)
    delays = [p["emission_delay_ms"] for p in parts if p.get("emission_delay_ms")]
    if delays:
        counts = [d["count"] for d in delays]
        merged["emission_delay_ms"] = {stat: _weighted_mean([d[stat] for d in delays], counts)
                                       for stat in ("mean", "p50", "p90")}
        merged["emission_delay_ms"]["count"] = sum(counts)
    else:
        merged["emission_delay_ms"] = None
    return merged


@dataclass
class DecodeResult:
    """One model decoded one test set with one setting."""

    model: str
    test_set: str
    metrics: dict
    scores: Dict[str, ScliteSummary]

    def sort_key(self, model_order: Sequence[str]):
        m = self.metrics
        streaming = m["decode_mode"] != "full"
        left = m.get("num_left_chunks")
        return (streaming, m.get("chunk_ms") or 0.0, float("inf") if left is None or left < 0 else left,
                m.get("search") or "", model_order.index(self.model))

    def setting_cells(self) -> List[str]:
        m = self.metrics
        search = m.get("search") or "-"
        if m["decode_mode"] == "full":
            return ["full", "-", "-", search]
        left = m.get("num_left_chunks")
        return [m["decode_mode"], _fmt(m.get("chunk_ms"), "{:.0f}"), "all" if left is None or left < 0 else str(left),
                search]

    def metric_cells(self) -> List[str]:
        m = self.metrics
        delay = m.get("emission_delay_ms")
        delay_cell = "-" if not delay else f"{delay['mean']:.0f} / {delay['p50']:.0f} / {delay['p90']:.0f}"
        return [_fmt(m.get("rtf"), "{:.3f}"), _fmt(m.get("algorithmic_latency_ms"), "{:.0f}"), delay_cell]


def _fmt(value: Optional[float], pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


SCLITE_SUMMARIES = ("result.txt", "hyp.trn.sys")  # full report, or the summary alone (archived runs)


def sclite_summary_file(score_dir: Path) -> Optional[Path]:
    """The sclite report of a ``score_*`` directory that holds the ``Sum/Avg`` row, if any."""
    return next((score_dir / n for n in SCLITE_SUMMARIES if (score_dir / n).is_file()), None)


def collect(expdir: Path, models: Sequence[str]) -> List[DecodeResult]:
    results = []
    for model in models:
        for metrics_file in sorted((expdir / model).glob("decode_*/*/metrics.json")):
            test_dir = metrics_file.parent
            summaries = {unit: sclite_summary_file(test_dir / unit) for unit, _ in UNITS}
            scores = {unit: parse_sclite(f) for unit, f in summaries.items() if f is not None}
            if not scores:
                raise ValueError(f"{test_dir}: decoded but not scored (run the scoring stage)")
            try:
                metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise ValueError(f"{metrics_file}: not valid JSON ({err})") from None
            if not isinstance(metrics, dict) or "decode_mode" not in metrics:
                raise ValueError(f"{metrics_file}: no 'decode_mode' (not written by the decoder?)")
            results.append(DecodeResult(model, test_dir.name, metrics, scores))
    if not results:
        raise ValueError(f"no decoding results under {expdir}/{{{','.join(models)}}}/decode_*/")
    return results


def _run(argv: Sequence[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_lines(results: Sequence[DecodeResult]) -> List[str]:
    import espnet
    import torch

    commit = _run(["git", "rev-parse", "HEAD"]) or "unknown (not a git checkout)"
    if _run(["git", "status", "--porcelain", "--untracked-files=no"]):
        commit += " (with uncommitted changes)"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    threads = sorted({str(r.metrics.get("num_threads")) for r in results})
    devices = sorted({str(r.metrics.get("device")) for r in results})
    return [
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- python {platform.python_version()}, torch {torch.__version__}, espnet {espnet.__version__}",
        f"- CPU: {_cpu_name()} ({os.cpu_count()} logical cores); GPU: {gpu}",
        f"- decoding threads: {', '.join(threads)}; decoding device: {', '.join(devices)}",
        f"- git commit: {commit}",
    ]


STAGE_NAMES = {1: "data preparation", 2: "speed perturbation", 3: "format audio", 4: "filter utterances",
               5: "token list", 6: "feature statistics", 7: "teacher training", 8: "teacher decoding",
               9: "student training", 10: "student decoding", 11: "sclite scoring", 12: "RESULTS.md",
               13: "packing"}
EPOCH_RESULTS = re.compile(r"(\d+)epoch results: (.*)$")
SECTION = re.compile(r"\[(\w+)\] ")
CURVE_KEYS = {"train": ("loss",), "valid": ("loss", "acc", "acc_full", "acc_streaming", "cer_ctc_full",
                                             "cer_ctc_streaming", "cer_ctc")}
# train.log files written before the mode names were unified report streaming statistics with
# the suffix "_stream" (loss_stream, acc_stream, cer_ctc_stream, loss_kd_layer_stream,
# gshare_loss_kd_rnnt_stream, ...): read them under today's names
LEGACY_STAT_SUFFIX = ("_stream", "_streaming")


def _stat_name(key: str) -> str:
    old, new = LEGACY_STAT_SUFFIX
    return key[: -len(old)] + new if key.endswith(old) else key


def stage_times(path: Path) -> Dict[int, Tuple[int, str]]:
    """stage -> (seconds, finished at) of the latest run of each stage in durep.sh's stage_times.tsv."""
    times: Dict[int, Tuple[int, str]] = {}
    if path.is_file():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                stage, seconds, when = line.split("\t")
                times[int(stage)] = (int(seconds), when)
            except ValueError:
                raise ValueError(f"{path}:{n}: expected '<stage>\\t<seconds>\\t<date>', got {line!r}") from None
    return times


def learning_curve(train_log: Path) -> List[Dict[str, Dict[str, str]]]:
    """Per epoch of ESPnet's ``train.log``: {"epoch": {"n": N}, "train": {stat: value}, "valid": {...}}."""
    epochs = []
    for line in train_log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = EPOCH_RESULTS.search(line)
        if not match:
            continue
        row: Dict[str, Dict[str, str]] = {"epoch": {"n": match.group(1)}}
        parts = SECTION.split(match.group(2))  # ["", "train", "k=v, ...", "valid", "k=v, ..."]
        for name, body in zip(parts[1::2], parts[2::2]):
            row[name] = dict((_stat_name(k), v) for k, v in (kv.split("=", 1) for kv in
                             body.strip().rstrip(",").split(", ") if "=" in kv))
        epochs.append(row)
    return epochs


def render_curve(model: str, epochs: Sequence[Dict[str, Dict[str, str]]]) -> List[str]:
    columns = [(part, key) for part, keys in CURVE_KEYS.items() for key in keys
               if any(key in e.get(part, {}) for e in epochs)]
    columns += sorted({("train", k) for e in epochs for k in e.get("train", {}) if k.startswith("gshare_")})
    header = ["epoch", *(f"{part} {key}" for part, key in columns), "train time"]
    lines = [f"### {model}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for e in epochs:
        cells = [e["epoch"]["n"], *(e.get(part, {}).get(key, "-") for part, key in columns),
                 e.get("train", {}).get("time", "-")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def render_stage_times(times: Dict[int, Tuple[int, str]]) -> List[str]:
    lines = ["## Wall time per stage", "", "| stage | what | wall time | finished |", "|---|---|---|---|"]
    for stage in sorted(times):
        seconds, when = times[stage]
        lines.append(f"| {stage} | {STAGE_NAMES.get(stage, '?')} | {seconds // 60} min {seconds % 60:02d} s | {when} |")
    return lines + [""]


HEADER = ["model", "mode", "chunk (ms)", "left chunks", "search", *SCLITE_COLUMNS, "RTF", "alg. latency (ms)",
          "emission delay mean / p50 / p90 (ms)"]


def render_report(results: Sequence[DecodeResult], models: Sequence[str], expdir: Path,
                  environment: Sequence[str]) -> str:
    lines = ["# RESULTS", "", "## Environment", "", *environment, "",
             "Models: " + ", ".join(f"{m} = `{expdir / m}`" for m in models), "",
             "Columns: sclite `Sum/Avg` (Corr..S.Err in %), chunk = decoding chunk length, left chunks = "
             "left context in chunks (all = unlimited), search = decoding search, RTF = decoding wall time / audio time over all "
             "jobs; alg. latency and emission delay as measured by `durep_inference` (metrics.json).", ""]
    for test_set in sorted({r.test_set for r in results}):
        for unit, title in UNITS:
            rows = sorted((r for r in results if r.test_set == test_set and unit in r.scores),
                          key=lambda r: r.sort_key(models))
            if not rows:
                continue
            lines += [f"## {test_set}: {title}", "", "| " + " | ".join(HEADER) + " |",
                      "|" + "---|" * len(HEADER)]
            lines += ["| " + " | ".join([r.model, *r.setting_cells(), *r.scores[unit].cells(),
                                         *r.metric_cells()]) + " |" for r in rows]
            lines.append("")
    times = stage_times(expdir / "log" / "stage_times.tsv")
    if times:
        lines += render_stage_times(times)
    curves = [(m, learning_curve(expdir / m / "train.log")) for m in models if (expdir / m / "train.log").is_file()]
    if any(epochs for _, epochs in curves):
        lines += ["## Learning curves", "",
                  "Per epoch, from each model's `train.log` (ESPnet's epoch summaries): validation loss, "
                  "teacher-forced attention accuracy and greedy-CTC CER (0-1) per mode; `gshare_*` = share of "
                  "the encoder gradient norm of the ASR loss and of each KD term (training).", ""]
        for model, epochs in curves:
            if epochs:
                lines += render_curve(model, epochs)
    return "\n".join(lines)


def _main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("merge_metrics", help="merge the metrics.json of parallel decoding jobs")
    p.add_argument("out", type=Path)
    p.add_argument("parts", type=Path, nargs="+")
    p = sub.add_parser("report", help="write RESULTS.md")
    p.add_argument("--expdir", type=Path, required=True, help="recipe experiment directory")
    p.add_argument("--models", nargs="+", required=True, help="model directories under expdir, in table order")
    p.add_argument("--out", type=Path, required=True, help="output Markdown file")
    args = parser.parse_args(argv)
    try:
        if args.command == "merge_metrics":
            parts = [json.loads(p.read_text(encoding="utf-8")) for p in args.parts]
            merged = merge_metrics(parts, [str(p) for p in args.parts])
            args.out.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
        else:
            results = collect(args.expdir, args.models)
            args.out.write_text(render_report(results, args.models, args.expdir, environment_lines(results)),
                                encoding="utf-8")
            print(f"wrote {args.out} ({len(results)} decoding results)")
    except (ValueError, KeyError, OSError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
