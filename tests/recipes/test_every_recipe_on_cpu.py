"""Every shipped recipe composes, passes its checks and opens with its command; the schedule preview."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from siri_verl.checks import run_checks
from siri_verl.config import compose_recipe, conf_dir, recipe_names

RECIPES = recipe_names()


def choices_of(cfg) -> dict:
    return dict(cfg.hydra.runtime.choices)


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_composes_and_passes_its_checks(recipe, tmp_path):
    from siri_verl.data.sources import SOURCES

    for name in SOURCES:  # what `python -m siri_verl.data prepare` writes (the data files are checked)
        (tmp_path / f"{name}.parquet").touch()
    cfg = compose_recipe(recipe, [f"siri_verl.data_dir={tmp_path}"])
    choices = choices_of(cfg)
    choices["backend"] = "cpu"  # the GPU requirement is checked separately below
    run_checks(cfg, choices)


# Recipe directory -> the module whose command runs its recipes (training; the SFT cold start).
RECIPE_DIRS = {Path(conf_dir()) / "recipe": "siri_verl", Path(conf_dir()) / "sft" / "recipe": "siri_verl.sft"}
RECIPE_FILES = sorted(path for folder in RECIPE_DIRS for path in folder.glob("*.yaml"))


def _opening_line(path: Path) -> str:
    """The recipe's first line after Hydra's ``# @package`` directive, without the ``# ``."""
    lines = path.read_text().splitlines()
    assert lines and lines[0].startswith("# @package"), f"{path}: line 1 must be Hydra's '# @package' directive"
    first = lines[1] if len(lines) > 1 else ""
    assert first.startswith("# "), f"{path}: line 2 must be a comment, got {first!r}"
    return first[2:]


@pytest.mark.parametrize("path", RECIPE_FILES, ids=lambda path: str(path.relative_to(conf_dir())))
def test_every_recipe_opens_with_the_command_that_runs_it(path):
    line = _opening_line(path)
    if path.name.startswith("_"):  # a building block is no row: it must not pretend to be run
        assert not line.startswith(("python ", "torchrun ")), f"{path}: a building block opens with a command: {line}"
        return
    words = shlex.split(line.split("  #", 1)[0])  # a trailing `  # ...` remark is not part of it
    module = RECIPE_DIRS[path.parent]
    assert words[:1] in (["python"], ["torchrun"]), f"{path}: line 2 must be the command that runs it, got {words}"
    assert "-m" in words and words[words.index("-m") + 1] == module, f"{path}: must run `-m {module}`, got {words}"
    assert f"recipe={path.stem}" in words, f"{path}: its command must name recipe={path.stem}, got {words}"


def test_the_recipe_test_sees_every_shipped_recipe():
    names = {path.stem for path in RECIPE_FILES}
    assert set(RECIPES) <= names and {"tiny", "siri_low", "inftythink_coldstart"} <= names


def test_schedule_preview_prints_every_step_and_writes_a_plot(tmp_path):
    png = tmp_path / "siri_high.png"
    result = subprocess.run(
        [sys.executable, "-m", "siri_verl.schedule", "recipe=siri_high", "--png", str(png)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "step,max_response_length,phase"
    assert len(lines) == 1 + 1920
    assert lines[320] == "320,8192,compress" and lines[1920] == "1920,16384,expand"
    assert png.stat().st_size > 10_000


def test_groups_and_recipes_override_the_primary_config():
    """The primary config's own defaults (siri_verl.*) must not override what a recipe sets."""
    cfg = compose_recipe("inftythink_tiny")
    assert cfg.siri_verl.fixed_optimizer_steps is True  # conf/agent_loop/inftythink.yaml
    assert cfg.siri_verl.replay_poll_interval_s == 0.1  # conf/backend/cpu.yaml
    assert compose_recipe("siri_high").siri_verl.keep_phase_end_checkpoints is True  # conf/rl/siri_paper.yaml
    assert compose_recipe("tiny").trainer.v1.trainer_mode == "siri_verl"


@pytest.mark.parametrize("recipe", sorted(p.stem for p in (Path(conf_dir()) / "sft" / "recipe").glob("*.yaml")))
def test_every_sft_recipe_composes_and_opens_with_its_command(recipe):
    from hydra import compose, initialize_config_dir

    from siri_verl import assets

    assets.register_resolver()
    with initialize_config_dir(config_dir=str(Path(conf_dir()) / "sft"), version_base=None):
        cfg = compose("sft", overrides=[f"recipe={recipe}", "data.train_files=/tmp/train.parquet"])
    assert cfg.data.custom_cls.name == "InftyThinkSFTDataset" and cfg.data.train_files == "/tmp/train.parquet"
    first_line = (Path(conf_dir()) / "sft" / "recipe" / f"{recipe}.yaml").read_text().splitlines()[1]
    assert "-m siri_verl.sft" in first_line and f"recipe={recipe}" in first_line


def test_cpu_backend_trains_in_fp32_like_its_rollout():
    """verl's FSDP engine casts parameters to bf16 unless mixed_precision says otherwise; on the cpu
    backend the actor and reference must compute in fp32, as the hf rollout server does, and verl's
    engine config must accept the setting."""
    from verl.utils.config import omega_conf_to_dataclass

    cfg = compose_recipe("tiny")
    for role in ("actor", "ref"):
        section = cfg.actor_rollout_ref[role].fsdp_config
        assert dict(section.mixed_precision) == {"param_dtype": "fp32", "reduce_dtype": "fp32", "buffer_dtype": "fp32"}
        engine_config = omega_conf_to_dataclass(section)
        assert engine_config.mixed_precision["param_dtype"] == "fp32"
