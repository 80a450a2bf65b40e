"""Before -> after on the same validation problems, from verl's validation dumps.

With ``trainer.validation_data_dir`` set, verl's trainer writes each validation's samples to
``<dir>/<global step>.jsonl``, one JSON object per sample: the prompt (``input``), the response,
``score`` and the reward function's extra fields (this project's: ``acc``, ``response_tokens``).
The first and the last dump of a run hold the same problems, so a change is measured problem by
problem (paired): the spread between easy and hard problems cancels, and what is left is the
sampling error of the change itself. The interval is the normal 95 % interval of the mean
per-problem difference (hundreds of problems: the t and normal quantiles agree to 1 %); the
tokens ratio's interval is that of the mean token difference over the before mean, taken as fixed.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

_Z = statistics.NormalDist().inv_cdf(0.975)


@dataclass(frozen=True)
class PairedChange:
    """Accuracy and tokens of one run's first and last validation, on the problems both hold."""

    problems: int
    samples_per_problem: float  # mean over problems, after
    before_step: int
    after_step: int
    acc_before: float
    acc_after: float
    acc_diff_low: float  # 95 % interval of acc_after - acc_before
    acc_diff_high: float
    tokens_before: float | None  # None when the reward reports no response_tokens
    tokens_after: float | None
    tokens_ratio_low: float | None  # 95 % interval of tokens_after / tokens_before
    tokens_ratio_high: float | None

    def line(self) -> str:
        """The summary's line, e.g. ``accuracy 0.560 -> 0.548 (-0.012 [-0.041, +0.017]), ...``."""
        diff = self.acc_after - self.acc_before
        text = (
            f"paired on {self.problems} validation problems x {self.samples_per_problem:g} samples "
            f"(step {self.before_step} -> {self.after_step}): accuracy {self.acc_before:.3f} -> {self.acc_after:.3f} "
            f"({diff:+.3f} [{self.acc_diff_low:+.3f}, {self.acc_diff_high:+.3f}])"
        )
        if self.tokens_before is not None:
            ratio = self.tokens_after / self.tokens_before
            text += (
                f", tokens {self.tokens_before:.1f} -> {self.tokens_after:.1f} "
                f"(x{ratio:.2f} [{self.tokens_ratio_low:.2f}, {self.tokens_ratio_high:.2f}])"
            )
        return text


def read_dump(path: Path) -> dict[str, list[tuple[float, float | None]]]:
    """``{prompt: [(acc, response tokens or None), ...]}`` of one validation dump.

    A sample's accuracy is its ``acc`` field, else ``score > 0``. A line that is not a JSON object
    with ``input`` and ``score`` raises, naming the file and line.
    """
    per_problem: dict[str, list[tuple[float, float | None]]] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            prompt, score = row["input"], float(row["score"])
            acc = float(row["acc"]) if "acc" in row else float(score > 0)
            tokens = float(row["response_tokens"]) if row.get("response_tokens") is not None else None
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"{path} line {number}: not a validation sample ({error!r})") from error
        per_problem.setdefault(prompt, []).append((acc, tokens))
    return per_problem


def dumps_of(dump_dir: Path) -> list[tuple[int, Path]]:
    """``(step, file)`` of every ``<step>.jsonl`` in ``dump_dir``, by step."""
    found = [(int(p.stem), p) for p in Path(dump_dir).glob("*.jsonl") if p.stem.isdigit()]
    return sorted(found)


def _interval(differences: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(differences)
    if len(differences) < 2:
        return mean, mean
    half = _Z * statistics.stdev(differences) / len(differences) ** 0.5
    return mean - half, mean + half


def paired_change(dump_dir: Path) -> PairedChange | None:
    """The first dump against the last, on the problems both hold; None with fewer than two dumps
    or no problem in common."""
    dumps = dumps_of(dump_dir)
    if len(dumps) < 2:
        return None
    (before_step, before_path), (after_step, after_path) = dumps[0], dumps[-1]
    before, after = read_dump(before_path), read_dump(after_path)
    shared = sorted(set(before) & set(after))
    if not shared:
        return None

    def mean(samples, index):
        return statistics.fmean(s[index] for s in samples)

    acc_before = [mean(before[p], 0) for p in shared]
    acc_after = [mean(after[p], 0) for p in shared]
    low, high = _interval([a - b for a, b in zip(acc_after, acc_before)])
    has_tokens = all(s[1] is not None for p in shared for s in (*before[p], *after[p]))
    tokens = (None, None, None, None)
    if has_tokens:
        tokens_before = [mean(before[p], 1) for p in shared]
        tokens_after = [mean(after[p], 1) for p in shared]
        base = statistics.fmean(tokens_before)
        diff_low, diff_high = _interval([a - b for a, b in zip(tokens_after, tokens_before)])
        tokens = (base, statistics.fmean(tokens_after), 1 + diff_low / base, 1 + diff_high / base)
    return PairedChange(
        problems=len(shared),
        samples_per_problem=statistics.fmean(len(after[p]) for p in shared),
        before_step=before_step,
        after_step=after_step,
        acc_before=statistics.fmean(acc_before),
        acc_after=statistics.fmean(acc_after),
        acc_diff_low=low,
        acc_diff_high=high,
        tokens_before=tokens[0],
        tokens_after=tokens[1],
        tokens_ratio_low=tokens[2],
        tokens_ratio_high=tokens[3],
    )
