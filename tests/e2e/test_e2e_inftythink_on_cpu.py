"""End to end: InftyThink+ trajectory-level RL with the real verl V1 trainer on CPU (no fakes).

recipe=inftythink_tiny: the tiny model warmed up in the segment layout, φ=4 segments of η=24
tokens. Trajectories have several segments, verl trains on every segment's row, and the
number of optimiser steps per training step stays at one however many rows there are.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

STEPS = 2
TRAJECTORIES_PER_STEP = 8 * 4  # data.train_batch_size x rollout.n in recipes/_tiny_common.yaml


@pytest.fixture(scope="module")
def inftythink_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("inftythink_run")
    tracking_uri = f"sqlite:///{workdir / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    command = [
        sys.executable, "-m", "siri_verl", "recipe=inftythink_tiny",
        f"trainer.total_training_steps={STEPS}", "trainer.test_freq=-1", "trainer.val_before_train=false",
        f"hydra.run.dir={workdir / 'hydra'}",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]

    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("siri_verl").experiment_id])

    def history(key):
        return {m.step: m.value for m in client.get_metric_history(run.info.run_id, key)}

    return history


def test_trajectories_have_several_segments(inftythink_run):
    segments = inftythink_run("inftythink/segments/mean")
    assert sorted(segments) == list(range(1, STEPS + 1))
    assert max(inftythink_run("inftythink/segments/max").values()) >= 2
    assert all(value > 1.0 for value in segments.values()), segments


def test_verl_trains_on_every_segment_row(inftythink_run):
    rows = inftythink_run("training/rows")
    segments = inftythink_run("inftythink/segments/mean")
    for step, count in rows.items():
        # every segment of every trajectory is a row (plus padding to a multiple of rollout.n)
        assert count >= segments[step] * TRAJECTORIES_PER_STEP > TRAJECTORIES_PER_STEP
    # A step in which every group scored alike has zero GRPO advantage, hence zero gradient.
    assert any(value > 0 for value in inftythink_run("actor/grad_norm").values())


def test_optimizer_steps_do_not_grow_with_segments(inftythink_run):
    assert set(inftythink_run("training/optimizer_steps").values()) == {1.0}
