"""The toy study's statistics over seeds: small pure functions of per-seed values.

Each arm is run once per seed; a seed's result is one number (accuracy, mean tokens...). The
report gives the mean with its 95% t-interval, and compares two arms by Welch's interval of the
difference of their means (the seeds of two arms are independent runs, their variances may
differ).
"""

from __future__ import annotations

import statistics

from scipy import stats


def interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% t-interval over seeds (0 for a single value)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, 0.0
    half = float(stats.t.ppf(0.975, len(values) - 1)) * statistics.stdev(values) / len(values) ** 0.5
    return mean, half


def difference_interval(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """(mean(a) - mean(b), low, high): Welch's 95% interval of the difference of two seed means.

    Low and high are nan when either side has fewer than two values: no interval can be drawn.
    """
    diff = statistics.fmean(a) - statistics.fmean(b)
    if len(a) < 2 or len(b) < 2:
        return diff, float("nan"), float("nan")
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    if va + vb == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.975, dof)) * (va + vb) ** 0.5
    return diff, diff - half, diff + half


def mean_cell(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    """A table cell: ``mean ± half-width`` (times ``scale``), ``mean (1 seed)``, or ``-`` for none."""
    if not values:
        return "-"
    mean, half = interval(values)
    if len(values) < 2:  # no interval from one seed
        return f"{scale * mean:.{digits}f} (1 seed)"
    return f"{scale * mean:.{digits}f} ± {scale * half:.{digits}f}"
