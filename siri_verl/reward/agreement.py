"""Self-test of the checker on real benchmark data (``python -m siri_verl.bench agreement``).

Each benchmark row gives a gold answer and a response that states it (the dataset's own worked
solution where it boxes its answer, otherwise a short response boxing the answer as a model
would write it). Every such response must score correct; the same response with the answer
perturbed (last integer +1, another option letter, or a changed expression) must score wrong.
The test suite and ``results/answer_checker.md`` both come from ``run_agreement``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from siri_verl.reward.extract import last_boxed

# Where the benchmark files are when no directory is passed: a directory holding benchmarks/.
DATA_ENV = "SIRI_VERL_SHARED_DATA"
BENCHMARK_FILES = (
    "math500.jsonl", "minerva_math.jsonl", "aime24.jsonl", "aime25.jsonl", "amc23.jsonl", "amc_2022_2023.json",
    "olympiadbench.jsonl", "gpqa_diamond_mcq.jsonl",
)  # fmt: skip


def benchmark_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The directory whose ``benchmarks/`` holds :data:`BENCHMARK_FILES`: ``data_dir``, else
    ``$SIRI_VERL_SHARED_DATA``. Raises ``FileNotFoundError`` naming what to set when neither is
    given or the directory has no ``benchmarks/``."""
    chosen = data_dir or os.environ.get(DATA_ENV)
    if not chosen:
        raise FileNotFoundError(
            f"no benchmark data: pass --data-dir DIR (or data_dir=) or set {DATA_ENV}=DIR, a directory whose "
            f"benchmarks/ holds {', '.join(BENCHMARK_FILES)}"
        )
    path = Path(chosen)
    if not (path / "benchmarks").is_dir():
        origin = "data_dir" if data_dir else DATA_ENV
        raise FileNotFoundError(f"{path / 'benchmarks'} is not a directory ({origin}={chosen})")
    return path


@dataclass
class Case:
    dataset: str
    row: int
    gold: object  # as stored: str, float or list
    response: str  # a response whose final answer is the gold answer
    perturbed: str  # the same answer made wrong


def _rows(path: Path) -> list[dict]:
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else [json.loads(line) for line in text.split("\n") if line.strip()]


def _as_written(gold) -> str:
    """How a model would box the gold answer: ``27`` for 27.0, no ``$`` delimiters."""
    if isinstance(gold, list):
        return ", ".join(_as_written(g) for g in gold)
    if isinstance(gold, float) and gold.is_integer():
        return str(int(gold))
    return str(gold).strip().strip("$").strip()


def perturb(answer: str) -> str:
    """A different answer: next option letter, first integer + 1 (the last is often a unit's
    exponent, as in ``864 \\mbox{ inches}^2``), or the expression plus one."""
    if re.fullmatch(r"[A-J]", answer):
        return "ABCDEFGHIJ"[("ABCDEFGHIJ".index(answer) + 1) % 4]
    m = re.search(r"\d+", answer)
    if m:
        return answer[: m.start()] + str(int(m.group()) + 1) + answer[m.end() :]
    if answer.startswith("\\text{"):
        return "\\text{none of these}"
    return f"{answer}+1"


def _boxed_response(reasoning: str, answer: str) -> str:
    return f"{reasoning}\n</think>\n\nThe final answer is $\\boxed{{{answer}}}$."


def load_cases(data_dir: str | os.PathLike | None = None) -> list[Case]:
    bench = benchmark_data_dir(data_dir) / "benchmarks"
    cases: list[Case] = []

    def add(dataset: str, i: int, gold, response: str, answer: str) -> None:
        cases.append(Case(dataset, i, gold, response, _boxed_response("", perturb(answer))))

    for i, r in enumerate(_rows(bench / "math500.jsonl")):
        add("math500", i, r["answer"], r["solution"], r["answer"])
    for i, r in enumerate(_rows(bench / "minerva_math.jsonl")):
        gold = last_boxed(r["solution"]) or ""
        add("minerva_math", i, gold, r["solution"], gold)
    for name in ("aime24.jsonl", "aime25.jsonl", "amc23.jsonl", "amc_2022_2023.json"):
        for i, r in enumerate(_rows(bench / name)):
            ans = _as_written(r["answer"])
            sol = r.get("solution", "")
            response = sol if "\\boxed" in sol else _boxed_response(sol, ans)
            add(name.split(".")[0], i, r["answer"], response, ans)
    for i, r in enumerate(_rows(bench / "olympiadbench.jsonl")):
        ans = _as_written(r["final_answer"])
        add("olympiadbench", i, r["final_answer"], _boxed_response("\n".join(r["solution"]), ans), ans)
    forms = ("{}", "({})", "\\text{{{}}}")  # the forms GPQA answers take in practice
    for i, r in enumerate(_rows(bench / "gpqa_diamond_mcq.jsonl")):
        add("gpqa_diamond", i, r["answer"], _boxed_response("", forms[i % 3].format(r["answer"])), r["answer"])
    return cases


def run_agreement(data_dir: str | os.PathLike | None = None, num_workers: int | None = None) -> dict:
    """Score every case both ways; returns rates and the list of disagreements."""
    from siri_verl.reward.score import score_batch

    cases = load_cases(data_dir)
    items = [("", c.response, c.gold, None) for c in cases] + [("", c.perturbed, c.gold, None) for c in cases]
    results = score_batch(items, num_workers=num_workers)
    n = len(cases)
    disagreements = []
    for k, res in enumerate(results):
        case, expect_correct = cases[k % n], k < n
        if res["acc"] != expect_correct:
            disagreements.append({"dataset": case.dataset, "row": case.row, "expected": "correct" if expect_correct else "wrong",
                                  "gold": case.gold, "pred": res["pred"], "reason": res["reason"]})
    bad_pos = sum(d["expected"] == "correct" for d in disagreements)
    return {"n": n, "correct_rate": 1 - bad_pos / n, "wrong_rate": 1 - (len(disagreements) - bad_pos) / n,
            "reasons": _count(r["reason"] for r in results), "disagreements": disagreements}


def _count(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out
