"""scripts/gpu_check.py's device run, planned on CPU: every job it would start composes and passes
the compose-time checks (the GPU pre-flight aside: no GPU here), resumes from the checkpoint the job
before it saves, and the carry plan holds what the device lacks and nothing it has or the run skips.
The jobs themselves run on CPU in tests/e2e/test_e2e_gpu_check_steps_on_cpu.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from _repo import REPO

from siri_verl import checks
from siri_verl.config import compose_recipe


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_every_job_of_the_device_run_composes_and_passes_the_checks(gpu_check, tmp_path):
    jobs = gpu_check.rl_jobs(["gpu_hf", "cpu"], list(gpu_check.TOY_RECIPES), 2, ["gpu_hf"], tmp_path)
    assert [job.name for job in jobs] == [
        "toy_demo-gpu_hf", "toy_demo-gpu_hf-resumed", "toy_inftythink_task-gpu_hf", "toy_inftythink_task-gpu_hf-resumed",
        "toy_demo-cpu", "toy_inftythink_task-cpu",
    ]  # fmt: skip
    for job in jobs:
        command = job.command()
        assert command[1:3] == ["-m", "siri_verl"]
        # hydra.* keys are the app's own, not the composed config's.
        cfg = compose_recipe(job.recipe, [o for o in command[3:] if not o.startswith(("recipe=", "hydra."))])
        choices = dict(cfg.hydra.runtime.choices)
        assert choices["backend"] == job.backend
        for check in checks._CHECKS:
            if check is not checks.gpu_backend_needs_gpus:
                check(cfg, choices)
        assert list(cfg.trainer.logger) == ["console"]  # MLflow is not carried to the device
        if job.resume_from:
            assert cfg.trainer.resume_mode == "resume_path" and cfg.trainer.total_training_steps == 3
            assert Path(cfg.trainer.resume_from_path) == job.run_dir / "checkpoints" / "global_step_2"
        else:
            assert cfg.trainer.resume_mode == "disable" and cfg.trainer.save_freq == 2


def test_the_carry_plan_holds_what_the_device_lacks_and_leaves_the_rest(gpu_check):
    plan = gpu_check.carry_plan()
    for needed in ("verl", "ray", "hydra-core", "omegaconf", "tensordict", "transferqueue", "math-verify"):
        assert needed in plan
    # On the device at versions verl refuses: carried at this checkout's.
    assert plan["transformers"].startswith("5.10") and plan["tokenizers"].startswith("0.22")
    for absent in ("mlflow", "wandb", "av", "torchcodec", "pytest", "torch", "numpy", "pandas", "siri-verl"):
        assert absent not in plan
