"""``python -m siri_verl.schedule recipe=NAME [KEY=VALUE ...] [--png PATH]``: preview L(t) without training.

Prints CSV (``step,max_response_length,phase``), one row for every training step of the
recipe, and writes a PNG plot with the compression and expansion phases shaded and the
phase-end (SIRI-low / SIRI-high candidate) steps marked. Check a schedule here before
spending 2,000 GPU steps on it. Rows are ``(step, length, phase)`` for the run's steps
``1..total_steps`` (verl's global_steps, see :mod:`siri_verl.siri.schedule` for the step convention).

The command (``siri_verl/schedule/__main__.py`` runs :func:`main`) takes the training command's
arguments: ``recipe=NAME`` and any Hydra override compose the same config as
``python -m siri_verl`` (``siri_verl.config.compose_recipe``). It reads that config through
Hydra's compose API rather than being a Hydra app, because a preview writes to stdout and a
file of your choosing, not to a run directory with logs; argparse reads the command line so
that ``--help`` says what it takes. The table, CSV and plot functions are pure.
"""

from __future__ import annotations

import argparse
import csv
import sys
from typing import IO, Sequence

from siri_verl.config import compose_recipe, recipe_names
from siri_verl.errors import ConfigError
from siri_verl.siri.schedule import COMPRESS, EXPAND, PhaseEnds, Schedule, schedule_of

__all__ = ["main", "phase_ends_of_rows", "plot", "preview", "schedule_rows", "write_csv"]

Row = tuple[int, int, str]

_PHASE_COLOURS = {COMPRESS: "tab:red", EXPAND: "tab:green"}


def schedule_rows(schedule: Schedule, total_steps: int) -> list[Row]:
    """``[(step, L(step), phase(step)) for step in 1..total_steps]``."""
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise ValueError(f"total_steps must be a positive int, got {total_steps!r}")
    return [(t, schedule.length(t), schedule.phase(t)) for t in range(1, total_steps + 1)]


def write_csv(rows: Sequence[Row], stream: IO[str]) -> None:
    """Write ``step,max_response_length,phase`` with a header line to a text stream."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["step", "max_response_length", "phase"])
    writer.writerows(rows)


def phase_ends_of_rows(rows: Sequence[Row]) -> PhaseEnds:
    """Troughs/peaks read off rows: the last row of each compress/expand run (the final row
    counts as an end, since the run stops there)."""
    troughs: list[int] = []
    peaks: list[int] = []
    for i, (step, _, phase) in enumerate(rows):
        following = rows[i + 1][2] if i + 1 < len(rows) else None
        if phase != following:
            if phase == COMPRESS:
                troughs.append(step)
            elif phase == EXPAND:
                peaks.append(step)
    return PhaseEnds(troughs, peaks)


def plot(rows: Sequence[Row], png_path: str, title: str, *, ends: PhaseEnds | None = None) -> None:
    """Plot L(t) against the step to ``png_path``: compress steps shaded red, expand steps
    green, troughs (SIRI-low candidates) and peaks (SIRI-high candidates) marked.
    ``ends`` defaults to :func:`phase_ends_of_rows`; pass ``schedule.phase_ends(total_steps)``
    for the exact ones. Uses matplotlib's Agg canvas directly, leaving pyplot's state alone."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not rows:
        raise ValueError("rows is empty: nothing to plot")
    if ends is None:
        ends = phase_ends_of_rows(rows)
    steps = [r[0] for r in rows]
    lengths = [r[1] for r in rows]
    by_step = dict(zip(steps, lengths))

    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    start = 0
    for i in range(1, len(rows) + 1):  # one span per run of equal phases
        if i == len(rows) or rows[i][2] != rows[start][2]:
            colour = _PHASE_COLOURS.get(rows[start][2])
            if colour is not None:
                ax.axvspan(rows[start][0] - 0.5, rows[i - 1][0] + 0.5, color=colour, alpha=0.12, linewidth=0)
            start = i
    ax.plot(steps, lengths, drawstyle="steps-mid", color="tab:blue", label="L(t)")
    for label, points, marker, colour in (
        ("end of compression (trough)", ends.troughs, "v", "tab:red"),
        ("end of expansion (peak)", ends.peaks, "^", "tab:green"),
    ):
        shown = [t for t in points if t in by_step]
        if shown:
            ax.scatter(shown, [by_step[t] for t in shown], marker=marker, color=colour, zorder=3, label=label)
            for t in shown:
                ax.annotate(str(t), (t, by_step[t]), textcoords="offset points", xytext=(0, 6 if marker == "^" else -12),
                            ha="center", fontsize=7)
    ax.set_xlabel("training step (verl global_steps)")
    ax.set_ylabel("max response length (tokens)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path)


# --------------------------------------------------------------------------------------------
# the command

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

