"""The toy study's bookkeeping (siri_verl/lab/toy_study.py) without training anything.

Checkpoint selection reads a job directory laid out as a real `python -m siri_verl` job leaves
it (`.hydra/config.yaml`, `summary.json`, verl's `global_step_N/actor/huggingface` and the kept
phase ends). The end-to-end smoke run of the study is tests/e2e/test_toy_study_smoke_on_cpu.py.
"""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from siri_verl.config import compose_recipe
from siri_verl.lab import study_report, toy_study
from siri_verl.lab.study_arms import ARMS_BY_NAME


def _fake_job(tmp_path, recipe: str, steps: int, kept: list[int]):
    job = toy_study.job_dir(tmp_path, recipe, 0)
    cfg = compose_recipe(recipe, [f"trainer.total_training_steps={steps}"])
    (job / ".hydra").mkdir(parents=True)
    # as a job leaves it: unresolved (a constant cap is ${data.max_response_length})
    (job / ".hydra" / "config.yaml").write_text(OmegaConf.to_yaml(
        {"schedule": cfg.schedule, "data": {"max_response_length": cfg.data.max_response_length},
         "trainer": {"total_training_steps": steps}}
    ))  # fmt: skip
    (job / "checkpoints" / f"global_step_{steps}" / "actor" / "huggingface").mkdir(parents=True)
    for step in kept:
        (job / "checkpoints" / "siri_phase_ends" / f"global_step_{step}" / "actor" / "huggingface").mkdir(parents=True)
    (job / "summary.json").write_text(json.dumps({"run_id": "r", "seconds": 1.0}))
    return job


def test_siri_low_is_the_last_trough_and_siri_high_the_final_checkpoint(tmp_path):
    # the recipe's cosine, T = 4 over 12 steps: troughs 2, 6 and 10, peaks 4, 8 and 12
    job = _fake_job(tmp_path, "toy_siri_cosine", 12, kept=[2, 4, 6, 8, 10, 12])
    low, low_step = toy_study.checkpoint_of(ARMS_BY_NAME["SIRI-low"], job)
    high, high_step = toy_study.checkpoint_of(ARMS_BY_NAME["SIRI-high"], job)
    assert (low_step, high_step) == (10, 12)
    assert "siri_phase_ends/global_step_10" in str(low) and str(high).endswith("global_step_12/actor/huggingface")


def test_an_unfinished_job_or_a_missing_kept_trough_is_named(tmp_path):
    job = _fake_job(tmp_path, "toy_siri_cosine", 12, kept=[2])
    with pytest.raises(FileNotFoundError, match="global_step_10"):
        toy_study.checkpoint_of(ARMS_BY_NAME["SIRI-low"], job)
    (job / "summary.json").unlink()  # a job killed before it finished has no summary
    assert toy_study.final_checkpoint(job) is None
    with pytest.raises(FileNotFoundError, match="no finished run"):
        toy_study.checkpoint_of(ARMS_BY_NAME["SIRI-high"], job)


def test_every_kept_phase_end_of_every_trained_recipe_is_evaluated_once_and_reported_by_step(tmp_path):
    import argparse

    _fake_job(tmp_path, "toy_siri_cosine", 12, kept=[2, 4, 6, 8, 10, 12])
    _fake_job(tmp_path, "toy_thinkprune", 12, kept=[4, 8])
    constant = _fake_job(tmp_path, "toy_constant", 12, kept=[])
    assert toy_study.job_phase_ends(constant) == ([], [])
    job = toy_study.job_dir(tmp_path, "toy_siri_cosine", 0)
    (job / "checkpoints" / "siri_phase_ends" / "global_step_6.2" / "actor" / "huggingface").mkdir(parents=True)
    assert [step for step, _ in toy_study.kept_phase_ends(job)] == [2, 4, 6, 8, 10, 12]  # a repeat keep is no step

    args = argparse.Namespace(seeds=[0], limit=10, n=2)
    arms = [ARMS_BY_NAME[name] for name in ("warm start", "constant cap", "SIRI-low", "SIRI-high", "ThinkPrune-style")]
    siri_low_task = {"arm": "SIRI-low", "out_dir": "eval/SIRI-low/seed0"}
    along = toy_study.phase_end_tasks(tmp_path, arms, args, {("toy_siri_cosine", 0, 10): siri_low_task})
    assert [(p["recipe"], p["step"], p["phase"]) for _, p in along] == [
        ("toy_siri_cosine", 2, "trough"), ("toy_siri_cosine", 4, "peak"), ("toy_siri_cosine", 6, "trough"),
        ("toy_siri_cosine", 8, "peak"), ("toy_siri_cosine", 10, "trough"), ("toy_siri_cosine", 12, "peak"),
        ("toy_thinkprune", 4, "trough"), ("toy_thinkprune", 8, "trough"),
    ]  # fmt: skip
    task = along[0][0]
    assert task["model"].endswith("siri_phase_ends/global_step_2/actor/huggingface") and task["limit"] == 10
    assert along[4][0] is siri_low_task  # the arm's own checkpoint: its eval, not a second one

    points = [{**p, "acc": 0.5 + 0.1 * seed, "tokens": 40.0} for seed in (0, 1) for _, p in along[:1]]
    section = study_report.phase_ends_markdown(points)
    assert "| toy_siri_cosine | 2 | trough | 55.0 ± " in section and "| 2 |" in section
    assert study_report.phase_ends_markdown([]) == ""


def test_eval_lanes_split_the_cores_between_them(monkeypatch):
    # torch's default pool of every core per process made two eval lanes on 2 cores 8.6x slower
    monkeypatch.setattr(toy_study.os, "cpu_count", lambda: 2)
    assert toy_study.lane_threads(2) == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    assert toy_study.lane_threads(1)["OMP_NUM_THREADS"] == "2"
    assert toy_study.lane_threads(4)["OMP_NUM_THREADS"] == "1"
