"""End to end, under a fault: ``kill -9`` of the training driver mid-run, then the same command again.

One tiny SIRI run (8 steps, cosine period 4: troughs at 2 and 6, peaks at 4 and 8, verl saving
every 2 steps and the phase ends kept) is SIGKILLed with its whole process tree (the driver, its
Ray head and workers) once verl has saved ``global_step_4`` and SIRI has kept it (the kept copy of step 4 is then
set back to a half-made one, as a kill between verl's save and SIRI's copy leaves it). The rerun must
pick up where the checkpoint left off with nothing lost and nothing repeated: it trains steps 5..8
only, L(t) over 1..8 is the schedule's with no gap or repeat, the phase-end checkpoints kept
before the kill are byte for byte what they were, and MLflow holds one continued run (or a run
linked to the first), none left ``RUNNING``.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.e2e

STEPS, KILL_AFTER, PERIOD = 8, 4, 4


def hash_tree(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def logged_steps(database: Path, key: str = "training/global_step") -> set[int]:
    """Steps of ``key`` already in the job's MLflow SQLite store (read directly: no MLflow import)."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as connection:
            return {step for (step,) in connection.execute("SELECT step FROM metrics WHERE key = ?", (key,))}
    except sqlite3.Error:  # not created yet, or locked by the writer for a moment
        return set()


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL the driver and every process it started (Ray's GCS, raylet and workers), and only those:
    other jobs on this machine may run their own Ray clusters, so no ``ray stop``."""
    try:
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    os.killpg(process.pid, signal.SIGKILL)
    for proc in tree:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    process.wait(timeout=60)
    psutil.wait_procs(tree, timeout=30)


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory, tiny_model_path):
    workdir = tmp_path_factory.mktemp("resume_after_kill")
    checkpoints = workdir / "checkpoints"
    tracking_uri = f"sqlite:///{workdir / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable, "-m", "siri_verl", "recipe=tiny",
        f"trainer.total_training_steps={STEPS}",
        "trainer.save_freq=2",
        "trainer.test_freq=-1",
        "trainer.val_before_train=false",
        "siri_verl.keep_phase_end_checkpoints=true",
        f"schedule.period={PERIOD}",
        f"hydra.run.dir={workdir / 'hydra'}",
        f"trainer.default_local_dir={checkpoints}",
    ]  # fmt: skip
    latest = checkpoints / "latest_checkpointed_iteration.txt"
    kept_peak = checkpoints / "siri_phase_ends" / f"global_step_{KILL_AFTER}"

    with open(workdir / "killed_run.log", "w") as log:
        driver = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 900
        try:
            # The kept copy is renamed into place once complete, after verl wrote latest_checkpointed_iteration.
            # verl logs a step's metrics after it saves that step's checkpoint: wait for them too, so
            # the kill lands between steps. (A kill inside that window loses the step's metric line,
            # not its training: results/faults.md.)
            while not (
                latest.exists()
                and latest.read_text().strip() == str(KILL_AFTER)
                and kept_peak.is_dir()
                and KILL_AFTER in logged_steps(workdir / "mlflow.db")
            ):
                assert driver.poll() is None, (workdir / "killed_run.log").read_text()[-6000:]
                assert time.monotonic() < deadline, "the driver never saved global_step_4"
                time.sleep(0.2)
        finally:
            kill_tree(driver)
    kept_before = {path.name: hash_tree(path) for path in (checkpoints / "siri_phase_ends").iterdir()}
    # verl writes latest_checkpointed_iteration.txt before it calls the checkpoint callback that
    # keeps a phase end, so a kill can land in between (a large model's copy takes minutes). Make
    # it have landed there for step 4: its copy was cut half-way, as a kill mid-copy leaves it.
    half_made = kept_peak.rename(kept_peak.with_name(f".{kept_peak.name}.incomplete"))
    for path in [half_made, *half_made.rglob("*")]:  # still writable, as the copy had not finished
        path.chmod(path.stat().st_mode | stat.S_IWUSR)

    resumed = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    (workdir / "resumed_run.log").write_text(resumed.stdout + resumed.stderr)
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-6000:]

    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    experiments = client.search_experiments()
    runs = client.search_runs([experiment.experiment_id for experiment in experiments])
    return client, runs, checkpoints, kept_before


def history(client, runs, key: str) -> list[tuple[int, float]]:
    """Every (step, value) of ``key`` over all the job's runs, in step order (repeats kept)."""
    points = [(m.step, m.value) for run in runs for m in client.get_metric_history(run.info.run_id, key)]
    return sorted(points)


def test_the_resumed_job_continues_its_mlflow_run_and_none_is_left_running(killed_and_resumed):
    _, runs, _, _ = killed_and_resumed
    assert all(run.info.status != "RUNNING" for run in runs), [(r.info.run_id, r.info.status) for r in runs]
    if len(runs) == 1:
        assert runs[0].info.status == "FINISHED"
        return
    ids = {run.info.run_id for run in runs}
    (resumed,) = [run for run in runs if "siri_verl.resumed_from_run_id" in run.data.tags]
    assert resumed.data.tags["siri_verl.resumed_from_run_id"] in ids - {resumed.info.run_id}
    assert resumed.info.status == "FINISHED"


def test_the_resume_trains_steps_5_to_8_once_each(killed_and_resumed):
    client, runs, _, _ = killed_and_resumed
    steps = [step for step, _ in history(client, runs, "training/global_step")]
    assert steps == list(range(1, STEPS + 1)), steps


def test_the_cap_over_both_jobs_is_the_schedule_with_no_gap_or_repeat(killed_and_resumed):
    from omegaconf import OmegaConf

    from siri_verl.config import conf_dir
    from siri_verl.siri.schedule import build_schedule

    recipe = OmegaConf.load(os.path.join(conf_dir(), "recipe", "tiny.yaml"))
    settings = {"shape": "cosine", **OmegaConf.to_container(recipe.schedule), "period": PERIOD}
    schedule = build_schedule(settings)
    client, runs, _, _ = killed_and_resumed
    caps = history(client, runs, "siri/max_response_length")
    assert caps == [(step, float(schedule.length(step))) for step in range(1, STEPS + 1)], caps


def test_phase_ends_kept_before_the_kill_are_unchanged_and_the_later_ones_kept(killed_and_resumed):
    """Step 2's kept copy is untouched; step 4's, cut by the kill, is kept again on the resume
    from it, identical to what it was; no half copy is left."""
    from siri_verl.siri.phase_checkpoints import KEPT_MANIFEST

    _, runs, checkpoints, kept_before = killed_and_resumed
    kept = checkpoints / "siri_phase_ends"
    assert sorted(kept_before) == ["global_step_2", "global_step_4"], sorted(kept_before)
    for name, hashes in kept_before.items():
        assert hash_tree(kept / name) == hashes, f"{kept / name} changed across the kill and resume"
    # Every phase end of the whole training is kept once, and the manifest still matches the files.
    assert sorted(path.name for path in kept.iterdir()) == [f"global_step_{s}" for s in (2, 4, 6, 8)]
    import json

    for path in kept.iterdir():
        manifest = json.loads((path / KEPT_MANIFEST).read_text())
        hashes = {name: digest for name, digest in hash_tree(path).items() if name != KEPT_MANIFEST}
        assert hashes == manifest["files"], path
    (final,) = [run for run in runs if run.info.status == "FINISHED"] or runs
    for kind, steps in (("low", (2, 6)), ("high", (4, 8))):
        listed = final.data.tags.get(f"siri/{kind}_checkpoints", "").split(",")
        assert [os.path.basename(p) for p in listed] == [f"global_step_{s}" for s in steps], (kind, listed)
