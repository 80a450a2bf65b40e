"""End to end: scripts/gpu_check.py's device run, step for step, with the CPU backend and the tiny
recipe (the device runs the toy recipes on backend=gpu_hf and backend=cpu; no GPU here).

One step saving a checkpoint, then a job that reloads it and trains step 2: both through
`python -m siri_verl`, their verl step times parsed from verl's console logger, rl_check.json written.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from _repo import REPO

pytestmark = pytest.mark.e2e


def test_the_device_runs_steps_train_save_reload_and_time_on_cpu(tmp_path, tiny_model_path):
    out, work = tmp_path / "out", tmp_path / "work"
    result = subprocess.run(
        [sys.executable, "scripts/gpu_check.py", "rl", "--backends", "cpu", "--recipes", "tiny", "--steps", "1",
         "--resume", "cpu", "--out", str(out), "--work", str(work), "--budget-s", "800", "--job-timeout-s", "400"],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    first, resumed = json.loads((out / "rl_check.json").read_text())
    logs = {path.name for path in out.iterdir()}
    assert {"tiny-cpu.log", "tiny-cpu-resumed.log"} <= logs
    assert first["rc"] == 0 and first["steps_as_expected"] and first["checkpoint_saved"], first
    assert list(first["step_times_s"]) == ["1"] and first["step_times_s"]["1"] > 0
    # The reload: the second job starts at step 2 from the first job's global_step_1.
    assert resumed["rc"] == 0 and resumed["resumed_from"].endswith("global_step_1"), resumed
    assert list(resumed["step_times_s"]) == ["2"] and resumed["checkpoint_saved"]
