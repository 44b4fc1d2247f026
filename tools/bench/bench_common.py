"""Small helpers shared by the benchmark scripts in this folder."""
from __future__ import annotations

import statistics
from typing import List, Sequence, Tuple


def median_p90(values: List[float]) -> Tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def print_table(header: Sequence[str], lines: Sequence[Sequence[object]], left: int = 1) -> None:
    """Aligned columns: the first ``left`` columns left-justified, the others right-justified."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
    for line in [header, ["-" * w for w in widths], *lines]:
        print("  ".join(str(c).ljust(w) if i < left else str(c).rjust(w)
                        for i, (c, w) in enumerate(zip(line, widths))))
