"""An offline toy task whose answers are checkable in ``\\boxed{}``: single-digit addition.

The embedded default (``recipe=tiny``) trains on it, so the whole pipeline runs with no hub.
Each reference solution "thinks" by counting up from ``a`` one step at a time, so the length
of a correct response grows with ``b``: a moving length cap (SIRI) has something to squeeze.

Rows follow verl's RL parquet layout (``data_source``, ``prompt`` as chat messages,
``reward_model.ground_truth``, ``extra_info``) in the DeepSeek-R1-Distill chat style.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from siri_verl.data.prepare import write_parquet_atomic

DATA_SOURCE = "toy_addition"


@dataclass(frozen=True)
class AdditionProblem:
    a: int
    b: int

    @property
    def question(self) -> str:
        return f"What is {self.a}+{self.b}?"

    @property
    def answer(self) -> str:
        return str(self.a + self.b)

    def reference_response(self) -> str:
        """The response the warm-up teaches: count up ``b`` times, then box the sum."""
        steps = " ".join(str(self.a + i) for i in range(1, self.b + 1))
        return f"{self.a}+{self.b}: {steps}\n</think>\n\\boxed{{{self.answer}}}"


def all_problems() -> list[AdditionProblem]:
    return [AdditionProblem(a, b) for a in range(10) for b in range(10)]


def split_problems(seed: int = 0, num_val: int = 20) -> tuple[list[AdditionProblem], list[AdditionProblem]]:
    """A fixed train/validation split of the 100 problems."""
    problems = all_problems()
    random.Random(seed).shuffle(problems)
    return problems[num_val:], problems[:num_val]


def to_verl_row(problem: AdditionProblem, index: int, split: str, agent_name: str | None = None) -> dict:
    row = {
        "data_source": DATA_SOURCE,
        "prompt": [{"role": "user", "content": problem.question}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": problem.answer},
        "extra_info": {"split": split, "index": index},
    }
    if agent_name:
        row["agent_name"] = agent_name
    return row


def write_parquet(out_dir: str | Path, seed: int = 0, agent_name: str | None = None) -> tuple[Path, Path]:
    """Write ``train.parquet`` and ``val.parquet`` under ``out_dir`` (atomically: the asset that
    builds them trusts a file that exists) and return their paths."""
    out_dir = Path(out_dir)
    train, val = split_problems(seed)
    paths = []
    for split, problems in (("train", train), ("val", val)):
        rows = [to_verl_row(p, i, split, agent_name) for i, p in enumerate(problems)]
        path = out_dir / f"{split}.parquet"
        write_parquet_atomic(rows, path)
        paths.append(path)
    return paths[0], paths[1]
