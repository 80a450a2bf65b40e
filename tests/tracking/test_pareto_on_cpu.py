"""The Pareto view on synthetic MLflow runs whose frontier is known by construction."""

from __future__ import annotations

import pandas as pd
import pytest

from siri_verl.tracking.pareto import (
    EVAL_ACC_METRIC,
    EVAL_TOKENS_METRIC,
    frontier_table_markdown,
    load_paper_points,
    load_points,
    pareto_frontier,
    points_from_runs,
)
from siri_verl.tracking.pareto import main as pareto_main

# name: (acc, mean tokens). Frontier: cheap, mid, best, and twin (an exact copy of mid).
RUNS = {
    "cheap": (0.20, 100.0),
    "mid": (0.40, 300.0),
    "twin": (0.40, 300.0),
    "best": (0.50, 900.0),
    "costly": (0.40, 500.0),  # as accurate as mid, dearer: dominated
    "weak": (0.10, 200.0),  # dearer and worse than cheap: dominated
}
FRONTIER = {"cheap", "mid", "twin", "best"}


def test_pareto_frontier_mask_and_ties():
    df = pd.DataFrame([(n, a, t) for n, (a, t) in RUNS.items()], columns=["run_name", "acc", "mean_tokens"])
    mask = pareto_frontier(df)
    assert set(df.loc[mask, "run_name"]) == FRONTIER
    # Equal cost, lower accuracy is dominated; a missing value is never on the frontier.
    df2 = pd.DataFrame({"acc": [0.5, 0.4, None], "mean_tokens": [100.0, 100.0, 10.0]})
    assert pareto_frontier(df2).tolist() == [True, False, False]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root}/mlflow.db"
    # An explicit client: the fluent API's set_tracking_uri would export MLFLOW_TRACKING_URI to
    # every later test in this process.
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("pareto-test", artifact_location=str(root / "artifacts"))
    for name, (acc, tokens) in RUNS.items():
        run_id = client.create_run(experiment, run_name=name).info.run_id
        client.log_metric(run_id, EVAL_ACC_METRIC.format(benchmark="aime24"), acc)
        client.log_metric(run_id, EVAL_TOKENS_METRIC.format(benchmark="aime24"), tokens)
    # A training run with only verl's validation metrics: a "train-val" point.
    run_id = client.create_run(experiment, run_name="trained").info.run_id
    for step, (acc, length) in enumerate([(0.1, 800.0), (0.3, 400.0)]):
        client.log_metric(run_id, "val-core/aime24/acc/mean_at_4", acc, step=step)
        client.log_metric(run_id, "response_length/mean", length, step=step)
    return uri


def test_load_points_and_sources(store):
    points = load_points("pareto-test", "aime24", store)
    assert set(points["run_name"]) == set(RUNS)
    assert set(points.loc[pareto_frontier(points), "run_name"]) == FRONTIER
    train_val = load_points("pareto-test", "aime24", store, source="train-val")
    assert train_val[["run_name", "acc", "mean_tokens"]].values.tolist() == [["trained", 0.3, 400.0]]
    auto = load_points("pareto-test", "aime24", store, source="auto")
    assert len(auto) == len(RUNS) + 1 and set(auto["source"]) == {"eval", "train-val"}
    assert load_points("pareto-test", "math500", store).empty


def test_points_prefer_the_largest_n():
    runs = pd.DataFrame({"run_id": ["a"], "tags.mlflow.runName": ["a"], "metrics.response_length/mean": [10.0],
                         "metrics.val-core/x/acc/mean_at_4": [0.1], "metrics.val-core/x/acc/mean_at_16": [0.3]})
    assert points_from_runs(runs, "x", source="train-val")["acc"].tolist() == [0.3]


def test_cli_writes_png_and_markdown(store, tmp_path):
    out = tmp_path / "out"
    assert pareto_main(["--experiment", "pareto-test", "--benchmark", "aime24", "--tracking-uri", store, "--out", str(out),
                        "--paper"]) == 0
    png, md = out / "pareto_aime24.png", out / "pareto_aime24.md"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = md.read_text()
    for name in RUNS:
        assert f"| {name} |" in table
    runs_table = table.split("## Published")[0]
    assert runs_table.count("| yes |") == len(FRONTIER)
    assert "SIRI-low (SIRI, DeepSeek-R1-Distill-Qwen-1.5B)" in table
    with pytest.raises(SystemExit):
        pareto_main(["--benchmark", "aime24"])  # --experiment is required


def test_no_tracking_uri_leaks_into_the_environment(store):
    import os

    load_points("pareto-test", "aime24", store)
    assert os.environ.get("MLFLOW_TRACKING_URI") != store


def test_paper_points_cover_both_papers():
    points = load_paper_points("aime24")
    assert {"SIRI", "InftyThink+"} <= set(points["paper"])
    siri_low = points[(points["method"] == "SIRI-low") & points["model"].str.endswith("1.5B")]
    assert siri_low[["acc", "mean_tokens"]].values.tolist() == [[pytest.approx(0.404), 7093.0]]
    assert "| yes |" in frontier_table_markdown(points.assign(run_name=points["method"], source="paper"))
