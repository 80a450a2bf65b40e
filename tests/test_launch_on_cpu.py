"""The launcher's fast paths: composing every shipped recipe, and GPU recipes refused on CPU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from siri_verl import assets
from siri_verl.checks import ConfigError, run_checks
from siri_verl.launch import conf_dir

RECIPES = sorted(p.stem for p in (Path(conf_dir()) / "recipe").glob("*.yaml") if not p.stem.startswith("_"))


def compose_recipe(name: str, overrides: list[str] = ()):
    assets.register_resolver()
    with initialize_config_dir(config_dir=conf_dir(), version_base=None):
        return compose("config", overrides=[f"recipe={name}", *overrides], return_hydra_config=True)


def choices_of(cfg) -> dict:
    return dict(cfg.hydra.runtime.choices)


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_composes_and_passes_its_checks(recipe):
    cfg = compose_recipe(recipe)
    choices = choices_of(cfg)
    choices["backend"] = "cpu"  # the GPU requirement is checked separately below
    run_checks(cfg, choices)
    first_line = (Path(conf_dir()) / "recipe" / f"{recipe}.yaml").read_text().splitlines()[1]
    assert first_line.startswith("# python -m siri_verl") and f"recipe={recipe}" in first_line


def test_every_recipe_opens_with_the_command_that_runs_it():
    assert "tiny" in RECIPES and "siri_low" in RECIPES


def test_an_impossible_schedule_is_refused_naming_the_key():
    cfg = compose_recipe("tiny", ["schedule.l_min=100"])
    with pytest.raises(ConfigError, match=r"schedule\.l_min"):
        run_checks(cfg, choices_of(cfg))


def test_response_length_below_schedule_maximum_is_refused():
    cfg = compose_recipe("tiny", ["data.max_response_length=30"])
    with pytest.raises(ConfigError, match=r"data\.max_response_length"):
        run_checks(cfg, choices_of(cfg))


def test_gpu_recipe_on_cpu_stops_with_a_clear_message():
    result = subprocess.run(
        [sys.executable, "-m", "siri_verl", "recipe=siri_low"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "8 CUDA GPU(s)" in result.stderr and "siri-verl[gpu]" in result.stderr
    assert "recipe=tiny" in result.stderr


def test_cfg_job_prints_the_composed_config():
    result = subprocess.run(
        [sys.executable, "-m", "siri_verl", "recipe=siri_high", "--cfg", "job"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    cfg = OmegaConf.create(result.stdout)
    assert cfg.schedule.period == 640 and cfg.trainer.total_training_steps == 1920
