#!/usr/bin/env python3
"""Stage 5: the token list (and sentencepiece model) shared by teacher and student.

    make_tokens.py --token_type bpe --nbpe 30 --bpemode unigram TEXT OUT_DIR
    make_tokens.py --token_type char TEXT OUT_DIR

TEXT is a Kaldi ``text`` file (``<utt> <transcript>``). Writes ``OUT_DIR/tokens.txt`` in
ESPnet's layout: ``<blank>``, ``<unk>``, the units, ``<sos/eos>`` last; for ``bpe`` also
``OUT_DIR/bpe.model``. ``char`` units are the characters of the transcripts, most
frequent first, with a space written as ``<space>`` (ESPnet's char tokenizer convention).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import List, Optional

from kaldi_dir import DataDirError, read_table

SPECIAL_FIRST = ["<blank>", "<unk>"]
SPECIAL_LAST = ["<sos/eos>"]
SPACE = "<space>"


def transcripts(text_file: Path) -> List[str]:
    table, _ = read_table(text_file)
    if not table:
        raise ValueError(f"{text_file}: no transcripts")
    return [table[u] for u in sorted(table)]


def char_units(lines: List[str]) -> List[str]:
    counts = Counter(SPACE if c == " " else c for line in lines for c in line)
    return [c for c, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def bpe_units(lines: List[str], model_prefix: Path, nbpe: int, bpemode: str) -> List[str]:
    """Train sentencepiece on ``lines``; its pieces except unk/bos/eos, in id order."""
    import sentencepiece as spm

    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write("".join(line + "\n" for line in lines))
        corpus = f.name
    try:
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=str(model_prefix), vocab_size=nbpe, model_type=bpemode,
            character_coverage=1.0, input_sentence_size=100_000_000, shuffle_input_sentence=True,
            hard_vocab_limit=False, minloglevel=2)
    finally:
        Path(corpus).unlink()
    processor = spm.SentencePieceProcessor(model_file=f"{model_prefix}.model")
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())
            if not (processor.is_unknown(i) or processor.is_control(i))]


def make_tokens(text_file: Path, out_dir: Path, token_type: str, nbpe: int = 30,
                bpemode: str = "unigram") -> List[str]:
    """Write ``tokens.txt`` (and ``bpe.model``) to ``out_dir``; returns the token list."""
    lines = transcripts(text_file)
    out_dir.mkdir(parents=True, exist_ok=True)
    if token_type == "char":
        units = char_units(lines)
    elif token_type == "bpe":
        units = bpe_units(lines, out_dir / "bpe", nbpe, bpemode)
        (out_dir / "bpe.vocab").unlink(missing_ok=True)
    else:
        raise ValueError(f"token type must be bpe or char, got '{token_type}'")
    clash = [u for u in units if u in SPECIAL_FIRST + SPECIAL_LAST]
    if clash:
        raise ValueError(f"{text_file}: transcripts contain reserved symbols {clash}")
    tokens = SPECIAL_FIRST + units + SPECIAL_LAST
    (out_dir / "tokens.txt").write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return tokens


def _main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("text", type=Path, help="Kaldi text file of the training set")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--token_type", choices=["bpe", "char"], default="bpe")
    parser.add_argument("--nbpe", type=int, default=30, help="sentencepiece vocabulary size (bpe)")
    parser.add_argument("--bpemode", choices=["unigram", "bpe"], default="unigram",
                        help="sentencepiece model type (bpe)")
    args = parser.parse_args(argv)
    try:
        tokens = make_tokens(args.text, args.out_dir, args.token_type, args.nbpe, args.bpemode)
    except (DataDirError, ValueError, RuntimeError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    print(f"{args.out_dir / 'tokens.txt'}: {len(tokens)} tokens ({args.token_type})")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
