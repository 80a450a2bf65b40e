"""Training benchmarks on the real CPU trainer: ``optimizer_steps`` and ``step_time``.

``optimizer_steps`` runs ``recipe=inftythink_tiny`` twice in one invocation, with and without
``siri_verl.fixed_optimizer_steps``, and reports per step the rows verl trained on, the mean
segments per trajectory and the optimiser steps taken: the baseline (verl's own mini-batching,
which counts rows) against the fix, measured in the same run.

``step_time`` runs ``recipe=tiny`` twice, with verl's 2 s replay-buffer poll (the baseline) and
with the cpu backend's 0.1 s, and reports seconds per training step from verl's own
``timing_s/step`` and ``timing_s/gen`` metrics (the first step, which warms up, is left out).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def _train(recipe: str, steps: int, overrides: list[str], workdir: Path) -> dict[str, dict[int, float]]:
    import mlflow

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    command = [
        sys.executable, "-m", "siri_verl", f"recipe={recipe}", f"trainer.total_training_steps={steps}",
        "trainer.test_freq=-1", "trainer.val_before_train=false", "siri_verl.summary=false",
        f"trainer.experiment_name={recipe}", f"hydra.run.dir={workdir / 'hydra'}", *overrides,
    ]  # fmt: skip
    result = subprocess.run(command, cwd=workdir, env={**os.environ, "MLFLOW_TRACKING_URI": uri}, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{(result.stdout + result.stderr)[-4000:]}")
    client = mlflow.MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("siri_verl").experiment_id])
    return {
        key: {m.step: m.value for m in client.get_metric_history(run.info.run_id, key)}
        for key in run.data.metrics
    }


def main_optimizer_steps(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m siri_verl.bench optimizer_steps",
        description="Run recipe=inftythink_tiny with and without siri_verl.fixed_optimizer_steps and print, per\n"
        "step, the rows trained on, the mean segments per trajectory and the optimiser steps taken (JSON).",
        epilog="example:\n  python -m siri_verl.bench optimizer_steps --steps 3",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=3, help="training steps per run (default %(default)s)")
    args = parser.parse_args(argv)
    report = {}
    for label, fixed in (("verl mini-batching (baseline)", "false"), ("siri_verl.fixed_optimizer_steps", "true")):
        with tempfile.TemporaryDirectory() as tmp:
            metrics = _train("inftythink_tiny", args.steps, [f"siri_verl.fixed_optimizer_steps={fixed}"], Path(tmp))
        report[label] = {
            step: {
                "rows": metrics["training/rows"][step],
                "segments_mean": metrics["inftythink/segments/mean"][step],
                "optimizer_steps": metrics["training/optimizer_steps"][step],
            }
            for step in sorted(metrics["training/rows"])
        }
    print(json.dumps(report, indent=2))
    return 0


def main_step_time(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m siri_verl.bench step_time",
        description="Run recipe=tiny with verl's 2 s replay-buffer poll and with the cpu backend's 0.1 s, and print\n"
        "the mean timing_s/step and timing_s/gen of each (the first, warm-up step left out) as JSON.",
        epilog="example:\n  python -m siri_verl.bench step_time --steps 6",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=6, help="training steps per run (default %(default)s)")
    args = parser.parse_args(argv)
    report = {}
    for label, interval in (("verl poll 2 s (baseline)", "null"), ("siri_verl poll 0.1 s", "0.1")):
        with tempfile.TemporaryDirectory() as tmp:
            metrics = _train("tiny", args.steps, [f"siri_verl.replay_poll_interval_s={interval}"], Path(tmp))
        steps = sorted(metrics["timing_s/step"])[1:]
        report[label] = {key: sum(metrics[key][s] for s in steps) / len(steps) for key in ("timing_s/step", "timing_s/gen")}
    baseline, ours = report.values()
    report["speed-up (baseline / ours, timing_s/step)"] = baseline["timing_s/step"] / ours["timing_s/step"]
    print(json.dumps(report, indent=2))
    return 0
