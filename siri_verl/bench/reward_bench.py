"""Reward benchmarks: ``reward`` (responses/second vs verl's scorers) and ``agreement`` (real data).

``reward`` scores ``--n`` synthetic ~4K-token responses (reasoning text around real gold answers
from ../shared/data when present, else arithmetic problems; a mix of correct, wrong, truncated
and no-answer) with ``score_batch`` over ``--workers`` processes, then times verl's
``math_verify.compute_score`` and ``math_dapo.compute_score`` in the same run, called one at a
time on the main thread as verl's NaiveRewardManager calls them (on the first ``--baseline-n``
responses when the full set would take too long). All pools are warmed before timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import time
from pathlib import Path

from siri_verl.reward.agreement import (
    DATA_ENV,
    _as_written,
    _rows,
    benchmark_data_dir,
    perturb,
)

_WORDS = ("so", "then", "we", "get", "note", "that", "hence", "the", "sum", "of", "terms", "is", "wait",
          "let", "me", "check", "again", "consider", "case", "where", "and", "thus", "value", "equals")


def _gold_answers(seed: int) -> list:
    """Real gold answers when ``$SIRI_VERL_SHARED_DATA`` names the benchmark files, else random integers."""
    bench = benchmark_data_dir() / "benchmarks" if os.environ.get(DATA_ENV) else None
    if bench is not None:
        golds = [r["answer"] for r in _rows(bench / "math500.jsonl")]
        golds += [r["final_answer"] for r in _rows(bench / "olympiadbench.jsonl")]
        golds += [r["answer"] for r in _rows(bench / "amc_2022_2023.json")]
        golds += [r["answer"] for r in _rows(bench / "gpqa_diamond_mcq.jsonl")]
        return golds
    rng = random.Random(seed)
    return [str(rng.randint(-999, 9999)) for _ in range(500)]


def _reasoning(rng: random.Random, chars: int) -> str:
    """Filler that looks like a chain of thought: words, inline maths, an intermediate box."""
    parts, size = [], 0
    while size < chars:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        piece = " ".join(rng.choices(_WORDS, k=rng.randint(6, 14)))
        piece += f" $\\frac{{{a}}}{{{b}}} + {a}^2 = {a * a}$," if rng.random() < 0.5 else f" ${a} \\cdot {b} = {a * b}$."
        parts.append(piece)
        size += len(piece) + 1
    parts.insert(len(parts) // 2, f"so far \\boxed{{{rng.randint(1, 99)}}} but wait")
    return " ".join(parts)


def make_items(n: int, seed: int = 0, chars: int = 16_000) -> list[tuple]:
    """``n`` (data_source, response, gold, extra_info) rows: 50% correct, 25% wrong, 12.5% truncated,
    12.5% no answer. ~16K characters is ~4K tokens of English-and-LaTeX text."""
    rng, golds = random.Random(seed), _gold_answers(seed)
    items = []
    for i in range(n):
        gold = rng.choice(golds)
        answer, kind = _as_written(gold), ("correct", "correct", "wrong", "truncated", "correct", "correct", "wrong", "no_answer")[i % 8]
        if kind == "correct" and rng.random() < 0.3:
            answer = answer.replace("\\frac", "\\dfrac") if "\\frac" in answer else f"{answer} "
        think = _reasoning(rng, chars)
        if kind == "truncated":
            items.append(("bench", think, gold, {"truncated": True}))
            continue
        final = {"correct": answer, "wrong": perturb(answer)}.get(kind)
        tail = f"\n</think>\n\nTherefore the answer is $\\boxed{{{final}}}$." if final else "\n</think>\n\nI could not finish."
        items.append(("bench", think + tail, gold, None))
    return items


def _hardware() -> str:
    try:
        cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if ln.startswith("Model name")), "?")
    except OSError:
        model = platform.processor() or "?"
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"nproc={nproc}, CPU model: {model}, Python {platform.python_version()}"


def _time(fn, items) -> tuple[float, list]:
    t0 = time.perf_counter()
    out = fn(items)
    return time.perf_counter() - t0, out


def run_bench(n: int = 4096, workers: int = 2, baseline_n: int = 512, seed: int = 0) -> dict:
    from verl.utils.reward_score import math_dapo
    from verl.utils.reward_score import math_verify as verl_math_verify

    from siri_verl.reward.checker import math_verify_pool
    from siri_verl.reward.score import score_batch

    items = make_items(n, seed)
    math_verify_pool(workers).run(len, ("warm",), 60)
    verl_math_verify.compute_score("\\boxed{1}", "1")
    ours_s, ours = _time(lambda xs: score_batch(xs, num_workers=workers), items)
    base = items[: min(baseline_n, n)]
    gold_str = lambda g: _as_written(g)  # verl's scorers expect a string ground truth
    mv_s, _ = _time(lambda xs: [verl_math_verify.compute_score(r, gold_str(g)) for _, r, g, _ in xs], base)
    dapo_s, _ = _time(lambda xs: [math_dapo.compute_score(r, gold_str(g)) for _, r, g, _ in xs], base)
    rates = {"ours": n / ours_s, "verl_math_verify": len(base) / mv_s, "verl_math_dapo": len(base) / dapo_s}
    reasons: dict = {}
    for r in ours:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    return {"n": n, "baseline_n": len(base), "workers": workers, "mean_chars": sum(len(r) for _, r, _, _ in items) / n,
            "seconds": {"ours": ours_s, "verl_math_verify": mv_s, "verl_math_dapo": dapo_s},
            "responses_per_s": rates, "ratio_vs_math_verify": rates["ours"] / rates["verl_math_verify"],
            "ratio_vs_math_dapo": rates["ours"] / rates["verl_math_dapo"], "reasons": reasons, "hardware": _hardware(),
            "golds": "real gold answers from $SIRI_VERL_SHARED_DATA's benchmarks (MATH-500, OlympiadBench, AMC 2022-23, "
                     "GPQA letters)" if os.environ.get(DATA_ENV) else "random integer gold answers"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m siri_verl.bench reward",
        description="Answer-checker throughput: score --n synthetic ~4K-token responses with score_batch, and time\n"
        "verl's math_verify and math_dapo scorers on the same responses; prints JSON.",
        epilog="example:\n  python -m siri_verl.bench reward --n 4096 --workers 2 --write   # -> results/bench_reward.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--n", type=int, default=4096, help="responses scored by ours (default %(default)s)")
    ap.add_argument("--workers", type=int, default=2, help="checker worker processes (default %(default)s)")
    ap.add_argument("--baseline-n", type=int, default=512, help="responses timed for verl's scorers")
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic responses")
    ap.add_argument("--write", action="store_true", help="write results/bench_reward.md (under the current directory)")
    args = ap.parse_args(argv)
    res = run_bench(args.n, args.workers, args.baseline_n, args.seed)
    print(json.dumps(res, indent=2))
    if args.write:
        _write_bench_md(res, args)
    return 0


def _write_bench_md(res: dict, args) -> None:
    cmd = f"python -m siri_verl.bench reward --n {args.n} --workers {args.workers} --baseline-n {args.baseline_n} --write"
    r, s = res["responses_per_s"], res["seconds"]
    subset = (f"all {res['n']} responses" if res["baseline_n"] == res["n"]
              else f"the first {res['baseline_n']} of the same responses (the full set would take too long)")
    text = f"""# Reward throughput: siri_verl.reward vs verl's scorers

