"""``python -m siri_verl.pareto --experiment NAME [--benchmark aime24] [--tracking-uri URI] [--out DIR]
[--source eval|train-val|auto] [--paper] [--mixed-protocols]``

Writes ``<out>/pareto_<benchmark>.png`` and ``<out>/pareto_<benchmark>.md`` from the runs of
one MLflow experiment (see ``siri_verl.tracking.pareto`` for the metric names it reads).
``--paper`` overlays the published points of ``results/paper_points.csv``.

Eval runs evaluated under different protocols (``protocol/*`` params: n, sampling, token
budget, prompt template, answer checker, backend, data file; ``siri_verl/eval/protocol.py``) are
not comparable: it refuses to draw them on one frontier, names the keys that differ and exits
with status 2, unless ``--mixed-protocols`` says to draw them anyway.

A plain tool (argparse): it composes no config, it reads MLflow.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from siri_verl.tracking.pareto import POINT_SOURCES
from siri_verl.tracking.runs import absolute_tracking_uri

EXAMPLES = """examples:
  python -m siri_verl.pareto --experiment eval --benchmark aime24 --paper      # eval runs, over the papers' points
  python -m siri_verl.pareto --experiment siri_verl --source train-val --out plots/   # training runs' validation
  python -m siri_verl.pareto --experiment eval --mixed-protocols   # runs with different n (say) on one plot anyway
"""

# Exit status when runs with different eval protocols would share a frontier.
MIXED_PROTOCOLS_STATUS = 2


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m siri_verl.pareto",
        description="Plot the accuracy-vs-tokens Pareto frontier of one MLflow experiment's runs on one\n"
        "benchmark: writes <out>/pareto_<benchmark>.png and <out>/pareto_<benchmark>.md (a table with\n"
        "the frontier marked).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--experiment",
        required=True,
        metavar="NAME",
        help="the MLflow experiment: eval runs' mlflow.experiment, or training runs' trainer.project_name",
    )
    parser.add_argument(
        "--benchmark",
        default="aime24",
        metavar="NAME",
        help="a data source name from siri_verl.data (default: %(default)s)",
    )
    parser.add_argument(
        "--tracking-uri",
        default=None,
        metavar="URI",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the cwd)",
    )
    parser.add_argument(
        "--out", default=".", metavar="DIR", help="where the PNG and the markdown go (default: the cwd)"
    )
    parser.add_argument(
        "--source",
        default="eval",
        choices=POINT_SOURCES,
        help="eval runs' final figures, training runs' validation (train-val), or eval where a run "
        "has it, else train-val (auto); default: %(default)s",
    )
    parser.add_argument("--paper", action="store_true", help="overlay the published points of results/paper_points.csv")
    parser.add_argument(
        "--mixed-protocols",
        action="store_true",
        help="draw eval runs whose protocols differ (protocol/* params: n, temperature, top_p, token budget, "
        "prompt template, answer checker, backend, data file) on one frontier; without it pareto refuses, "
        f"names the keys that differ and exits with status {MIXED_PROTOCOLS_STATUS}",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    from siri_verl.eval.protocol import describe_differences
    from siri_verl.tracking.pareto import (
        frontier_table_markdown,
        load_paper_points,
        load_points,
        plot_frontier,
        protocol_differences,
    )

    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    tracking_uri = absolute_tracking_uri(
        args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"
    )
    benchmark = args.benchmark
    points = load_points(args.experiment, benchmark, tracking_uri, source=args.source)
    mixed = protocol_differences(points)
    if mixed and not args.mixed_protocols:
        print(
            f"pareto: refusing to put {args.experiment}'s runs on one {benchmark} frontier: they were evaluated "
            f"under different protocols, these keys differ:\n{describe_differences(mixed)}\n"
            "Compare runs evaluated alike, or pass --mixed-protocols to draw them together anyway.",
            file=sys.stderr,
        )
        return MIXED_PROTOCOLS_STATUS
    paper = load_paper_points(benchmark) if args.paper else None
    out = Path(args.out)
    title = f"{args.experiment}: {benchmark}" + (" (mixed eval protocols)" if mixed else "")
    png = plot_frontier(points, out / f"pareto_{benchmark}.png", title, paper_points=paper)
    md = out / f"pareto_{benchmark}.md"
    text = f"# {title}\n\n{frontier_table_markdown(points)}"
    if mixed:
        print(f"pareto: drawing runs evaluated under different protocols (--mixed-protocols):\n{describe_differences(mixed)}")
        text += f"\nMixed eval protocols (`--mixed-protocols`); these keys differ:\n\n```\n{describe_differences(mixed)}\n```\n"
    if paper is not None and not paper.empty:
        published = paper.assign(run_name=paper["method"] + " (" + paper["paper"] + ", " + paper["model"] + ")")
        text += f"\n## Published points (results/paper_points.csv)\n\n{frontier_table_markdown(published)}"
    md.write_text(text, encoding="utf-8")
    print(f"{len(points)} runs with {benchmark} figures; wrote {png} and {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
