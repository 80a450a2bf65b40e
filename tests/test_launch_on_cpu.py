"""siri_verl/launch.py (``python -m siri_verl``): what it does before training, as a subprocess."""

from __future__ import annotations

import subprocess
import sys

from omegaconf import OmegaConf


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
