"""Evaluation metrics as pure functions over per-sample results (no model, no I/O).

Conventions:
* ``correct[i][j]`` is whether sample ``j`` of problem ``i`` was right; problems may have
  different sample counts.
* Accuracy comes back as a fraction in [0, 1]; tables multiply by 100.
* Token counts are generated (response) tokens, the Pareto axis next to accuracy.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Mapping, Sequence


def _check_nonempty(correct: Sequence[Sequence[bool]]) -> None:
    if not correct:
        raise ValueError("no problems")
    for i, samples in enumerate(correct):
        if not samples:
            raise ValueError(f"problem {i} has no samples")


def avg_at_n(correct: Sequence[Sequence[bool]]) -> float:
    """pass@1 averaged over n samples ("avg@n"): mean over problems of each problem's hit rate.

    Each problem weighs the same whatever its sample count (the papers' avg@64 / avg@32).
    """
    _check_nonempty(correct)
    return sum(sum(map(bool, samples)) / len(samples) for samples in correct) / len(correct)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct: ``1 - C(n-c, k) / C(n, k)``.

    Computed as ``1 - prod_{i=n-c+1}^{n} (1 - k/i)``, which never forms the huge binomials
    (Chen et al., 2021). If fewer than k samples are wrong, every k-subset holds a right one.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def pass_at_k_dataset(correct: Sequence[Sequence[bool]], k: int) -> float:
    """Mean over problems of :func:`pass_at_k`; each problem needs at least k samples."""
    _check_nonempty(correct)
    return sum(pass_at_k(len(s), sum(map(bool, s)), k) for s in correct) / len(correct)


# ---------------------------------------------------------------------------- cost


def token_stats(lengths: Sequence[int], max_tokens: int | None = None,
                truncated: Sequence[bool] | None = None,
                latencies_s: Sequence[float] | None = None) -> dict[str, float]:
    """Mean and median generated tokens, truncation rate, mean latency, over all samples.

    A sample counts as truncated when its flag says so or, without flags, when it used the
    whole budget (``length >= max_tokens``): a response that hits the cap was cut off.
    Keys: ``mean_tokens``, ``median_tokens``, ``truncation_rate`` (when it can be known),
    ``mean_latency_s`` (when latencies are given).
    """
    if not lengths:
        raise ValueError("no samples")
    stats = {"mean_tokens": statistics.fmean(lengths), "median_tokens": float(statistics.median(lengths))}
    if truncated is not None:
        if len(truncated) != len(lengths):
            raise ValueError("truncated and lengths differ in length")
        stats["truncation_rate"] = sum(map(bool, truncated)) / len(lengths)
    elif max_tokens is not None:
        stats["truncation_rate"] = sum(n >= max_tokens for n in lengths) / len(lengths)
    if latencies_s:
        stats["mean_latency_s"] = statistics.fmean(latencies_s)
    return stats


# ---------------------------------------------------------------------------- SIRI's efficiency


@dataclass(frozen=True)
class DeltaCRAcc:
    """SIRI's accuracy-per-compression figure and the per-benchmark parts behind it.

    value      mean_b dAcc_b / mean_b CR_b
    d_acc      dAcc_b = max(acc_b / base_acc_b - 1, 0)  (a loss counts as no gain)
    cr         CR_b = tokens_b / base_tokens_b          (below 1 means shorter)
    rel_acc    acc_b / base_acc_b - 1 (signed, for tables)
    rel_tokens tokens_b / base_tokens_b - 1 (signed, for tables)
    """

    value: float
    d_acc: dict[str, float]
    cr: dict[str, float]
    rel_acc: dict[str, float]
    rel_tokens: dict[str, float]


def delta_cr_acc(acc: Mapping[str, float], tokens: Mapping[str, float],
                 base_acc: Mapping[str, float], base_tokens: Mapping[str, float]) -> DeltaCRAcc:
    """ΔCRAcc over the benchmarks ``acc`` names (SIRI, Table 1); all four maps must cover them.

    Accuracy units cancel (percent or fraction, as long as both sides agree).
    """
    benches = list(acc)
    missing = [b for b in benches if b not in tokens or b not in base_acc or b not in base_tokens]
    if not benches or missing:
        raise ValueError(f"need accuracy and tokens for model and base on every benchmark; missing {missing}")
    rel_acc = {b: acc[b] / base_acc[b] - 1.0 for b in benches}
    cr = {b: tokens[b] / base_tokens[b] for b in benches}
    d_acc = {b: max(r, 0.0) for b, r in rel_acc.items()}
    value = (sum(d_acc.values()) / len(benches)) / (sum(cr.values()) / len(benches))
    return DeltaCRAcc(value, d_acc, cr, rel_acc, {b: c - 1.0 for b, c in cr.items()})
