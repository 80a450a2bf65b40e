"""Preview a length schedule as a table, a CSV and a PNG, without training.

Pure functions; ``python -m siri_verl.schedule recipe=NAME`` (``siri_verl/schedule.py``) wires them up.
Rows are ``(step, length, phase)`` for the run's steps ``1..total_steps`` (verl's global_steps,
see :mod:`siri_verl.siri.schedule` for the step convention).
"""

from __future__ import annotations

import csv
from typing import IO, Sequence

from siri_verl.siri.schedule import COMPRESS, EXPAND, PhaseEnds, Schedule

__all__ = ["phase_ends_of_rows", "plot", "schedule_rows", "write_csv"]

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