Command (one run, all figures below come from it): `{cmd}`

Hardware: {res['hardware']}. Responses: n={res['n']} synthetic ~4K-token responses (mean
{res['mean_chars']:.0f} characters) around {res['golds']}: 50% correct (30% of those in another written form),
25% wrong, 12.5% truncated, 12.5% no answer. Our reasons: {res['reasons']}.

| scorer | responses timed | seconds | responses/s | ours / theirs |
|---|---|---|---|---|
| `siri_verl.reward.score_batch` ({res['workers']} worker processes) | {res['n']} | {s['ours']:.2f} | {r['ours']:.0f} | 1 |
| `verl.utils.reward_score.math_verify.compute_score` | {res['baseline_n']} | {s['verl_math_verify']:.2f} | {r['verl_math_verify']:.1f} | **{res['ratio_vs_math_verify']:.1f}x** |
| `verl.utils.reward_score.math_dapo.compute_score` | {res['baseline_n']} | {s['verl_math_dapo']:.2f} | {r['verl_math_dapo']:.0f} | {res['ratio_vs_math_dapo']:.2f}x |

verl's scorers are called one response at a time on the main thread, as verl's
NaiveRewardManager calls them (its math_verify wrapper sends each call to its own spawn pool of
4 processes and waits), on {subset}. All process pools were started and warmed before timing.
math_dapo reads only the last 300 characters and compares normalised strings (no symbolic
equivalence, so e.g. `\\sqrt{{4}}` vs `2` or reordered sets are wrong for it): it is a speed
reference rather than an equal.

Why ours is fast: only the last 4,096 characters after `</think>` are scanned for the last
`\\boxed{{}}`; normalised string equality, exact numbers/fractions, option letters and base-n
answers are settled in-process; only the rest goes to math-verify, in worker processes that
cache the parsed gold answer.
"""
    Path("results").mkdir(exist_ok=True)
    Path("results", "bench_reward.md").write_text(text)


def main_agreement(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m siri_verl.bench agreement",
        description="Answer-checker agreement on real benchmark data (--data-dir or $SIRI_VERL_SHARED_DATA): each gold answer as a\n"
        "response states it must score correct, the same with the answer perturbed must score wrong.",
        epilog="example:\n  python -m siri_verl.bench agreement --data-dir DIR --workers 2   # DIR/benchmarks/math500.jsonl ...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--workers", type=int, default=2, help="checker worker processes (default %(default)s)")
    ap.add_argument("--json", action="store_true", help="print the full result as JSON")
    ap.add_argument("--data-dir", default=None, help=f"directory holding benchmarks/ (default: ${DATA_ENV})")
    args = ap.parse_args(argv)
    from siri_verl.reward.agreement import run_agreement

    t0 = time.perf_counter()
    try:
        res = run_agreement(args.data_dir, num_workers=args.workers)
    except FileNotFoundError as error:
        raise SystemExit(f"agreement: {error}") from None
    res["seconds"] = time.perf_counter() - t0
    if args.json:
        print(json.dumps(res, indent=2, default=str))
        return 0
    print(f"cases={res['n']} gold scored correct: {res['correct_rate']:.4%}  perturbed scored wrong: "
          f"{res['wrong_rate']:.4%}  reasons={res['reasons']}  ({res['seconds']:.1f}s)")
    for d in res["disagreements"]:
        print(f"  {d['dataset']}#{d['row']}: expected {d['expected']}, got {d['reason']}; gold={d['gold']!r} pred={d['pred']!r}")
    return 0
