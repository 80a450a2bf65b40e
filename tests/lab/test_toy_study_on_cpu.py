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
    # the recipe's cosine, T = 16 over 48 steps: troughs 8, 24 and 40, peaks 16, 32 and 48
    job = _fake_job(tmp_path, "toy_siri_cosine", 48, kept=[8, 16, 24, 32, 40, 48])
    low, low_step = toy_study.checkpoint_of(ARMS_BY_NAME["SIRI-low"], job)
    high, high_step = toy_study.checkpoint_of(ARMS_BY_NAME["SIRI-high"], job)
    assert (low_step, high_step) == (40, 48)
    assert "siri_phase_ends/global_step_40" in str(low) and str(high).endswith("global_step_48/actor/huggingface")


def test_an_unfinished_job_or_a_missing_kept_trough_is_named(tmp_path):
    job = _fake_job(tmp_path, "toy_siri_cosine", 48, kept=[8])
    with pytest.raises(FileNotFoundError, match="global_step_40"):
        toy_study.checkpoint_of(ARMS_BY_NAME["SIRI-low"], job)
    (job / "summary.json").unlink()  # a job killed before it finished has no summary
    assert toy_study.final_checkpoint(job) is None
    with pytest.raises(FileNotFoundError, match="no finished run"):
        toy_study.checkpoint_of(ARMS_BY_NAME["SIRI-high"], job)


def test_every_kept_phase_end_of_every_trained_recipe_is_evaluated_once_and_reported_by_step(tmp_path):
    import argparse

    _fake_job(tmp_path, "toy_siri_cosine", 48, kept=[8, 16, 24, 32, 40, 48])
    _fake_job(tmp_path, "toy_thinkprune", 48, kept=[16, 32])
    constant = _fake_job(tmp_path, "toy_constant", 48, kept=[])
    assert toy_study.job_phase_ends(constant) == ([], [])
    job = toy_study.job_dir(tmp_path, "toy_siri_cosine", 0)
    (job / "checkpoints" / "siri_phase_ends" / "global_step_24.2" / "actor" / "huggingface").mkdir(parents=True)
    assert [step for step, _ in toy_study.kept_phase_ends(job)] == [8, 16, 24, 32, 40, 48]  # a repeat keep is no step

    args = argparse.Namespace(seeds=[0], limit=10, n=2, split="test")
    arms = [ARMS_BY_NAME[name] for name in ("warm start", "constant cap", "SIRI-low", "SIRI-high", "ThinkPrune-style")]
    siri_low_task = {"arm": "SIRI-low", "out_dir": "eval/SIRI-low/seed0"}
    along = toy_study.phase_end_tasks(tmp_path, arms, args, {("toy_siri_cosine", 0, 40): siri_low_task})
    assert [(p["recipe"], p["step"], p["phase"]) for _, p in along] == [
        ("toy_siri_cosine", 8, "trough"), ("toy_siri_cosine", 16, "peak"), ("toy_siri_cosine", 24, "trough"),
        ("toy_siri_cosine", 32, "peak"), ("toy_siri_cosine", 40, "trough"), ("toy_siri_cosine", 48, "peak"),
        ("toy_thinkprune", 16, "trough"), ("toy_thinkprune", 32, "trough"),
    ]  # fmt: skip
    task = along[0][0]
    assert task["model"].endswith("siri_phase_ends/global_step_8/actor/huggingface") and task["limit"] == 10
    assert along[4][0] is siri_low_task  # the arm's own checkpoint: its eval, not a second one

    points = [{**p, "acc": 0.5 + 0.1 * seed, "tokens": 40.0} for seed in (0, 1) for _, p in along[:1]]
    section = study_report.phase_ends_markdown(points)
    assert "| toy_siri_cosine | 8 | trough | 55.0 ± " in section and "| 2 |" in section
    assert study_report.phase_ends_markdown([]) == ""


def test_eval_lanes_split_the_cores_between_them(monkeypatch):
    # torch's default pool of every core per process made two eval lanes on 2 cores 8.6x slower
    monkeypatch.setattr(toy_study.os, "cpu_count", lambda: 2)
    assert toy_study.lane_threads(2) == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    assert toy_study.lane_threads(1)["OMP_NUM_THREADS"] == "2"
    assert toy_study.lane_threads(4)["OMP_NUM_THREADS"] == "1"


def test_concurrent_training_jobs_split_the_cores_between_them(monkeypatch, tmp_path):
    """Two training jobs at a time each give their FSDP actor one of the 2 cores (the CPU
    backend's default is both, for a job alone)."""
    monkeypatch.setattr(toy_study.os, "cpu_count", lambda: 2)
    commands = []
    monkeypatch.setattr(toy_study, "run_logged", lambda command, *args, **kwargs: commands.append(command))
    toy_study.train(tmp_path, ["toy_constant", "toy_siri_cosine"], [0], steps=1, extra=[], jobs=2)
    assert len(commands) == 2
    for command in commands:
        assert "ray_kwargs.ray_init.runtime_env.env_vars.OMP_NUM_THREADS='1'" in command


def test_tuning_runs_measure_on_the_tune_split_with_tuning_seeds_only(tmp_path):
    low = toy_study.study_arm("SIRI-low", "tune")
    assert low.benchmark == "running_sums_tune" and toy_study.study_arm("SIRI-low").benchmark == "running_sums_test"
    with pytest.raises(SystemExit, match="no tune split"):
        toy_study.study_arm("InftyThink+ T", "tune")
    with pytest.raises(SystemExit, match="tuning seeds"):
        toy_study.run_study(toy_study.parse_args(
            ["--out", str(tmp_path), "--split", "tune", "--seeds", "1", "100", "--arms", "constant cap"]
        ))


def test_the_study_evaluates_each_inftythink_side_arm_at_its_recipes_caps():
    """The eval budgets in study_arms.py are the recipes' training caps, and the long-CoT arm's
    per-call context fits within an InftyThink+ call's (H4 compares them at equal context)."""
    from siri_verl.lab.study_arms import ETA, LONGCOT_CAP, PROMPT_BUDGET

    for recipe in ("toy_inftythink_task", "toy_inftythink_eff"):
        cfg = compose_recipe(recipe)
        assert (cfg.inftythink.segment_cap, cfg.data.max_response_length) == (ETA, ETA), recipe
        assert cfg.data.max_prompt_length == PROMPT_BUDGET, recipe
    assert compose_recipe("toy_siri_inftythink").schedule.l_max == ETA
    longcot = compose_recipe("toy_longcot_rl")
    assert longcot.data.max_response_length == LONGCOT_CAP == longcot.schedule.length
    assert ARMS_BY_NAME["long-CoT RL"].max_tokens == LONGCOT_CAP
    # The long problems' prompts are 16-30 tokens (R1-Distill chat template, toy tokenizer).
    assert 32 + LONGCOT_CAP <= PROMPT_BUDGET + ETA
