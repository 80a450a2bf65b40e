"""``python -m siri_verl.bench <command> [options]``: dispatch to a registered benchmark.

Each command is a module exposing ``main(argv) -> int``; add one by adding a line to COMMANDS.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "reward": ("siri_verl.bench.reward", "throughput of the answer checker vs verl's scorers"),
    "agreement": ("siri_verl.bench.reward", "checker agreement on real benchmark gold answers"),
    "optimizer_steps": ("siri_verl.bench.training", "InftyThink optimiser steps per training step, with and without the fix"),
    "step_time": ("siri_verl.bench.training", "seconds per GRPO step of the tiny CPU recipe"),
    "toy_study": ("siri_verl.bench.toy_study", "both papers' experiments at toy scale on CPU -> results/toy_study.md"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m siri_verl.bench <command> [options]\n\ncommands:")
        for name, (_, summary) in COMMANDS.items():
            print(f"  {name:<12} {summary}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    entry = getattr(module, f"main_{argv[0]}", None) or module.main
    return entry(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
