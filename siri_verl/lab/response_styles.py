"""``python -m siri_verl.lab.response_styles DIR...``: what an arm's responses did, from its evals.

Each ``DIR`` is searched for ``siri_verl.eval`` generation logs (``generations/*.jsonl``; a study
arm's ``eval/<arm>`` holds one per seed, all pooled). A response cut off at its budget is a loop
(the running-sums task's chosen failure); a finished one is verbose when it has a re-check
paragraph, concise otherwise (the headroom checks' classification, siri_verl/lab/headroom.py).
One markdown row per ``DIR``: loops, verbose share of finished responses, and the accuracy and
tokens of each style.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from siri_verl.jsonl import read_log
from siri_verl.lab.headroom import RECHECK_PARAGRAPH

HEADER = (
    "| responses | n | loops | verbose share of finished | accuracy of finished verbose | "
    "accuracy of finished concise | tokens of finished verbose / concise |\n|---|---:|---:|---:|---:|---:|---:|"
)


@dataclass(frozen=True)
class Styles:
    n: int
    loops: float
    verbose_share: float
    verbose_acc: float
    concise_acc: float
    verbose_tokens: float
    concise_tokens: float


def styles_of(records: list[dict]) -> Styles:
    """The split of eval records (``text``, ``tokens``, ``truncated``, ``correct``) by what they did."""
    if not records:
        raise ValueError("no generation records")
    finished = [r for r in records if not r["truncated"]]
    verbose = [r for r in finished if RECHECK_PARAGRAPH.search(r["text"])]
    concise = [r for r in finished if not RECHECK_PARAGRAPH.search(r["text"])]

    def mean(rows, key):
        return statistics.fmean(float(r[key]) for r in rows) if rows else float("nan")

    return Styles(
        n=len(records),
        loops=1 - len(finished) / len(records),
        verbose_share=len(verbose) / len(finished) if finished else float("nan"),
        verbose_acc=mean(verbose, "correct"),
        concise_acc=mean(concise, "correct"),
        verbose_tokens=mean(verbose, "tokens"),
        concise_tokens=mean(concise, "tokens"),
    )


def records_under(directory: Path) -> list[dict]:
    """Every record of every generation log under ``directory``; raises naming a log's bad lines."""
    records = []
    for log in sorted(Path(directory).rglob("generations/*.jsonl")):
        contents = read_log(log)
        if contents.problems:
            raise ValueError(contents.problems[0])
        records += contents.records
    if not records:
        raise FileNotFoundError(f"no generations/*.jsonl under {directory}")
    return records


def markdown_row(name: str, s: Styles) -> str:
    return (
        f"| {name} | {s.n} | {100 * s.loops:.1f} % | {100 * s.verbose_share:.1f} % | {100 * s.verbose_acc:.1f} % | "
        f"{100 * s.concise_acc:.1f} % | {s.verbose_tokens:.1f} / {s.concise_tokens:.1f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m siri_verl.lab.response_styles",
        description="What an arm's responses did, from its eval generation logs: the share that loop past "
        "the budget, the verbose share of the finished ones, and each style's accuracy and tokens (one "
        "markdown row per directory, every generations/*.jsonl under it pooled).",
        epilog="example: python -m siri_verl.lab.response_styles toy_study_run/eval/constant_cap "
        "toy_study_run/eval/SIRI-low",
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="eval output directories (searched recursively)")
    args = parser.parse_args(argv)
    print(HEADER)
    for directory in args.dirs:
        print(markdown_row(directory.name, styles_of(records_under(directory))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
