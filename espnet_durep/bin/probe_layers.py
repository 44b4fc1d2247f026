#!/usr/bin/env python3
"""Per-layer probes of extracted representations, for every mode: what each layer holds.

    python -m espnet_durep.bin.probe_layers --data_dir data/test --output_dir probe/student \\
        --feats full=feats/full --feats streaming640=feats/streaming640 [--tasks speaker,gender,chars]

Each ``--feats NAME=DIR`` is an ``extract_feats`` output (one mode or chunk setting). For
every task of the data directory (:mod:`espnet_durep.probe.tasks`: speaker, gender,
age_group, chars) and every mode, a probe is trained on each layer alone and one on a
learned softmax-weighted sum of all layers (:mod:`espnet_durep.probe.model`), on the
task's training part, and scored on its held-out part: accuracy for utterance-level tasks,
CER of greedy CTC decoding for ``chars``.

Writes ``probe.md`` (one table per task: layers x modes, then the learned layer weights),
``probe.png`` (one panel per task, a curve per mode across layers) and ``probe.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from espnet_durep.probe.model import ProbeResult, train_probe
from espnet_durep.probe.tasks import load_tasks


def load_feats(directory: Path) -> Dict[str, torch.Tensor]:
    """utt -> (L, T, D) stack of the layers an ``extract_feats`` run wrote."""
    import kaldiio

    info_file = directory / "feats.json"
    if not info_file.is_file():
        raise FileNotFoundError(f"{info_file} not found: give directories written by extract_feats")
    layers = json.loads(info_file.read_text(encoding="utf-8"))["layers"]
    tables = [kaldiio.load_scp(str(directory / f"layer{k}.scp")) for k in layers]
    return {utt: torch.stack([torch.from_numpy(t[utt].copy()) for t in tables]) for utt in tables[0]}


def layer_names(directory: Path) -> List[str]:
    return [str(k) for k in json.loads((directory / "feats.json").read_text(encoding="utf-8"))["layers"]]


def render(results: Dict[str, Dict[str, List[ProbeResult]]], layers: List[str]) -> str:
    """results[task][mode] = [per layer ..., weighted]."""
    lines = ["# Layer probes", "",
             "Probes on frozen representations (`python -m espnet_durep.bin.probe_layers`): one per layer, "
             "and one on a learned softmax-weighted sum of all layers. Utterance-level tasks: accuracy on "
             "held-out utterances (speaker) or speakers (gender, age group); chars: CER of greedy CTC "
             "decoding on held-out speakers.", ""]
    for task, by_mode in results.items():
        modes = list(by_mode)
        metric = next(iter(by_mode.values()))[0].metric
        lines += [f"## {task} ({metric})", "", "| layer | " + " | ".join(modes) + " |", "|---" * (len(modes) + 1) + "|"]
        for i, name in enumerate(layers + ["weighted sum"]):
            lines.append(f"| {name} | " + " | ".join(f"{by_mode[m][i].value:.3f}" for m in modes) + " |")
        lines += ["", "Learned layer weights (weighted-sum probe):", "",
                  "| mode | " + " | ".join(layers) + " |", "|---" * (len(layers) + 1) + "|"]
        for m in modes:
            lines.append(f"| {m} | " + " | ".join(f"{w:.2f}" for w in by_mode[m][-1].layer_weights) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(results: Dict[str, Dict[str, List[ProbeResult]]], layers: List[str], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3.2), squeeze=False)
    for ax, (task, by_mode) in zip(axes[0], results.items()):
        for mode, res in by_mode.items():
            ax.plot(range(len(layers)), [r.value for r in res[:-1]], marker="o", label=mode)
        ax.set_xticks(range(len(layers)), layers)
        ax.set_xlabel("layer")
        ax.set_ylabel(res[0].metric)
        ax.set_title(task)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feats", action="append", required=True, metavar="NAME=DIR",
                   help="an extract_feats output and the name of its mode (repeat for each mode)")
    p.add_argument("--data_dir", type=Path, required=True, help="Kaldi data dir with utt2spk (+ spk2gender, "
                   "spk2age, text) of the extracted utterances")
    p.add_argument("--output_dir", type=Path, required=True)
    p.add_argument("--tasks", default=None, help="comma-separated subset of speaker,gender,age_group,chars")
    p.add_argument("--epochs", type=int, default=20, help="probe training epochs")
    p.add_argument("--mix_lr", type=float, default=1e-2, help="learning rate of the weighted-sum probe's layer weights")
    p.add_argument("--test_fraction", type=float, default=0.2, help="held-out share (utterances or speakers)")
    args = p.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    torch.set_num_threads(1)
    try:
        modes = {}
        for item in args.feats:
            name, sep, directory = item.partition("=")
            if not sep or not name or not directory:
                raise ValueError(f"--feats must be NAME=DIR, got {item!r}")
            modes[name] = Path(directory)
        layers = layer_names(next(iter(modes.values())))
        feats = {name: load_feats(d) for name, d in modes.items()}
        for name, d in modes.items():
            if layer_names(d) != layers:
                raise ValueError(f"{d}: layers {layer_names(d)} differ from {layers}; extract the same layers")
        utts = sorted(set.intersection(*(set(f) for f in feats.values())))
        tasks = load_tasks(args.data_dir, utts, args.test_fraction, args.tasks.split(",") if args.tasks else None)
        results: Dict[str, Dict[str, List[ProbeResult]]] = {}
        for task in tasks:
            for name, f in feats.items():
                logging.info("task %s, mode %s: %d probes", task.name, name, len(layers) + 1)
                per_layer = [train_probe(task, f, fixed_layer=i, epochs=args.epochs) for i in range(len(layers))]
                mixed = train_probe(task, f, epochs=args.epochs, mix_lr=args.mix_lr)
                results.setdefault(task.name, {})[name] = per_layer + [mixed]
    except (ValueError, FileNotFoundError, KeyError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "probe.md").write_text(render(results, layers), encoding="utf-8")
    plot(results, layers, args.output_dir / "probe.png")
    (args.output_dir / "probe.json").write_text(json.dumps(
        {t: {m: [vars(r) for r in res] for m, res in by.items()} for t, by in results.items()}, indent=2) + "\n",
        encoding="utf-8")
    logging.info("wrote %s", args.output_dir / "probe.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
