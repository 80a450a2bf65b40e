"""``python -m siri_verl.eval`` on the tiny CPU model over 5 toy problems, both modes (no fakes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run_eval(tmp_path, out: str, *overrides: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "siri_verl.eval", "benchmarks=[toy]", "backend=cpu", "n=4", "limit=5",
        f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}", f"hydra.run.dir={tmp_path / out}", *overrides,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)


@pytest.fixture(scope="module")
def evals(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("eval")
    long = run_eval(tmp_path, "long", "model=tiny_model", "max_tokens=40", "temperature=1.0")
    assert long.returncode == 0, long.stderr[-3000:]
    iterative = run_eval(
        tmp_path, "iterative", "model=tiny_inftythink_model", "mode=inftythink", "temperature=1.0",
        "inftythink.max_segments=4", "inftythink.segment_cap=24", f"baseline={tmp_path / 'long' / 'summary.json'}",
    )  # fmt: skip
    assert iterative.returncode == 0, iterative.stderr[-3000:]
    return tmp_path


def test_long_mode_reports_every_figure(evals):
    summary = json.loads((evals / "long" / "summary.json").read_text())["benchmarks"]["toy"]
    assert summary["problems"] == 5 and summary["samples"] == 20
    for key in ("avg@4", "pass@1", "mean_tokens", "median_tokens", "truncation_rate", "mean_latency_s"):
        assert key in summary
    assert 0 <= summary["avg@4"] <= 1 and summary["mean_tokens"] > 0
    lines = (evals / "long" / "generations" / "toy.jsonl").read_text().splitlines()
    assert len(lines) == 20
    assert "| toy | 5 |" in (evals / "long" / "summary.md").read_text()


def test_iterative_mode_runs_segments_and_compares_with_the_baseline(evals):
    report = json.loads((evals / "iterative" / "summary.json").read_text())
    assert report["benchmarks"]["toy"]["mean_segments"] >= 1
    assert "delta_cr_acc" in report["relative"]
    records = [json.loads(line) for line in (evals / "iterative" / "generations" / "toy.jsonl").read_text().splitlines()]
    assert {r["stop_reason"] for r in records} <= {"conclusion", "invalid_format", "max_segments", "token_cap"}


def test_eval_runs_are_logged_to_mlflow_with_final_metrics(evals):
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{evals / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("eval").experiment_id])
    assert len(runs) == 2
    for run in runs:
        assert run.data.tags["siri_verl.kind"] == "eval"
        assert "eval/toy/acc" in run.data.metrics and "eval/toy/mean_tokens" in run.data.metrics


def test_a_rerun_keeps_finished_generations_and_adds_none(evals):
    path = evals / "long" / "generations" / "toy.jsonl"
    before = path.read_text()
    again = run_eval(evals, "long", "model=tiny_model", "max_tokens=40", "temperature=1.0")
    assert again.returncode == 0, again.stderr[-3000:]
    assert path.read_text() == before
