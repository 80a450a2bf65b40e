"""The eval protocol (``siri_verl/eval/eval_protocol.py``) is recorded with every eval result, and
``python -m siri_verl.pareto`` keeps runs evaluated under different protocols off one frontier.

Two real evals of the tiny CPU model (``python -m siri_verl.eval``, 2 toy problems) that differ
only in n: each records its protocol as MLflow params, in ``summary.md`` and in
``summary.json``; pareto refuses to draw them together, naming ``n``, unless
``--mixed-protocols`` is given.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from siri_verl.eval.eval_protocol import (
    NOT_RECORDED,
    PARAM_PREFIX,
    answer_checker_version,
    differences,
    file_sha256,
    for_benchmark,
)
from siri_verl.tracking.pareto import MIXED_PROTOCOLS_STATUS, points_from_runs, protocol_differences
from siri_verl.tracking.pareto import main as pareto_main

RECORDED_KEYS = {
    "n", "temperature", "top_p", "top_k", "mode", "max_tokens", "limit", "prompt_template", "answer_checker",
    "backend", "backend_version", "dataset/toy",
}  # fmt: skip


def run_eval(tmp_path, out: str, *overrides: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "siri_verl.eval", "model=tiny_model", "benchmarks=[toy]", "backend=cpu", "limit=2",
        "max_tokens=16", "temperature=1", f"mlflow.run_name={out}", f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
        f"hydra.run.dir={tmp_path / out}", *overrides,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)


@pytest.fixture(scope="module")
def evals(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("protocol")
    for out, n in (("n1", 1), ("n2", 2)):
        done = run_eval(tmp_path, out, f"n={n}", "pass_k=[1]")
        assert done.returncode == 0, done.stderr[-3000:]
    return tmp_path


def test_each_eval_records_its_protocol_as_params_and_in_its_summaries(evals):
    import mlflow

    from siri_verl.eval.run import benchmark_file

    client = mlflow.MlflowClient(f"sqlite:///{evals / 'mlflow.db'}")
    runs = {r.info.run_name: r for r in client.search_runs([client.get_experiment_by_name("eval").experiment_id])}
    assert set(runs) == {"n1", "n2"}
    for name, n in (("n1", "1"), ("n2", "2")):
        params = {k[len(PARAM_PREFIX) :]: v for k, v in runs[name].data.params.items() if k.startswith(PARAM_PREFIX)}
        assert set(params) == RECORDED_KEYS
        assert params["n"] == n and params["temperature"] == "1.0" and params["top_p"] == "0.95"
        assert params["max_tokens"] == "16" and params["limit"] == "2" and params["backend"] == "cpu"
        assert params["backend_version"].startswith("transformers ") and ", torch " in params["backend_version"]
        assert params["answer_checker"] == answer_checker_version() and "math-verify 0." in params["answer_checker"]
        assert params["dataset/toy"] == file_sha256(benchmark_file("toy", "unused"))
        assert len(params["prompt_template"]) == 16
        # The same protocol in summary.json and at the head of summary.md.
        assert json.loads((evals / name / "summary.json").read_text())["protocol"] == params
        summary = (evals / name / "summary.md").read_text()
        assert summary.startswith("## Eval protocol") and f"| n | `{n}` |" in summary
        assert summary.index("| prompt_template |") < summary.index("| toy | 2 |")
    assert runs["n1"].data.params[PARAM_PREFIX + "prompt_template"] == runs["n2"].data.params[PARAM_PREFIX + "prompt_template"]


def test_pareto_refuses_runs_with_different_n_and_names_n(evals, tmp_path, capsys):
    uri = f"sqlite:///{evals / 'mlflow.db'}"
    out = tmp_path / "refused"
    status = pareto_main(["--experiment", "eval", "--benchmark", "toy", "--tracking-uri", uri, "--out", str(out)])
    message = capsys.readouterr().err
    assert status == MIXED_PROTOCOLS_STATUS
    assert "different protocols" in message and "--mixed-protocols" in message
    assert "\n  n: " in message and "n1=1" in message and "n2=2" in message
    # Only n differs: the rest of the protocol is the same for both runs.
    assert [line.split(":")[0].strip() for line in message.splitlines() if line.startswith("  ")] == ["n"]
    assert not (out / "pareto_toy.png").exists()


def test_pareto_draws_them_together_when_told_to(evals, tmp_path, capsys):
    uri = f"sqlite:///{evals / 'mlflow.db'}"
    out = tmp_path / "mixed"
    args = ["--experiment", "eval", "--benchmark", "toy", "--tracking-uri", uri, "--out", str(out), "--mixed-protocols"]
    assert pareto_main(args) == 0
    assert (out / "pareto_toy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / "pareto_toy.md").read_text()
    assert "| n1 |" in table and "| n2 |" in table and "Mixed eval protocols" in table and "n: n1=1, n2=2" in table
    assert "n: n1=1, n2=2" in capsys.readouterr().out


def test_protocols_are_compared_per_benchmark_and_a_missing_record_differs():
    params = {"protocol/n": "4", "protocol/dataset/aime24": "aaa", "protocol/dataset/math500": "bbb", "other": "x"}
    assert for_benchmark(params, "aime24") == {"n": "4", "dataset": "aaa"}
    other_math500 = {**params, "protocol/dataset/math500": "ccc"}
    assert differences([("a", for_benchmark(params, "aime24")), ("b", for_benchmark(other_math500, "aime24"))]) == {}
    assert differences([("a", for_benchmark(params, "aime24")), ("b", {})]) == {
        "n": [("a", "4"), ("b", NOT_RECORDED)], "dataset": [("a", "aaa"), ("b", NOT_RECORDED)]
    }  # fmt: skip
    assert differences([("a", {}), ("b", {})]) == {}  # runs from before protocols were recorded


def test_training_validation_points_are_not_compared():
    runs = pd.DataFrame({
        "run_id": ["e", "t"], "tags.mlflow.runName": ["evaluated", "trained"],
        "metrics.eval/x/acc": [0.5, None], "metrics.eval/x/mean_tokens": [10.0, None],
        "metrics.val-core/x/acc/mean_at_4": [None, 0.4], "metrics.response_length/mean": [None, 12.0],
        "params.protocol/n": ["4", None],
    })  # fmt: skip
    points = points_from_runs(runs, "x", source="auto")
    assert points["source"].tolist() == ["eval", "train-val"]
    assert protocol_differences(points) == {}
