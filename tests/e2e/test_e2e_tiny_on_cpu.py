"""End to end: ``python -m siri_verl`` runs the real verl V1 GRPO trainer on CPU (no fakes).

One run of the embedded default (recipe=tiny, cut to a few steps) backs every assertion here:
the trainer updates the policy, MLflow holds the step metrics, and SIRI's cap follows the
schedule with no response longer than its step's cap.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

STEPS = 4
GOLDEN = Path(__file__).parent / "golden" / "tiny_seed0_metrics.json"
GOLDEN_MODEL = Path(__file__).parent / "golden" / "tiny_model"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny_run")
    tracking_uri = f"sqlite:///{workdir / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable, "-m", "siri_verl",
        f"trainer.total_training_steps={STEPS}",
        "trainer.test_freq=4",
        f"hydra.run.dir={workdir / 'hydra'}",
        # The committed tiny model, so that the golden check below holds on any machine.
        f"actor_rollout_ref.model.path={GOLDEN_MODEL}",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    log = result.stdout + result.stderr
    (workdir / "run.log").write_text(log)
    assert result.returncode == 0, log[-6000:]

    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("siri_verl")
    (run,) = client.search_runs([experiment.experiment_id])
    return client, run, result.stdout, result.stderr


def history(client, run, key: str) -> dict[int, float]:
    return {metric.step: metric.value for metric in client.get_metric_history(run.info.run_id, key)}


def test_trainer_steps_and_updates_the_policy(tiny_run):
    client, run, *_ = tiny_run
    grad_norms = history(client, run, "actor/grad_norm")
    assert sorted(grad_norms) == list(range(1, STEPS + 1))
    # A step whose every group scored alike has zero GRPO advantage, hence zero gradient.
    assert any(value > 0 for value in grad_norms.values()), grad_norms


def test_mlflow_run_holds_step_and_validation_metrics(tiny_run):
    client, run, out, err = tiny_run
    log = out + err
    assert run.info.status == "FINISHED"
    for key in ("response_length/mean", "critic/score/mean", "siri/truncation_rate"):
        assert sorted(history(client, run, key)) == list(range(1, STEPS + 1)), key
    validation = history(client, run, "val-core/toy_addition/acc/mean_at_1")
    assert sorted(validation) == [0, STEPS]
    assert run.data.params["trainer/total_training_steps"] == str(STEPS)
    assert run.info.run_id in log and "mlflow ui --backend-store-uri" in log


def test_logged_cap_equals_the_schedule_and_no_response_exceeds_it(tiny_run):
    from omegaconf import OmegaConf

    from siri_verl.config import conf_dir
    from siri_verl.siri.schedule import build_schedule

    recipe = OmegaConf.load(os.path.join(conf_dir(), "recipe", "tiny.yaml"))
    schedule = build_schedule({"shape": "cosine", **OmegaConf.to_container(recipe.schedule)})
    client, run, *_ = tiny_run
    caps = history(client, run, "siri/max_response_length")
    assert caps == {step: schedule.length(step) for step in range(1, STEPS + 1)}
    longest = history(client, run, "response_length/max")
    assert all(longest[step] <= caps[step] for step in caps), (longest, caps)
    assert len(set(caps.values())) > 1, "the tiny recipe's cap should move within the run"


def test_a_fixed_seed_trains_what_it_trained_before(tiny_run):
    """What is trained does not change: every step's scores, lengths, caps, loss, gradient norm
    and validation accuracy equal the recorded run's (``golden/``) up to float noise. Speed-ups
    must keep this; the rollout's per-request sampling streams make it reproducible at all.
    The run starts from the committed model the recorded run used (``golden/tiny_model``): the
    tiny model's build is float-order sensitive, so a build on another CPU has other weights."""
    golden = json.loads(GOLDEN.read_text())
    weights = hashlib.sha256((GOLDEN_MODEL / "model.safetensors").read_bytes()).hexdigest()
    assert weights == golden["model_sha256"], "golden/tiny_model is not the model the metrics were recorded on"
    client, run, *_ = tiny_run
    for key, recorded in golden["metrics"].items():
        measured = history(client, run, key)
        assert sorted(measured) == sorted(int(step) for step in recorded), key
        for step, value in recorded.items():
            assert measured[int(step)] == pytest.approx(value, rel=1e-4, abs=1e-5), (key, step)


def test_the_console_fits_a_screen(tiny_run):
    """At most 40 lines (a terminal's height): no MLflow name warnings, verl's and its workers'
    start-up prints in the prints file, the trainer's lines, the progress bar, the summary."""
    *_, out, err = tiny_run
    # tqdm redraws its bar in place with \r: one line on a terminal.
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert len(lines) <= 40, "\n".join(lines)
    assert "sanitized" not in out + err
    assert "validation at step 0: toy_addition acc@1" in out
    assert "workflowType=machine_learning&viewStateShareKey=siri_verl" in out
