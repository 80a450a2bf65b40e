"""The toy study's hypotheses H1-H5 as data, and their verdicts from per-seed results.

A hypothesis compares an arm with a baseline arm (siri_verl/lab/study_arms.py) through one or
more conditions, each a rule on one metric with its threshold (:data:`HYPOTHESES`). It passes
when every condition holds; it is inconclusive when a condition needs an interval over seeds and
an arm has fewer than two. Rows are per-seed results by arm name, each a dict with the metrics
``acc``, ``tokens``, ``segments``, ``max_peak_context`` (a missing or None value is no value).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

from siri_verl.lab.study_arms import ETA, PROMPT_BUDGET
from siri_verl.lab.study_statistics import difference_interval

PASSED, FAILED = "**passed**", "**failed**"
INCONCLUSIVE = "inconclusive (needs >= 2 seeds per arm)"

# How a metric is written in the measured column: (label, scale, format, unit).
METRIC_FORMATS = {
    "acc": ("accuracy", 100.0, "+.1f", " points"),
    "tokens": ("tokens", 1.0, "+.1f", ""),
    "segments": ("segments", 1.0, "+.2f", ""),
    "max_peak_context": ("peak context", 1.0, ".0f", " tokens"),
}


@dataclass(frozen=True)
class Condition:
    """One rule on one metric. Rules on the arm minus the baseline (Welch's 95% interval over
    seeds): ``interval_above`` (low > threshold), ``interval_reaches`` (high >= threshold),
    ``interval_below`` (high < threshold), ``mean_within`` (|mean difference| <= threshold). On
    the two arms' totals: ``ratio_at_most`` (sum over the arm / sum over the baseline <=
    threshold). On the arm alone: ``max_at_most`` (largest value <= threshold)."""

    metric: str
    rule: str
    threshold: float = 0.0


@dataclass(frozen=True)
class Hypothesis:
    name: str
    claim: str
    criterion: str
    arm: str
    baseline: str
    conditions: tuple[Condition, ...]
    # Another arm whose mean accuracy the measured column quotes for scale: (arm, label).
    quoted: tuple[str, str] | None = None


HYPOTHESES: tuple[Hypothesis, ...] = (
    Hypothesis(
        "H1", "GRPO raises sampled accuracy over the warm start",
        "constant-cap accuracy minus warm-start accuracy: 95% interval above 0",
        "constant cap", "warm start", (Condition("acc", "interval_above", 0.0),),
    ),
    Hypothesis(
        "H2", "SIRI-low uses >= 30% fewer tokens than constant cap at equal or better accuracy",
        "tokens ratio <= 0.70 and the accuracy difference's 95% interval reaches 0 or above",
        "SIRI-low", "constant cap",
        (Condition("tokens", "ratio_at_most", 0.70), Condition("acc", "interval_reaches", 0.0)),
    ),
    Hypothesis(
        "H3", "SIRI-high accuracy is at least the constant cap's",
        "accuracy difference's 95% interval reaches 0 or above",
        "SIRI-high", "constant cap", (Condition("acc", "interval_reaches", 0.0),),
    ),
    Hypothesis(
        "H4", "InftyThink+ RL solves problems beyond the long-CoT context, per call <= eta + summary",
        f"accuracy above long-CoT RL at the same per-call context (95% interval above 0) with every call's context "
        f"<= the prompt budget ({PROMPT_BUDGET}) + the per-call cap ({ETA})",
        "InftyThink+ T", "long-CoT RL",
        (Condition("acc", "interval_above", 0.0), Condition("max_peak_context", "max_at_most", PROMPT_BUDGET + ETA)),
        quoted=("long-CoT start, full context", "long-CoT start at full context"),
    ),
    Hypothesis(
        "H5", "T+E uses fewer segments than T at similar accuracy",
        "segment difference's 95% interval below 0 and accuracy within 5 points",
        "InftyThink+ T+E", "InftyThink+ T",
        (Condition("segments", "interval_below", 0.0), Condition("acc", "mean_within", 0.05)),
    ),
)  # fmt: skip


def metric_values(rows: dict[str, list[dict]], arm: str, metric: str) -> list[float]:
    """The arm's per-seed values of ``metric`` (a missing or None value is no value)."""
    return [r[metric] for r in rows.get(arm, []) if r.get(metric) is not None]


def format_metric(metric: str, value: float) -> str:
    """``value`` as the measured column writes ``metric`` (:data:`METRIC_FORMATS`), unit aside."""
    _, scale, spec, _ = METRIC_FORMATS[metric]
    return f"{scale * value:{spec}}"


# The interval rules: which end of (low, high) is compared with the threshold, and how.
INTERVAL_RULES = {
    "interval_above": ("low", operator.gt),
    "interval_reaches": ("high", operator.ge),
    "interval_below": ("high", operator.lt),
}


def judge(condition: Condition, arm: list[float], baseline: list[float]) -> tuple[bool | None, str]:
    """(held, measured text) of one condition; held is None when it cannot be decided (an
    interval over fewer than two seeds)."""
    metric, rule, threshold = condition.metric, condition.rule, condition.threshold
    label, _, _, unit = METRIC_FORMATS[metric]
    if rule == "ratio_at_most":
        ratio = sum(arm) / max(sum(baseline), 1e-9)
        return ratio <= threshold, f"{label} x{ratio:.2f}"
    if rule == "max_at_most":
        peak = max(arm, default=0.0)
        return peak <= threshold, f"{label} {format_metric(metric, peak)}{unit}"
    diff, low, high = difference_interval(arm, baseline)
    if rule == "mean_within":
        return abs(diff) <= threshold, f"{label} {format_metric(metric, diff)}{unit}"
    if rule not in INTERVAL_RULES:
        raise ValueError(f"unknown rule {rule!r} in a hypothesis of siri_verl/lab/verdicts.py")
    low_text, high_text = format_metric(metric, low), format_metric(metric, high)
    measured = f"{label} {format_metric(metric, diff)}{unit} [{low_text}, {high_text}]"
    end, compare = INTERVAL_RULES[rule]
    bound = low if end == "low" else high
    return (None if math.isnan(bound) else compare(bound, threshold)), measured


def hypotheses(rows: dict[str, list[dict]]) -> list[tuple[str, str, str, str]]:
    """(hypothesis, criterion, measured, verdict) for every hypothesis whose two arms were run
    (both have values of its first condition's metric)."""
    out = []
    for hypothesis in HYPOTHESES:
        first = hypothesis.conditions[0].metric
        if not (metric_values(rows, hypothesis.arm, first) and metric_values(rows, hypothesis.baseline, first)):
            continue
        held, measured = [], []
        for condition in hypothesis.conditions:
            ok, text = judge(
                condition,
                metric_values(rows, hypothesis.arm, condition.metric),
                metric_values(rows, hypothesis.baseline, condition.metric),
            )
            held.append(ok)
            measured.append(text)
        if hypothesis.quoted and (quoted := metric_values(rows, hypothesis.quoted[0], "acc")):
            measured.append(f"{hypothesis.quoted[1]} {100 * sum(quoted) / len(quoted):.1f} %")
        verdict = INCONCLUSIVE if None in held else PASSED if all(held) else FAILED
        out.append((f"{hypothesis.name}: {hypothesis.claim}", hypothesis.criterion, "; ".join(measured), verdict))
    return out
