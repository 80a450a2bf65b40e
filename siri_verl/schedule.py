"""``python -m siri_verl.schedule recipe=NAME [key=value ...] [--png PATH]``: preview L(t).

Prints CSV (``step,max_response_length,phase``), one row for every training step of the
recipe, and writes a PNG plot with the compression and expansion phases shaded and the
phase-end (SIRI-low / SIRI-high candidate) steps marked. Check a schedule here before
spending 2,000 GPU steps on it.
"""

from __future__ import annotations

import sys

from omegaconf import OmegaConf

from siri_verl.checks import ConfigError
from siri_verl.config import compose_recipe
from siri_verl.siri.preview import plot, schedule_rows, write_csv
from siri_verl.siri.schedule import build_schedule

USAGE = "usage: python -m siri_verl.schedule recipe=NAME [key=value ...] [--png PATH]"


def preview(argv: list[str], stdout=sys.stdout) -> str:
    """Write the CSV to ``stdout``; return the PNG path."""
    png = None
    if "--png" in argv:
        index = argv.index("--png")
        png = argv[index + 1]
        argv = argv[:index] + argv[index + 2 :]
    recipes = [arg.split("=", 1)[1] for arg in argv if arg.startswith("recipe=")]
    if len(recipes) != 1:
        raise ConfigError(USAGE)
    overrides = [arg for arg in argv if not arg.startswith("recipe=")]
    cfg = compose_recipe(recipes[0], overrides)
    schedule = build_schedule(OmegaConf.to_container(cfg.schedule, resolve=True))
    total_steps = cfg.trainer.total_training_steps
    if not total_steps or total_steps < 1:
        raise ConfigError(f"trainer.total_training_steps must be set to preview recipe={recipes[0]}")
    rows = schedule_rows(schedule, total_steps)
    write_csv(rows, stdout)
    png = png or f"schedule_{recipes[0]}.png"
    plot(rows, png, f"recipe={recipes[0]}: {schedule}", ends=schedule.phase_ends(total_steps))
    return png


def main() -> None:
    try:
        png = preview(sys.argv[1:])
    except ConfigError as error:
        print(f"siri_verl.schedule: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"plot written to {png}", file=sys.stderr)


if __name__ == "__main__":
    main()
