"""The few summaries the lab's measurements use, in one place.

On a shared machine other programs only ever *add* time, so the lab prefers the steady end of
a distribution: the lower quartile or the best round for "what does the code cost", and the
nearest-rank p50/p99 for "what did a client see".
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

__all__ = ["lower_quartile", "median", "p50_p99_ms", "percentile"]


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def p50_p99_ms(seconds: Sequence[float]) -> dict[str, float]:
    """``{"p50": …, "p99": …}`` in milliseconds, rounded to 0.1 ms, for reports."""
    return {f"p{p}": round(percentile(seconds, p) * 1000, 1) for p in (50, 99)}


def lower_quartile(values: Sequence[float]) -> float:
    """The value a quarter of the samples fall under: a run nothing else interrupted."""
    return statistics.quantiles(values, n=4)[0]


def median(values: Iterable[float]) -> float:
    return statistics.median(values)
