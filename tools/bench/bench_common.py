"""Small helpers shared by the benchmark scripts in this folder."""
from __future__ import annotations

import statistics
import subprocess
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import torch
import yaml

FRONTEND = {"n_fft": 512, "win_length": 400, "hop_length": 160, "n_mels": 80}
NO_DROPOUT = {"dropout_rate": 0.0, "positional_dropout_rate": 0.0}
SCORE = Path(__file__).resolve().parents[2] / "egs2" / "TEMPLATE" / "durep1" / "scripts" / "score_sclite.sh"


def median_p90(values: List[float]) -> Tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def print_table(header: Sequence[str], lines: Sequence[Sequence[object]], left: int = 1) -> None:
    """Aligned columns: the first ``left`` columns left-justified, the others right-justified."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
    for line in [header, ["-" * w for w in widths], *lines]:
        print("  ".join(str(c).ljust(w) if i < left else str(c).rjust(w)
                        for i, (c, w) in enumerate(zip(line, widths))))


def write_tokens(path: Path, vocab_size: int) -> Path:
    """A word token list of ``vocab_size`` entries (blank, unk, words, sos/eos)."""
    words = [f"w{i:03d}" for i in range(vocab_size - 3)]
    path.write_text("\n".join(["<blank>", "<unk>", *words, "<sos/eos>"]) + "\n")
    return path


def model_config(encoder: str, encoder_conf: dict, decoder_conf: dict, model: str, ctc_weight: float) -> dict:
    """Training config of a model with a conv2d x4 Conformer encoder, a Transformer decoder and
    ESPnet's 80-dim log-mel frontend (no feature normalisation, no dropout)."""
    return {
        "frontend": "default", "frontend_conf": FRONTEND, "specaug": None, "normalize": None,
        "encoder": encoder, "encoder_conf": {**encoder_conf, **NO_DROPOUT, "input_layer": "conv2d",
                                             "macaron_style": True},
        "decoder": "transformer", "decoder_conf": {**decoder_conf, **NO_DROPOUT},
        "model": model, "model_conf": {"ctc_weight": ctc_weight}, "token_type": "word",
    }


def save_experiment(exp: Path, task, config: dict, tokens: Path, seed: int) -> int:
    """Build a random model through ``task`` and save config.yaml + model.pth; returns its size."""
    exp.mkdir()
    given = exp / "given.yaml"
    given.write_text(yaml.safe_dump(config))
    args = task.get_parser().parse_args(["--config", str(given), "--token_list", str(tokens)])
    torch.manual_seed(seed)
    model = task.build_model(args)
    (exp / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    torch.save(model.state_dict(), exp / "model.pth")
    return sum(p.numel() for p in model.parameters())


def load_waves(data_dir: Path, s2t, max_utts: int = 0) -> Dict[str, "object"]:
    """{utt: waveform (n,) float32} of the first ``max_utts`` (0: all) utterances of ``data_dir/wav.scp``,
    checked against the recogniser ``s2t`` (sample rate, minimum length)."""
    from espnet_durep.bin.durep_inference import checked_waveform, read_audio, read_table

    waves = {}
    for utt, spec in list(read_table(Path(data_dir) / "wav.scp").items())[: max_utts or None]:
        samples, rate = read_audio(spec)
        waves[utt] = checked_waveform(samples, rate, s2t.sample_rate, s2t.min_samples(), utt).numpy()
    return waves


def score(results, data_dir: Path, out: Path) -> Dict[str, float]:
    """sclite CER and WER of ``results`` against the references of the decoded utterances."""
    from espnet_durep.bin.durep_inference import read_table
    from espnet_durep.bin.make_results import parse_sclite

    out.mkdir(parents=True, exist_ok=True)
    tables = {"text": read_table(data_dir / "text"), "utt2spk": read_table(data_dir / "utt2spk")}
    for name, table in tables.items():
        (out / f"ref_{name}").write_text("".join(f"{u} {table[u]}\n" for u in results), encoding="utf-8")
    (out / "text").write_text("".join(f"{u} {r.text}\n" for u, r in results.items()), encoding="utf-8")
    rates = {}
    for unit in ("char", "word"):
        subprocess.run(["bash", str(SCORE), "--unit", unit, str(out / "ref_text"), str(out / "text"),
                        str(out / "ref_utt2spk"), str(out / f"score_{unit}")], check=True, capture_output=True)
        rates[unit] = parse_sclite(out / f"score_{unit}" / "hyp.trn.sys").err
    return rates
