"""``python -m siri_verl.lab.headroom``: can SIRI's hypotheses pass or fail on the toy task?

A toy study on a task where the starting policy is already concise, or already at its ceiling,
measures nothing about SIRI (results/toy_study.md of the first study: every arm ended at the
concise floor). So before any reported run the study checks, on **tuning seeds** (sampling seeds
no reported run uses) and the **tune split** (never the test split), that its warm start leaves
room for what SIRI claims:

1. **room to compress**: at the eval temperature it writes at least 1.5x the concise solution's
   tokens (the same problems' concise solutions, EOS included);
2. **room to learn**: its sampled accuracy at the eval temperature is between 40 % and 75 %;
3. **the cap binds, then releases**: the SIRI schedule's L_min is below the median length of its
   correct responses at the training temperature, and L_max above their 95th percentile;
4. **extra reasoning can help** at the training temperature: its verbose responses (with
   re-checks) are correct more often than its concise ones, within the same digit count (a 95 %
   bootstrap interval over problems above 0), so a constant cap has a reason to keep length and
   SIRI something to trade.

Each check is a :class:`Check` (criterion, measured value, verdict); :func:`headroom_markdown`
is the table the study report prints first. The command exits 1 when a check fails. The samples come from ``siri_verl.eval`` under the
study's protocol (:func:`siri_verl.lab.study_eval.evaluate`), at T = 0.6 and at the recipes'
training temperature.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shlex
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# Sampling seeds for tuning and these checks; the reported runs use 0, 1, 2 (REPORTED_SEEDS).
TUNING_SEEDS = (100, 101)
EVAL_TEMPERATURE = 0.6  # the study's eval protocol (conf/eval/eval_protocol/toy.yaml)
SIRI_RECIPE = "toy_siri_cosine"  # the schedule whose L_min and L_max check 3 tests

RECHECK_PARAGRAPH = re.compile(r"(?m)^W")
# A seed's problems are numbered apart from another seed's (their samples are separate draws).
_SEED_OFFSET = 100_000


@dataclass(frozen=True)
class Check:
    name: str
    criterion: str
    measured: str
    passed: bool


@dataclass(frozen=True)
class Sample:
    """One scored response of the warm start to a tune problem."""

    problem: int
    digits: int
    tokens: int
    correct: bool
    verbose: bool  # it re-checks (a paragraph starting with W)
    finished: bool = True  # it ended within the budget (a looping response does not)


def samples_of(generations: Path, questions: list[str], first_id: int = 0) -> list[Sample]:
    """The eval's generation records (``siri_verl.eval``'s JSONL) as :class:`Sample` s, problem
    ``i`` of the eval numbered ``first_id + i``."""
    from siri_verl.jsonl import read_log

    samples = []
    for record in read_log(generations).records:
        text = record["text"]
        samples.append(
            Sample(
                problem=first_id + record["problem"],
                digits=len(questions[record["problem"]]) - 1,  # Q<digits>
                tokens=int(record["tokens"]),
                correct=bool(record["correct"]),
                verbose=bool(RECHECK_PARAGRAPH.search(text)),
                finished=not record.get("truncated", False),
            )
        )
    return samples


def verbose_advantage(samples: list[Sample]) -> float | None:
    """Accuracy of verbose minus concise responses that finished, within each digit count,
    averaged over the digit counts that have both (weighted by their samples); None when no count
    has both. A response cut off at the budget (a loop, of either style) is neither: the check
    asks whether re-checking a step pays, not whether looping does."""
    total, weight = 0.0, 0
    for digits in sorted({s.digits for s in samples}):
        group = [s for s in samples if s.digits == digits and s.finished]
        verbose = [s.correct for s in group if s.verbose]
        concise = [s.correct for s in group if not s.verbose]
        if verbose and concise:
            total += len(group) * (statistics.fmean(verbose) - statistics.fmean(concise))
            weight += len(group)
    return total / weight if weight else None


def bootstrap_interval(samples: list[Sample], statistic, resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of ``statistic(samples)`` resampling problems (with all their
    samples), since a problem's samples are not independent."""
    by_problem: dict[int, list[Sample]] = {}
    for sample in samples:
        by_problem.setdefault(sample.problem, []).append(sample)
    problems = sorted(by_problem)
    rng = random.Random(seed)
    values = []
    for _ in range(resamples):
        drawn = [s for p in rng.choices(problems, k=len(problems)) for s in by_problem[p]]
        value = statistic(drawn)
        if value is not None:
            values.append(value)
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def concise_tokens(tokenizer, questions: list[str]) -> list[int]:
    """Tokens of each problem's concise solution, as the model would write it (EOS included)."""
    from siri_verl.lab.running_sums import SumProblem

    lengths = []
    for question in questions:
        response = SumProblem(tuple(int(d) for d in question[1:])).response()
        lengths.append(len(tokenizer(response, add_special_tokens=False)["input_ids"]) + 1)
    return lengths


