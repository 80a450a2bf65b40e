"""The accuracy / token-cost Pareto view over MLflow runs: points, frontier, plot, table.

Metric names the view reads (accuracy is always a fraction in [0, 1] in MLflow and here; the
plot and table show percent):

* ``eval/<benchmark>/acc`` and ``eval/<benchmark>/mean_tokens`` — final figures an evaluation
  run logs once at the end (avg@n accuracy; mean generated tokens per sample). Preferred.
* ``val-core/<benchmark>/acc/mean_at_<N>`` — verl's validation accuracy during training
  (``mean@N``, logged as ``mean_at_N``), read with the largest N present, paired with
  ``val-aux/<benchmark>/response_tokens/mean_at_N``: the mean generated tokens of the same
  validation samples (this project's reward functions report ``response_tokens``). A run without
  it falls back to ``response_length/mean``, the last training step's mean rollout length (a
  proxy). Such points carry ``source="train-val"``.

A run's metrics in a search hold each metric's latest value, which is the final one for both kinds.

Each point also carries its run's eval protocol for the benchmark (``protocol``: the run's
``protocol/*`` params, ``siri_verl/eval/eval_protocol.py``); :func:`protocol_differences` names the
keys on which the eval points disagree, and ``python -m siri_verl.pareto`` refuses to draw one
frontier over them unless told to. Training runs' validation points record no eval protocol and
are not compared.

The command ``python -m siri_verl.pareto --experiment NAME [--benchmark aime24] [--tracking-uri URI]
[--out DIR] [--source eval|train-val|auto] [--paper] [--mixed-protocols]`` (:func:`main`, run by
``siri_verl/pareto/__main__.py``) writes ``<out>/pareto_<benchmark>.png`` and
``<out>/pareto_<benchmark>.md`` from the runs of one MLflow experiment; ``--paper`` overlays
the published points of ``siri_verl/tracking/paper_points.csv``. Eval runs evaluated under different
protocols are refused (exit status 2, naming the keys that differ) unless ``--mixed-protocols``
says to draw them anyway. A plain tool (argparse): it composes no config, it reads MLflow.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
from importlib import resources
from pathlib import Path

import pandas as pd

from siri_verl.eval.eval_protocol import describe_differences, differences, for_benchmark
from siri_verl.tracking.tracking_uri import absolute_tracking_uri
from siri_verl.tracking.view import experiment_url

EVAL_ACC_METRIC = "eval/{benchmark}/acc"
EVAL_TOKENS_METRIC = "eval/{benchmark}/mean_tokens"
VAL_ACC_METRIC_PREFIX = "val-core/{benchmark}/acc/mean_at_"
VAL_TOKENS_METRIC_PREFIX = "val-aux/{benchmark}/response_tokens/mean_at_"
TRAIN_TOKENS_METRIC = "response_length/mean"

# Which metrics a point comes from: "eval" only, "train-val" only, or "auto" (eval where a run
# has it, else train-val; what a sweep summary wants when some jobs were evaluated and some not).
POINT_SOURCES = ("eval", "train-val", "auto")

POINT_COLUMNS = ["run_id", "run_name", "acc", "mean_tokens", "source", "protocol"]

# The papers' published points, acc in percent as printed (see its ``source`` column): package
# data, so that an installed siri-verl has them (results/paper_points.csv links here).
PAPER_POINTS_CSV = resources.files("siri_verl.tracking") / "paper_points.csv"


# ---------------------------------------------------------------------------- the frontier


def pareto_frontier(df: pd.DataFrame, acc_col: str = "acc", tokens_col: str = "mean_tokens") -> pd.Series:
    """Boolean mask of the points no other point dominates (higher accuracy, fewer tokens).

    Point q dominates p when ``acc_q >= acc_p`` and ``tokens_q <= tokens_p`` with at least one
    strict. Ties: identical points do not dominate each other, so all copies stay on the
    frontier; a point with equal accuracy and more tokens (or equal tokens and less accuracy)
    is dominated. Rows with a missing value are never on the frontier. O(n log n).
    """
    mask = pd.Series(False, index=df.index)
    valid = df[[acc_col, tokens_col]].dropna()
    # Cheapest first; among equal cost, most accurate first. Walking in this order, a point is
    # on the frontier iff it beats every cheaper point's accuracy, or it ties the best so far
    # with the very same cost (an identical copy of a frontier point).
    order = valid.sort_values([tokens_col, acc_col], ascending=[True, False], kind="mergesort")
    best_acc, best_tokens = float("-inf"), None
    for index, (acc, tokens) in zip(order.index, order.itertuples(index=False)):
        if acc > best_acc:
            mask[index] = True
            best_acc, best_tokens = acc, tokens
        elif acc == best_acc and tokens == best_tokens:
            mask[index] = True
    return mask


# ---------------------------------------------------------------------------- points from MLflow


def _latest_val_column(runs: pd.DataFrame, benchmark: str, prefix: str = VAL_ACC_METRIC_PREFIX) -> pd.Series:
    """Per run, verl's ``<prefix>N`` (``val-core/<benchmark>/acc/mean_at_N``) with the largest N it has."""
    prefix = "metrics." + prefix.format(benchmark=benchmark)
    columns = sorted(
        (int(m.group(1)), c) for c in runs.columns if (m := re.fullmatch(re.escape(prefix) + r"(\d+)", c))
    )
    result = pd.Series(float("nan"), index=runs.index)
    for _, column in columns:  # ascending N: a larger N overwrites where present
        result = runs[column].where(runs[column].notna(), result)
    return result


