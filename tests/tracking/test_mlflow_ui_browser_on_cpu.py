"""``mlflow ui`` on loopback over a real store, read by headless Chromium (Debian's ``chromium``).

A store with two standalone eval runs, and a sweep parent with two child runs carrying the
Pareto artifact (made by ``siri_verl.tracking.pareto``), is served by a real ``mlflow ui``; Chromium renders the
experiment page and the parent run's artifacts page and the test reads their DOM. With
``SIRI_VERL_WRITE_RESULTS=1`` the experiment page's screenshot is kept as
``results/mlflow_ui.png`` (without it the repository is left untouched):

    SIRI_VERL_WRITE_RESULTS=1 .venv/bin/pytest -q tests/tracking/test_mlflow_ui_browser_on_cpu.py
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from _repo import REPO

RUNS = {"siri_low": (0.404, 7093), "siri_high": (0.436, 10049), "grpo_16k": (0.41, 11500), "dapo_16k": (0.428, 10453)}
# The runs table folds a sweep's children under their parent: these two stand alone.
STANDALONE = ("siri_low", "siri_high")
CHROMIUM = shutil.which("chromium")
# Skip before the store and the server are built: without the browser there is nothing to check.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it when run as root)"
)
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    import mlflow

    from siri_verl.tracking.pareto import (
        EVAL_ACC_METRIC,
        EVAL_TOKENS_METRIC,
        frontier_table_markdown,
        load_points,
        plot_frontier,
    )

    tmp = tmp_path_factory.mktemp("mlflow_ui")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment_id = client.create_experiment("siri", artifact_location=(tmp / "artifacts").as_uri())
    parent = client.create_run(experiment_id, run_name="sweep_pareto", tags={"siri_verl.kind": "sweep"})
    for name, (acc, tokens) in RUNS.items():
        tags = {} if name in STANDALONE else {"mlflow.parentRunId": parent.info.run_id}
        run = client.create_run(experiment_id, run_name=name, tags=tags)
        client.log_metric(run.info.run_id, EVAL_ACC_METRIC.format(benchmark="aime24"), acc)
        client.log_metric(run.info.run_id, EVAL_TOKENS_METRIC.format(benchmark="aime24"), tokens)
        client.set_terminated(run.info.run_id)
    points = load_points("siri", "aime24", tracking_uri=uri)
    plot_frontier(points, tmp / "pareto.png", "aime24: accuracy vs tokens")
    (tmp / "pareto.md").write_text(frontier_table_markdown(points))
    for artifact in ("pareto.png", "pareto.md"):
        client.log_artifact(parent.info.run_id, str(tmp / artifact))
    client.set_terminated(parent.info.run_id)
    return tmp, uri, experiment_id, parent.info.run_id


@pytest.fixture(scope="module")
def mlflow_ui(store):
    tmp, uri, *_ = store
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mlflow_cli = Path(sys.executable).parent / "mlflow"
    server = subprocess.Popen(
        # One worker: the default four each import mlflow, which takes ~35 s on a 2-core machine.
        [str(mlflow_cli), "ui", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    pytest.fail("mlflow ui did not start on loopback")
                time.sleep(1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def chromium(url: str, tmp: Path, *extra: str) -> str:
    profile = tmp / f"profile{time.monotonic_ns()}"
    command = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=15000", *extra, url]
    return subprocess.run(command, capture_output=True, text=True, timeout=60).stdout


def test_experiment_page_lists_the_runs(store, mlflow_ui):
    tmp, _, experiment_id, _ = store
    page = f"{mlflow_ui}/#/experiments/{experiment_id}/runs"
    screenshot = tmp / "mlflow_ui.png"
    # One load serves both: the DOM on stdout and the screenshot of the same render.
    dom = chromium(page, tmp, "--dump-dom", f"--screenshot={screenshot}", "--window-size=1400,900")
    for name in [*STANDALONE, "sweep_pareto"]:
        assert name in dom, name
    assert screenshot.stat().st_size > 20_000
    if os.environ.get("SIRI_VERL_WRITE_RESULTS") == "1":
        shutil.copy(screenshot, REPO / "results" / "mlflow_ui.png")


def test_sweep_run_shows_the_pareto_artifact(store, mlflow_ui):
    tmp, _, experiment_id, parent_id = store
    dom = chromium(f"{mlflow_ui}/#/experiments/{experiment_id}/runs/{parent_id}/artifacts", tmp, "--dump-dom")
    assert "pareto.png" in dom and "pareto.md" in dom