def checks(eval_samples: list[Sample], train_samples: list[Sample], concise, l_min: int, l_max: int,
           train_temperature: float) -> list[Check]:  # fmt: skip
    """The four checks from the samples at the eval and the training temperature; ``concise``
    maps a sample's problem to its concise solution's tokens."""
    mean_tokens = statistics.fmean(s.tokens for s in eval_samples)
    floor = statistics.fmean(concise[s.problem] for s in eval_samples)
    accuracy = statistics.fmean(s.correct for s in eval_samples)
    correct = [s.tokens for s in train_samples if s.correct]
    median, p95 = (float(v) for v in np.percentile(correct, [50, 95])) if correct else (float("nan"),) * 2
    advantage = verbose_advantage(train_samples)
    low, high = bootstrap_interval(train_samples, verbose_advantage) if advantage is not None else (float("nan"),) * 2
    finished = [s.verbose for s in train_samples if s.finished]
    verbose_share = statistics.fmean(finished) if finished else float("nan")
    t = f"T = {train_temperature:g}"
    return [
        Check(
            "room to compress",
            f"mean tokens at T = {EVAL_TEMPERATURE:g} >= 1.5x the concise solution's",
            f"{mean_tokens:.1f} tokens against {floor:.1f}: x{mean_tokens / floor:.2f}",
            mean_tokens >= 1.5 * floor,
        ),
        Check(
            "room to learn",
            f"sampled accuracy at T = {EVAL_TEMPERATURE:g} in [40 %, 75 %]",
            f"{100 * accuracy:.1f} %",
            0.40 <= accuracy <= 0.75,
        ),
        Check(
            "the cap binds, then releases",
            f"L_min < median and L_max > 95th percentile of correct responses' tokens at {t}",
            f"L_min {l_min} vs median {median:.0f}; L_max {l_max} vs p95 {p95:.0f} ({len(correct)} correct)",
            bool(correct) and l_min < median and l_max > p95,
        ),
        Check(
            "extra reasoning can help",
            f"verbose minus concise accuracy of finished responses within a digit count at {t}: 95 % interval above 0",
            "no digit count has both styles"
            if advantage is None
            else f"{100 * advantage:+.1f} points [{100 * low:+.1f}, {100 * high:+.1f}]; verbose share "
            f"{100 * verbose_share:.0f} % of finished responses",
            advantage is not None and low > 0,
        ),
    ]


def headroom_markdown(found: list[Check], meta: dict) -> str:
    lines = [
        "## Headroom checks (tuning seeds, tune split; before any reported run)",
        "",
        f"Model: `{meta['model']}`. Tune problems: {meta['problems']}, {meta['n']} samples each per seed, "
        f"sampling seeds {meta['seeds']} (never a reported seed). Command: `{meta['command']}`.",
        "",
        "| check | criterion | measured | verdict |",
        "|---|---|---|---|",
    ]
    lines += [f"| {c.name} | {c.criterion} | {c.measured} | **{'passed' if c.passed else 'failed'}** |" for c in found]
    return "\n".join(lines) + "\n"