def _column(runs: pd.DataFrame, metric: str) -> pd.Series:
    key = f"metrics.{metric}"
    return runs[key] if key in runs.columns else pd.Series(float("nan"), index=runs.index)


def points_from_runs(runs: pd.DataFrame, benchmark: str, source: str = "eval") -> pd.DataFrame:
    """``POINT_COLUMNS`` rows from a ``search_runs`` frame; runs without both figures are dropped."""
    if source not in POINT_SOURCES:
        raise ValueError(f"source must be one of {POINT_SOURCES}, got {source!r}")
    eval_acc = _column(runs, EVAL_ACC_METRIC.format(benchmark=benchmark))
    eval_tokens = _column(runs, EVAL_TOKENS_METRIC.format(benchmark=benchmark))
    val_acc = _latest_val_column(runs, benchmark)
    val_tokens = _latest_val_column(runs, benchmark, VAL_TOKENS_METRIC_PREFIX)
    val_tokens = val_tokens.where(val_tokens.notna(), _column(runs, TRAIN_TOKENS_METRIC))
    has_eval = eval_acc.notna() & eval_tokens.notna()
    use_eval = has_eval if source == "auto" else pd.Series(source == "eval", index=runs.index)
    name_column = "tags.mlflow.runName"
    param_columns = [c for c in runs.columns if c.startswith("params.")]
    protocols = [
        for_benchmark({c[len("params.") :]: v for c, v in zip(param_columns, values) if isinstance(v, str)}, benchmark)
        for values in runs[param_columns].itertuples(index=False)
    ]
    points = pd.DataFrame({
        "run_id": runs["run_id"] if "run_id" in runs.columns else pd.Series(dtype=str),
        "run_name": runs[name_column] if name_column in runs.columns else runs.get("run_id"),
        "acc": eval_acc.where(use_eval, val_acc),
        "mean_tokens": eval_tokens.where(use_eval, val_tokens),
        "source": use_eval.map({True: "eval", False: "train-val"}),
        "protocol": pd.Series(protocols, index=runs.index, dtype=object),
    }, index=runs.index, columns=POINT_COLUMNS)
    return points.dropna(subset=["acc", "mean_tokens"]).reset_index(drop=True)


def protocol_differences(points: pd.DataFrame) -> dict[str, list[tuple[str, str]]]:
    """The eval-protocol keys on which the eval points disagree, ``{key: [(run name, value), ...]}``
    by run name (``siri_verl.eval.eval_protocol.differences``); empty when they agree or record none."""
    evaluated = points[points["source"] == "eval"] if "source" in points.columns else points.iloc[0:0]
    named = sorted(((str(row.run_name), row.protocol) for row in evaluated.itertuples()), key=lambda item: item[0])
    return differences(named)


def search_runs_frame(experiment: str, tracking_uri: str | None = None, filter_string: str = "") -> pd.DataFrame:
    """``mlflow.search_runs(experiment_names=[experiment])``'s frame, through an explicit client.

    ``mlflow.search_runs`` only reads the global tracking URI, and ``mlflow.set_tracking_uri``
    also exports ``MLFLOW_TRACKING_URI`` to the environment, where it would outrank the config
    of every later job in the same process (``siri_verl.tracking.runs.tracking_uri_from``).
    Same columns: ``run_id``, ``status``, ``metrics.*`` (latest values), ``params.*``, ``tags.*``.
    """
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return pd.DataFrame(columns=["run_id"])
    rows, token = [], None
    while True:
        page = client.search_runs([found.experiment_id], filter_string=filter_string, page_token=token)
        for run in page:
            row = {"run_id": run.info.run_id, "status": run.info.status}
            row.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
            row.update({f"params.{k}": v for k, v in run.data.params.items()})
            row.update({f"tags.{k}": v for k, v in run.data.tags.items()})
            rows.append(row)
        token = page.token
        if not token:
            return pd.DataFrame(rows, columns=None if rows else ["run_id"])


