"""The experiment's saved view, kind and description (siri_verl/tracking/view.py), the run's
readable params, config artifact, description and Pareto point (siri_verl/tracking/runs.py).

The view's format is MLflow's: the field names and tag prefix are read from the installed MLflow
UI's own JavaScript bundle, so an MLflow upgrade that renames them fails here. The browser test
(test_mlflow_ui_browser_on_cpu.py) renders the view in Chromium.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Metric

from siri_verl.tracking import view
from siri_verl.tracking.runs import MlflowRun, experiment_id, readable_params, record_finished_run


def _ui_bundle() -> str:
    js = Path(mlflow.__file__).parent / "server" / "js" / "build" / "static" / "js"
    return "".join(path.read_text(encoding="utf-8", errors="replace") for path in sorted(js.glob("main.*.js")))


def test_the_view_uses_mlflows_own_names():
    bundle = _ui_bundle()
    # ExperimentPageUIState's fields, as the bundle lists them (a shared view keeps these).
    fields = re.search(r'\["selectedColumns","columnOrder",[^\]]*\]', bundle)
    assert fields, "MLflow's experiment page UI state field list not found in the UI bundle"
    state = view.view_state([view.Benchmark("toy", 4)], inftythink=True)
    assert set(state) <= set(json.loads(fields.group(0)))
    for name in ('"mlflow.sharedViewState."', '"viewStateShareKey"', 'e.MACHINE_LEARNING="machine_learning"',
                 f'"{view.MODEL_TRAINING_KIND}"', '"mlflow.experimentKind"', 'e.LINE="LINE"', 'e.SCATTER="SCATTER"'):
        assert name in bundle, name


def test_view_columns_and_charts():
    state = view.view_state([view.Benchmark("toy", 4)], inftythink=False)
    assert state["selectedColumns"][:2] == [
        "metrics.`val-core/toy/acc/mean_at_4`", "metrics.`val-aux/toy/response_tokens/mean_at_4`"
    ]
    assert "metrics.`reward/accuracy`" in state["selectedColumns"] and "params.`schedule/period`" in state["selectedColumns"]
    cap = state["compareRunCharts"][0]
    assert cap["selectedMetricKeys"] == [
        "siri/max_response_length", "siri/response_length/mean", "siri/response_length/p90",
        "siri/correct_response_length/mean",
    ]  # fmt: skip
    scatter = next(c for c in state["compareRunCharts"] if c["type"] == "SCATTER")
    assert (scatter["xaxis"]["key"], scatter["yaxis"]["key"]) == (
        "val-aux/toy/response_tokens/mean_at_4", "val-core/toy/acc/mean_at_4"
    )
    assert [s["name"] for s in state["compareRunSections"]] == ["SIRI"]
    with_inftythink = view.view_state([], inftythink=True)
    assert [s["name"] for s in with_inftythink["compareRunSections"]] == ["SIRI", "InftyThink+"]
    assert len(json.dumps(with_inftythink)) < 20_000  # MLflow's limit on an experiment tag's value


def test_a_new_experiment_carries_the_tags_and_runs_extend_its_view(tmp_path):
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = experiment_id(client, "siri_verl")
    tags = client.get_experiment(experiment).tags
    assert tags[view.KIND_TAG] == "custom_model_development" and "SIRI" in tags[view.NOTE_TAG]
    view.update_view(client, experiment, [view.Benchmark("a", 4)])
    view.update_view(client, experiment, [view.Benchmark("b", 1)], inftythink=True)
    view.update_view(client, experiment, [])
    benchmarks, inftythink = view.parse_view(client.get_experiment(experiment).tags[view.VIEW_TAG])
    assert benchmarks == [view.Benchmark("a", 4), view.Benchmark("b", 1)] and inftythink
    url = view.experiment_url(experiment)
    assert url.endswith(f"/#/experiments/{experiment}/runs?workflowType=machine_learning&viewStateShareKey=siri_verl")


def test_benchmarks_come_from_the_validation_files(tmp_path):
    from omegaconf import OmegaConf

    path = tmp_path / "val.parquet"
    pd.DataFrame({"data_source": ["toy", "toy", "aime24"], "prompt": ["a", "b", "c"]}).to_parquet(path)
    cfg = OmegaConf.create({"data": {"val_files": [str(path), str(tmp_path / "missing.parquet")]},
                            "actor_rollout_ref": {"rollout": {"val_kwargs": {"n": 4}}}})  # fmt: skip
    assert view.benchmarks_of(cfg) == [view.Benchmark("aime24", 4), view.Benchmark("toy", 4)]


def test_readable_params_copy_verls_values_and_name_the_recipe():
    params = {"actor_rollout_ref/actor/optim/lr": "5e-05", "data/train_batch_size": "16", "schedule/period": "20"}
    assert readable_params(params, {"recipe": "toy_demo"}) == {"recipe": "toy_demo", "lr": "5e-05", "train_batch_size": "16"}
    # A short name verl itself logs with another value is left out (MLflow params are immutable).
    assert "lr" not in readable_params({**params, "lr": "other"}, {})


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_finished_run_gets_its_description_and_pareto_point(tmp_path):
    from omegaconf import OmegaConf

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = experiment_id(client, "siri_verl")
    run_id = client.create_run(experiment, run_name="toy_demo").info.run_id
    client.log_batch(run_id, metrics=[
        Metric("val-core/toy/acc/mean_at_4", value, 0, step) for step, value in ((0, 0.89), (20, 0.92))
    ] + [Metric("val-aux/toy/response_tokens/mean_at_4", value, 0, step) for step, value in ((0, 44.6), (20, 41.9))])
    cfg = OmegaConf.create({"schedule": {"shape": "cosine", "l_max": 128, "l_min": 48, "period": 20}})
    summary = {"experiment": "toy_demo", "seconds": 1.0, "steps": 20,
               "val_acc": {"val-core/toy/acc/mean_at_4": (0.89, 0.92)}}  # fmt: skip
    record_finished_run(cfg, MlflowRun(run_id, uri, "siri_verl", {}, experiment), summary, {"recipe": "toy_demo"})
    note = client.get_run(run_id).data.tags[view.NOTE_TAG]
    assert "`toy_demo`" in note and "shape=cosine" in note and "| 0.890 | 0.920 |" in note
    artifacts = {a.path for a in client.list_artifacts(run_id, "pareto")}
    assert artifacts == {"pareto/pareto.md", "pareto/pareto_toy.png"}
    table = Path(client.download_artifacts(run_id, "pareto/pareto.md", str(tmp_path))).read_text()
    assert "| toy_demo | 92.0 | 42 | yes | train-val |" in table
    assert view.parse_view(client.get_experiment(experiment).tags[view.VIEW_TAG])[0] == [view.Benchmark("toy", 4)]
