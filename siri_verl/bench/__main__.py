"""``python -m siri_verl.bench <command> [options]``: dispatch to a registered benchmark.

Each command is a module exposing ``main(argv) -> int`` (or ``main_<command>``) with its own
argparse parser, so ``<command> --help`` is the command's own; add one by adding a line to
COMMANDS.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "reward": ("siri_verl.bench.reward_bench", "throughput of the answer checker vs verl's scorers"),
    "agreement": ("siri_verl.bench.reward_bench", "checker agreement on real benchmark gold answers"),
    "optimizer_steps": (
        "siri_verl.bench.training",
        "InftyThink optimiser steps per training step, with and without the fix",
    ),
    "step_time": ("siri_verl.bench.training", "seconds per GRPO step of the tiny CPU recipe"),
    "overhead": ("siri_verl.bench.overhead", "a CPU job's start-up, and a toy step through verl vs plain PyTorch"),
}


def parser() -> argparse.ArgumentParser:
    width = max(map(len, COMMANDS)) + 2
    commands = "\n".join(f"  {name:<{width}}{summary}" for name, (_, summary) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="python -m siri_verl.bench",
        description="Benchmarks of this project, each printing or writing the figures quoted under results/.",
        epilog=f"commands:\n{commands}\n\nexamples:\n"
        "  python -m siri_verl.bench reward --help       # a command's own options\n"
        "  python -m siri_verl.bench agreement",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=COMMANDS, metavar="COMMAND", help="one of the commands below")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="...", help="the command's options (COMMAND --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    entry = getattr(module, f"main_{args.command}", None) or module.main
    return entry(args.args)


if __name__ == "__main__":
    sys.exit(main())