def load_points(experiment: str, benchmark: str, tracking_uri: str | None = None, source: str = "eval",
                parent_run_id: str | None = None) -> pd.DataFrame:
    """The (accuracy, tokens) point of every run of ``experiment`` that has both for ``benchmark``.

    ``parent_run_id`` keeps only the children of one sweep.
    """
    filter_string = f"tags.mlflow.parentRunId = '{parent_run_id}'" if parent_run_id else ""
    runs = search_runs_frame(experiment, tracking_uri, filter_string)
    if runs.empty:
        return pd.DataFrame(columns=POINT_COLUMNS)
    return points_from_runs(runs, benchmark, source)


def load_paper_points(benchmark: str, csv_path: str | Path | None = None) -> pd.DataFrame:
    """The papers' points for one benchmark (default: the shipped ones), accuracy converted from percent to a fraction."""
    with (PAPER_POINTS_CSV if csv_path is None else Path(csv_path)).open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["benchmark"] == benchmark]
    points = pd.DataFrame(rows, columns=["paper", "method", "model", "benchmark", "acc", "mean_tokens", "source"])
    points["acc"] = points["acc"].astype(float) / 100.0
    points["mean_tokens"] = points["mean_tokens"].astype(float)
    return points


# ---------------------------------------------------------------------------- outputs


def frontier_table_markdown(points: pd.DataFrame) -> str:
    """A markdown table of the points, cheapest first, with a frontier column."""
    if points.empty:
        return "_no runs with both accuracy and token figures_\n"
    table = points.assign(on_frontier=pareto_frontier(points)).sort_values(["mean_tokens", "acc"])
    lines = ["| run | accuracy (%) | mean tokens | Pareto frontier | source |", "|---|---:|---:|:---:|---|"]
    for row in table.itertuples():
        mark = "yes" if row.on_frontier else ""
        lines.append(f"| {row.run_name} | {100 * row.acc:.1f} | {row.mean_tokens:.0f} | {mark} | {row.source} |")
    return "\n".join(lines) + "\n"


def plot_frontier(points: pd.DataFrame, png_path: str | Path, title: str,
                  paper_points: pd.DataFrame | None = None) -> Path:
    """Scatter of accuracy (%) against mean tokens, each point named, the frontier drawn as a step line."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on training machines
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    if not points.empty:
        on = pareto_frontier(points)
        ax.scatter(points["mean_tokens"], 100 * points["acc"], c=["tab:red" if f else "tab:blue" for f in on],
                   zorder=3, label="runs (red: on the frontier)")
        for row in points.itertuples():
            ax.annotate(str(row.run_name), (row.mean_tokens, 100 * row.acc), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
        frontier = points[on].sort_values("mean_tokens")
        ax.step(frontier["mean_tokens"], 100 * frontier["acc"], where="post", color="tab:red", lw=1.5,
                label="Pareto frontier")
    if paper_points is not None and not paper_points.empty:
        # Colours apart from the runs' blue and red, so a published point never reads as a run.
        colours = iter(["tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:olive"])
        for paper, group in paper_points.groupby("paper"):
            ax.scatter(group["mean_tokens"], 100 * group["acc"], marker="x", zorder=2, color=next(colours, "gray"),
                       label=f"{paper} (paper)")
            for row in group.itertuples():
                size = row.model.split("-")[-1] if isinstance(row.model, str) else ""
                ax.annotate(f"{row.method} {size}", (row.mean_tokens, 100 * row.acc), textcoords="offset points",
                            xytext=(4, -8), fontsize=6, color="gray")
    all_tokens = pd.concat([points["mean_tokens"]] + ([] if paper_points is None else [paper_points["mean_tokens"]]))
    if len(all_tokens) and all_tokens.min() > 0 and all_tokens.max() / all_tokens.min() > 20:
        ax.set_xscale("log")  # tiny runs beside paper-scale points: a linear axis hides one group
    ax.set_xlabel("mean generated tokens")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return png_path


# ---------------------------------------------------------------------------- the command

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
    parser.add_argument("--paper", action="store_true", help="overlay the papers' published points (siri_verl/tracking/paper_points.csv)")
    parser.add_argument(
        "--mixed-protocols",
        action="store_true",
        help="draw eval runs whose protocols differ (protocol/* params: n, temperature, top_p, token budget, "
        "prompt template, answer checker, backend, data file) on one frontier; without it pareto refuses, "
        f"names the keys that differ and exits with status {MIXED_PROTOCOLS_STATUS}",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
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
        text += f"\n## Published points (siri_verl/tracking/paper_points.csv)\n\n{frontier_table_markdown(published)}"
    md.write_text(text, encoding="utf-8")
    print(f"{len(points)} runs with {benchmark} figures; wrote {png} and {md}")
    import mlflow

    found = mlflow.MlflowClient(tracking_uri).get_experiment_by_name(args.experiment)
    if found is not None:
        print(f"the runs in mlflow ui (mlflow ui --backend-store-uri {tracking_uri}): {experiment_url(found.experiment_id)}")
    return 0