def run_headroom(model: str, out: Path, seeds: tuple[int, ...], limit: int | None, n: int) -> tuple[list[Check], dict]:
    """Evaluate ``model`` on the tune split at both temperatures for every seed; the checks."""
    from siri_verl.assets import asset_or_path, resolve_asset
    from siri_verl.config import compose_recipe
    from siri_verl.eval.run import load_problems
    from siri_verl.lab.study_arms import Arm
    from siri_verl.lab.study_eval import evaluate

    recipe = compose_recipe(SIRI_RECIPE)
    l_min, l_max = int(recipe.schedule.l_min), int(recipe.schedule.l_max)
    train_temperature = float(recipe.actor_rollout_ref.rollout.temperature)
    arm = Arm("headroom", None, "final", model, side="siri", mode="long", benchmark="running_sums_tune",
              max_tokens=l_max)  # fmt: skip
    questions = [p.question for p in load_problems(Path(resolve_asset("running_sums_tune")), limit)]
    model_dir = asset_or_path(model)
    by_temperature: dict[float, list[Sample]] = {}
    for temperature in (EVAL_TEMPERATURE, train_temperature):
        for seed in seeds:
            eval_dir = out / f"T{temperature:g}" / f"seed{seed}"
            evaluate(arm, model_dir, seed, eval_dir, limit, n, {}, f"headroom T={temperature:g} seed {seed}",
                     extra=(f"temperature={temperature}",))  # fmt: skip
            # problems are numbered per eval: each seed's apart, for the bootstrap
            first_id = _SEED_OFFSET * seeds.index(seed)
            generations = eval_dir / "generations" / "running_sums_tune.jsonl"
            by_temperature.setdefault(temperature, []).extend(samples_of(generations, questions, first_id))
    from transformers import AutoTokenizer

    lengths = concise_tokens(AutoTokenizer.from_pretrained(model_dir), questions)
    concise = {p + _SEED_OFFSET * i: length for i in range(len(seeds)) for p, length in enumerate(lengths)}
    found = checks(by_temperature[EVAL_TEMPERATURE], by_temperature[train_temperature], concise, l_min, l_max,
                   train_temperature)  # fmt: skip
    meta = {"model": model, "problems": len(questions), "n": n, "seeds": list(seeds), "l_min": l_min, "l_max": l_max}
    return found, meta


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m siri_verl.lab.headroom",
        description="Check, on tuning seeds and the tune split, that the toy task leaves SIRI room: the warm start "
        "writes >= 1.5x the concise solution, its accuracy is 40-75 %, the schedule's caps bind then release, and "
        "re-checks help at the training temperature.",
        epilog="example: python -m siri_verl.lab.headroom --out headroom_run   "
        "(smoke: --model toy_reasoner_base --limit 8 --seeds 100)",
    )
    parser.add_argument("--model", default="toy_warmstart_model", help="starting policy (asset or HF directory)")
    parser.add_argument("--out", default="headroom_run", help="work directory for the evals")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(TUNING_SEEDS))
    parser.add_argument("--limit", type=int, default=None, help="tune problems (default: all)")
    parser.add_argument("--n", type=int, default=4, help="samples per problem and seed")
    args = parser.parse_args(argv)
    args.argv = argv
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from siri_verl.lab.study_arms import REPORTED_SEEDS

    if set(args.seeds) & set(REPORTED_SEEDS):
        raise SystemExit(f"headroom: seeds {sorted(set(args.seeds) & set(REPORTED_SEEDS))} are reported seeds; "
                         "the checks use tuning seeds only")  # fmt: skip
    out = Path(args.out).resolve()
    found, meta = run_headroom(args.model, out, tuple(args.seeds), args.limit, args.n)
    meta["command"] = "python -m siri_verl.lab.headroom " + shlex.join(args.argv)
    (out / "headroom.json").write_text(json.dumps({"checks": [asdict(c) for c in found], **meta}, indent=2))
    print(headroom_markdown(found, meta))
    return 0 if all(c.passed for c in found) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
