#!/usr/bin/env python3
"""Split a key-value list (wav.scp, text, a key list) into N contiguous, near-equal parts.

    split_scp.py dump/raw/test/wav.scp logdir/keys.1.scp logdir/keys.2.scp ...

Part sizes differ by at most one line and keep the input order; concatenating the parts
gives back the input. Asking for more parts than lines is an error (an empty part would
make a parallel job fail far from the cause), so callers use min(nj, number of lines).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Sequence, TypeVar

T = TypeVar("T")


def split_evenly(items: Sequence[T], num_parts: int) -> List[List[T]]:
    """``items`` cut into ``num_parts`` contiguous chunks whose sizes differ by at most one."""
    if num_parts < 1:
        raise ValueError(f"number of parts must be >= 1, got {num_parts}")
    if num_parts > len(items):
        raise ValueError(f"cannot split {len(items)} lines into {num_parts} non-empty parts")
    base, extra = divmod(len(items), num_parts)
    parts, start = [], 0
    for i in range(num_parts):
        size = base + (1 if i < extra else 0)
        parts.append(list(items[start:start + size]))
        start += size
    return parts


def split_file(src: Path, outputs: Sequence[Path]) -> None:
    lines = [line for line in Path(src).read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        parts = split_evenly(lines, len(outputs))
    except ValueError as e:
        raise ValueError(f"{src}: {e}") from None
    for out, part in zip(outputs, parts):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text("".join(line + "\n" for line in part), encoding="utf-8")


def _main(argv: List[str]) -> int:
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv[:1] in (["-h"], ["--help"]) else 1
    try:
        split_file(Path(argv[0]), [Path(p) for p in argv[1:]])
    except (ValueError, OSError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
