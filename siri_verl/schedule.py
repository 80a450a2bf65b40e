"""``python -m siri_verl.schedule recipe=NAME [KEY=VALUE ...] [--png PATH]``: preview L(t).

Prints CSV (``step,max_response_length,phase``), one row for every training step of the
recipe, and writes a PNG plot with the compression and expansion phases shaded and the
phase-end (SIRI-low / SIRI-high candidate) steps marked. Check a schedule here before
spending 2,000 GPU steps on it.

It takes the training command's arguments: ``recipe=NAME`` and any Hydra override compose the
same config as ``python -m siri_verl`` (``siri_verl.config.compose_recipe``). It reads that
config through Hydra's compose API rather than being a Hydra app, because a preview writes to
stdout and a file of your choosing, not to a run directory with logs; argparse reads the
command line so that ``--help`` says what it takes.
"""

from __future__ import annotations

import argparse
import sys

from siri_verl.checks import ConfigError
from siri_verl.config import recipe_names

EXAMPLES = """examples:
  python -m siri_verl.schedule recipe=siri_high                                    # CSV + schedule_siri_high.png
  python -m siri_verl.schedule recipe=siri_high schedule.period=480 --png t480.png
  python -m siri_verl.schedule recipe=toy_siri_cosine schedule=stair > stair.csv   # another shape
"""


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m siri_verl.schedule",
        description="Preview a recipe's max response length schedule L(t) without training: one CSV row\n"
        "(step,max_response_length,phase) per training step on stdout, and a PNG with the compression\n"
        "and expansion phases shaded and the phase-end steps (SIRI-low / SIRI-high candidates) marked.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "overrides", nargs="+", metavar="KEY=VALUE",
        help="recipe=NAME (required; one of: " + ", ".join(recipe_names()) + "), then any override that "
        "python -m siri_verl takes (schedule.period=480, schedule=stair, trainer.total_training_steps=...)",
    )  # fmt: skip
    parser.add_argument("--png", metavar="PATH", help="where the plot goes (default: schedule_<recipe>.png)")
    return parser


def preview(recipe: str, overrides: list[str], png: str | None = None, stdout=sys.stdout) -> str:
    """Write the CSV to ``stdout``; return the PNG path."""
    from siri_verl.config import compose_recipe
    from siri_verl.siri.preview import plot, schedule_rows, write_csv
    from siri_verl.siri.schedule import schedule_of

    cfg = compose_recipe(recipe, overrides)
    schedule = schedule_of(cfg)
    total_steps = cfg.trainer.total_training_steps
    if not total_steps or total_steps < 1:
        raise ConfigError(f"trainer.total_training_steps must be set to preview recipe={recipe}")
    rows = schedule_rows(schedule, total_steps)
    write_csv(rows, stdout)
    png = png or f"schedule_{recipe}.png"
    plot(rows, png, f"recipe={recipe}: {schedule}", ends=schedule.phase_ends(total_steps))
    return png


def main(argv: list[str] | None = None) -> None:
    cli = parser()
    args = cli.parse_intermixed_args(argv)
    recipes = [arg.split("=", 1)[1] for arg in args.overrides if arg.startswith("recipe=")]
    if len(recipes) != 1:
        cli.error(f"give exactly one recipe=NAME (got {len(recipes)})")
    overrides = [arg for arg in args.overrides if not arg.startswith("recipe=")]
    try:
        png = preview(recipes[0], overrides, args.png)
    except ConfigError as error:
        print(f"siri_verl.schedule: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"plot written to {png}", file=sys.stderr)


if __name__ == "__main__":
    main()
