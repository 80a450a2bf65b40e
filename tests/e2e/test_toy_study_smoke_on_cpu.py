"""The toy study's CI smoke test: the whole command, shrunk to one training step.

``python -m siri_verl.lab.toy_study`` is a benchmark (about an hour and a half on 2 cores,
results/toy_study.md), not a test. This runs the same command end to end in about two minutes:
the headroom checks, one training step of the arm that carries both methods (SIRI x InftyThink:
the SIRI schedule's cap on the ``inftythink`` agent loop) as a Hydra multirun, the evals of its
checkpoint and of one untrained row per side (those beside the training job) under the study's
protocol (the SIRI side's single-call eval, the InftyThink+ side's segmented one), the report
code on those runs, then the same command again, which must redo nothing. Every arm starts from
the untrained toy reasoner (``--start-model toy_reasoner_base``, built in seconds) instead of the
SFT builds, which take minutes: the numbers mean nothing; the path is the real one.

One training job, not one per side: a verl job's start-up is most of a short job's time (about a
minute on 2 cores, results/overhead.md), and two at once took the test to 136 s. The SIRI-side
recipes' agent loop (``siri_length``) trains in tests/e2e/test_e2e_tiny_on_cpu.py (``recipe=tiny``,
SIRI's cosine cap); the study's choice of each arm's checkpoint is tests/lab/test_toy_study_on_cpu.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mlflow

from siri_verl.lab import toy_study
from siri_verl.lab.study_arms import ARMS_BY_NAME

ARMS = ["warm start", "cold start only", "SIRI x InftyThink"]
TRAINED = "SIRI x InftyThink"


def _study(out, results, *extra):
    command = [
        sys.executable, "-m", "siri_verl.lab.toy_study", "--out", str(out), "--results-dir", str(results),
        "--seeds", "0", "--steps", "1", "--limit", "2", "--n", "2", "--start-model", "toy_reasoner_base",
        "--arms", *ARMS, "--headroom-limit", "2", "--headroom-seeds", "1", *extra,
        # 2 prompts x 2 samples: the untrained model writes to every cap, so the step costs little.
        "--override", "data.train_batch_size=2", "--override", "actor_rollout_ref.actor.ppo_mini_batch_size=2",
        "--override", "actor_rollout_ref.rollout.n=2",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def test_the_study_trains_evaluates_and_reports_each_arm_type_then_resumes_without_rework(tmp_path):
    out, results = tmp_path / "study", tmp_path / "results"
    first = _study(out, results)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]

    rows = json.loads((out / "rows.json").read_text())
    assert sorted(rows) == sorted(ARMS)
    for arm in ARMS:
        (row,) = rows[arm]
        assert 0.0 <= row["acc"] <= 1.0 and row["tokens"] > 0, (arm, row)
    assert rows[TRAINED][0]["step"] == 1
    assert rows[TRAINED][0]["segments"] >= 1 and rows[TRAINED][0]["max_peak_context"] > 0

    report = (results / "toy_study.md").read_text()
    for arm in ARMS:
        assert f"| {arm} |" in report
    assert "every arm started from `toy_reasoner_base` (a smoke run)" in report
    # The command it states runs as written: arm names with spaces stay quoted.
    assert "--arms 'warm start' 'cold start only' 'SIRI x InftyThink'" in report
    assert "2 jobs at a time" in report and "No setting was tuned on a reported seed" in report
    # The headroom checks were printed before any training, and head the report.
    assert first.stdout.index("Headroom checks") < first.stdout.index("toy_study: training")
    assert report.index("## Headroom checks") < report.index("## Arms")
    for check in ("room to compress", "room to learn", "the cap binds, then releases", "extra reasoning can help"):
        assert f"| {check} |" in report
    assert (results / "toy_study_pareto.png").exists() and (results / "toy_study_pareto_inftythink.png").exists()

    # One study run in MLflow, the training jobs and evals below it, the report on it.
    client = mlflow.MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    (study,) = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "tags.`siri_verl.kind` = 'study'"
    )
    assert study.info.status == "FINISHED"
    assert "toy_study.md" in [a.path for a in client.list_artifacts(study.info.run_id)]

    # A rerun trains nothing and evaluates nothing again: every job and eval left its result.
    second = _study(out, results)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "toy_study: training" not in second.stdout and "toy_study: evaluating" not in second.stdout
    assert "toy_study: evaluating" in (out / "logs" / "eval_lane0.log").read_text()
    # The untrained rows were evaluated beside the training job, not after it.
    assert "toy_study: evaluating warm start seed 0" in (out / "logs" / "eval_untrained0.log").read_text()
    untrained_done = (toy_study.arm_eval_root(out, ARMS_BY_NAME["warm start"]) / "seed0" / "summary.json").stat()
    trained_done = (toy_study.job_dir(out, ARMS_BY_NAME[TRAINED].recipe, 0) / "summary.json").stat()
    assert untrained_done.st_mtime < trained_done.st_mtime
    assert json.loads((out / "rows.json").read_text()) == rows
    # ... and reports on the same MLflow run.
    (again,) = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "tags.`siri_verl.kind` = 'study'"
    )
    assert again.info.run_id == study.info.run_id and again.info.status == "FINISHED"
