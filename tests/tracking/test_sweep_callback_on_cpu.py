"""A real Hydra multirun of a trivial task with ``MlflowSweepCallback``: one parent, three children.

The task opens its own MLflow run the way ``siri_verl.tracking.runs.open_training_run`` does
(parent from ``SIRI_VERL_PARENT_RUN_ID``) and logs verl-style validation accuracy and rollout
length, so the sweep summary exercises the fallback from ``eval/...`` metrics.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from _repo import REPO

from siri_verl.tracking.pareto import search_runs_frame
from siri_verl.tracking.sweep import MlflowSweepCallback, benchmarks_in

APP = textwrap.dedent('''
    import os

    import hydra
    import mlflow

    from siri_verl.tracking.runs import PARENT_RUN_ENV, tracking_uri_from


    @hydra.main(version_base=None, config_path=".", config_name="config")
    def main(cfg):
        client = mlflow.MlflowClient(tracking_uri_from(cfg))
        experiment = client.get_experiment_by_name(cfg.trainer.project_name)
        tags = {"mlflow.parentRunId": os.environ[PARENT_RUN_ENV]} if PARENT_RUN_ENV in os.environ else {}
        run_id = client.create_run(experiment.experiment_id, run_name=f"x={cfg.x}", tags=tags).info.run_id
        client.log_metric(run_id, "val-core/toy/acc/mean_at_4", 0.1 * cfg.x)
        client.log_metric(run_id, "response_length/mean", 100.0 * cfg.x)
        client.set_terminated(run_id)


    if __name__ == "__main__":
        main()
''')

CONFIG = textwrap.dedent('''
    x: 0
    trainer:
      project_name: sweep-test
    siri_verl:
      mlflow:
        tracking_uri: sqlite:///mlflow.db   # relative on purpose: the callback makes it absolute
    hydra:
      callbacks:
        mlflow_sweep:
          _target_: siri_verl.tracking.sweep.MlflowSweepCallback
''')


def test_multirun_logs_parent_children_and_pareto(tmp_path):
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "config.yaml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SIRI_VERL_PARENT_RUN_ID")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "app.py", "-m", "x=1,2,3", f"hydra.sweep.dir={tmp_path / 'multirun'}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "WARNING" not in done.stderr, done.stderr[-3000:]

    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    runs = search_runs_frame("sweep-test", uri)
    parents = runs[runs["tags.siri_verl.kind"] == "sweep"]
    assert len(parents) == 1
    parent = parents.iloc[0]
    assert parent["status"] == "FINISHED"
    children = runs[runs["tags.mlflow.parentRunId"] == parent["run_id"]]
    assert sorted(children["tags.mlflow.runName"]) == ["x=1", "x=2", "x=3"]

    client = mlflow.MlflowClient(uri)
    artifacts = {a.path for a in client.list_artifacts(parent["run_id"])}
    assert {"pareto.png", "pareto.md"} <= artifacts
    table = Path(client.download_artifacts(parent["run_id"], "pareto.md", str(tmp_path))).read_text()
    assert "## toy" in table and table.count("| train-val |") == 3
    # Each child is more accurate and dearer than the last: all three are on the frontier.
    assert table.count("| yes |") == 3


def test_tracking_errors_never_fail_the_sweep(monkeypatch, caplog):
    from omegaconf import OmegaConf

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    callback = MlflowSweepCallback()
    config = OmegaConf.create({"trainer": {"project_name": "x"},
                               "siri_verl": {"mlflow": {"tracking_uri": "unknown-scheme://nowhere"}}})
    callback.on_multirun_start(config)
    callback.on_multirun_end(config)
    assert callback.run_id is None and "not opened" in caplog.text
    assert "SIRI_VERL_PARENT_RUN_ID" not in os.environ


def test_benchmarks_in_metric_columns():
    columns = ["metrics.eval/aime24/acc", "metrics.val-core/math500/acc/mean_at_16", "metrics.response_length/mean"]
    assert benchmarks_in(columns) == ["aime24", "math500"]
