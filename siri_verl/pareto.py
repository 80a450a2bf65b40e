"""``python -m siri_verl.pareto experiment=NAME [benchmark=aime24] [tracking_uri=...] [out=DIR]
[source=eval|train-val|auto] [--paper]``

Writes ``<out>/pareto_<benchmark>.png`` and ``<out>/pareto_<benchmark>.md`` from the runs of
one MLflow experiment (see ``siri_verl.tracking.pareto`` for the metric names it reads).
``--paper`` overlays the published points of ``results/paper_points.csv``.

Arguments are Hydra-style ``key=value`` pairs, parsed by hand: no config to compose here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from siri_verl.tracking.runs import absolute_tracking_uri

# Every key the command accepts, with its default (None: required).
DEFAULTS: dict[str, str | None] = {
    "experiment": None,  # the MLflow experiment (= trainer.project_name of the training runs)
    "benchmark": "aime24",  # a data_source name from siri_verl.data.sources
    "tracking_uri": None,  # default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the cwd
    "out": ".",  # where the PNG and the markdown go
    "source": "eval",  # eval | train-val | auto (see siri_verl.tracking.pareto.POINT_SOURCES)
}
FLAGS = ("--paper",)


def parse_args(argv: list[str]) -> tuple[dict[str, str], set[str]]:
    values: dict[str, str | None] = dict(DEFAULTS)
    flags: set[str] = set()
    for arg in argv:
        if arg in FLAGS:
            flags.add(arg)
        elif "=" in arg and arg.split("=", 1)[0] in DEFAULTS:
            key, value = arg.split("=", 1)
            values[key] = value
        else:
            raise SystemExit(f"unknown argument {arg!r}; expected key=value with keys {list(DEFAULTS)} or {FLAGS}")
    missing = [k for k, v in values.items() if v is None and k != "tracking_uri"]
    if missing:
        raise SystemExit(f"missing {', '.join(f'{k}=...' for k in missing)}\n{__doc__}")
    values["tracking_uri"] = absolute_tracking_uri(
        values["tracking_uri"] or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"
    )
    return values, flags  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    from siri_verl.tracking.pareto import (
        frontier_table_markdown,
        load_paper_points,
        load_points,
        plot_frontier,
    )

    args, flags = parse_args(sys.argv[1:] if argv is None else argv)
    benchmark = args["benchmark"]
    points = load_points(args["experiment"], benchmark, args["tracking_uri"], source=args["source"])
    paper = load_paper_points(benchmark) if "--paper" in flags else None
    out = Path(args["out"])
    title = f"{args['experiment']}: {benchmark}"
    png = plot_frontier(points, out / f"pareto_{benchmark}.png", title, paper_points=paper)
    md = out / f"pareto_{benchmark}.md"
    text = f"# {title}\n\n{frontier_table_markdown(points)}"
    if paper is not None and not paper.empty:
        published = paper.assign(run_name=paper["method"] + " (" + paper["paper"] + ", " + paper["model"] + ")")
        text += f"\n## Published points (results/paper_points.csv)\n\n{frontier_table_markdown(published)}"
    md.write_text(text, encoding="utf-8")
    print(f"{len(points)} runs with {benchmark} figures; wrote {png} and {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
