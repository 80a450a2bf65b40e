"""MLflow under faults, without the trainer: a resumed job continues its run, a killed job's run
is marked KILLED, and several processes starting on one new ``mlflow.db`` lose nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import mlflow
import pytest
from omegaconf import open_dict

from siri_verl.config import compose_recipe
from siri_verl.tracking import runs
from siri_verl.tracking.runs import RESUMED_FROM_TAG, RUN_RECORD, open_training_run, owner_tags


@pytest.fixture(autouse=True)
def no_tracking_env(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(runs.PARENT_RUN_ENV, raising=False)


@pytest.fixture(scope="module")
def tiny_cfg():
    """``recipe=tiny`` as the launcher hands it to ``open_training_run`` (no hydra node)."""
    cfg = compose_recipe("tiny")
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def job(cfg, tmp_path, name="tiny", **settings):
    """A copy of ``cfg`` for the job ``name`` under ``tmp_path`` (checkpoints, mlflow.db)."""
    cfg = cfg.copy()
    cfg.trainer.experiment_name = name
    cfg.trainer.default_local_dir = str(tmp_path / "checkpoints" / name)
    cfg.siri_verl.mlflow.tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for key, value in settings.items():
        cfg.trainer[key] = value
    return cfg


def save_checkpoint(cfg, step: int) -> None:
    """What verl leaves in default_local_dir after saving step ``step`` (for resume purposes)."""
    root = runs.Path(cfg.trainer.default_local_dir)
    (root / f"global_step_{step}" / "actor").mkdir(parents=True, exist_ok=True)
    (root / "latest_checkpointed_iteration.txt").write_text(str(step))


def dead_owner_tags() -> dict[str, str]:
    """Owner tags of a process that has exited (a driver killed with -9)."""
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    tags = owner_tags(victim.pid)
    victim.kill()
    victim.wait()
    return tags


def kill_9(client, run_id: str) -> None:
    """The run as a ``kill -9`` of its driver leaves it: RUNNING, owned by a process that is gone."""
    for key, value in dead_owner_tags().items():
        client.set_tag(run_id, key, value)


def test_a_resumed_job_continues_its_run_and_a_disabled_resume_starts_a_new_one(tiny_cfg, tmp_path):
    cfg = job(tiny_cfg, tmp_path)
    first = open_training_run(cfg, {})
    client = mlflow.MlflowClient(first.tracking_uri)
    for step in (1, 2, 3, 4):
        client.log_metric(first.run_id, "siri/max_response_length", 30.0 + step, step=step)
    save_checkpoint(cfg, 4)
    kill_9(client, first.run_id)

    resumed = open_training_run(cfg, {})
    assert resumed.run_id == first.run_id and resumed.env["MLFLOW_RUN_ID"] == first.run_id
    run = client.get_run(first.run_id)
    assert run.info.status == "RUNNING" and run.data.tags[runs.OWNER_PID_TAG] == str(runs.os.getpid())
    client.log_metric(first.run_id, "siri/max_response_length", 35.0, step=5)
    history = client.get_metric_history(first.run_id, "siri/max_response_length")
    assert sorted(m.step for m in history) == [1, 2, 3, 4, 5]  # one run holds the whole schedule
    assert len(client.search_runs([client.get_experiment_by_name("siri_verl").experiment_id])) == 1

    fresh = open_training_run(job(tiny_cfg, tmp_path, resume_mode="disable"), {})
    assert fresh.run_id != first.run_id
    assert runs.read_run_record(cfg.trainer.default_local_dir)["run_id"] == fresh.run_id


def test_a_changed_config_or_another_jobs_checkpoint_links_to_the_run_instead(tiny_cfg, tmp_path, capsys):
    cfg = job(tiny_cfg, tmp_path)
    first = open_training_run(cfg, {})
    save_checkpoint(cfg, 4)
    client = mlflow.MlflowClient(first.tracking_uri)
    client.set_terminated(first.run_id, "FAILED")

    longer = open_training_run(job(tiny_cfg, tmp_path, total_training_steps=99), {})
    assert longer.run_id != first.run_id
    assert client.get_run(longer.run_id).data.tags[RESUMED_FROM_TAG] == first.run_id
    assert "trainer/total_training_steps: " in capsys.readouterr().out  # says which setting changed

    other = job(
        tiny_cfg, tmp_path, name="fork", resume_mode="resume_path",
        resume_from_path=f"{cfg.trainer.default_local_dir}/global_step_4",
    )  # fmt: skip
    forked = open_training_run(other, {})
    assert forked.run_id not in (first.run_id, longer.run_id)
    assert client.get_run(forked.run_id).data.tags[RESUMED_FROM_TAG] == longer.run_id
    assert (runs.Path(other.trainer.default_local_dir) / RUN_RECORD).exists()


def test_a_run_left_running_by_a_dead_owner_is_marked_killed_on_the_next_start(tiny_cfg, tmp_path):
    orphan = open_training_run(job(tiny_cfg, tmp_path, name="killed"), {})
    alive = open_training_run(job(tiny_cfg, tmp_path, name="still_running"), {})  # owned by this process
    elsewhere = open_training_run(job(tiny_cfg, tmp_path, name="other_host"), {})
    client = mlflow.MlflowClient(orphan.tracking_uri)
    kill_9(client, orphan.run_id)
    kill_9(client, elsewhere.run_id)
    client.set_tag(elsewhere.run_id, runs.OWNER_HOST_TAG, "another-host")  # nothing to tell from here

    open_training_run(job(tiny_cfg, tmp_path, name="next"), {})
    assert client.get_run(orphan.run_id).info.status == "KILLED"
    assert client.get_run(alive.run_id).info.status == "RUNNING"
    assert client.get_run(elsewhere.run_id).info.status == "RUNNING"


WRITER = textwrap.dedent(
    """
    import os, sys, time
    from omegaconf import OmegaConf
    import mlflow
    from siri_verl.tracking.runs import close_training_run, open_training_run

    tmp, name, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cfg = OmegaConf.create({
        "trainer": {"logger": ["mlflow"], "project_name": "concurrent", "experiment_name": name,
                    "default_local_dir": f"{tmp}/checkpoints/{name}", "resume_mode": "auto"},
        "siri_verl": {"mlflow": {"tracking_uri": f"sqlite:///{tmp}/mlflow.db"}},
    })
    open(f"{tmp}/ready_{name}", "w").close()
    while not os.path.exists(f"{tmp}/go"):  # all writers start together, on a new database
        time.sleep(0.01)
    run = open_training_run(cfg, {})
    mlflow.start_run(run_id=run.run_id)  # as verl's tracker attaches to the driver's run
    for step in range(steps):
        mlflow.log_metrics({"a": float(step), "b": float(-step)}, step=step)
    mlflow.end_run()
    close_training_run(run, succeeded=True)
    print("RUN", run.run_id)
    """
)


def test_concurrent_jobs_on_one_new_sqlite_store_lose_no_metric(tmp_path):
    writers, steps = 2, 20
    env = {k: v for k, v in runs.os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"job{i}", str(steps)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(writers)
    ]  # fmt: skip
    deadline = time.time() + 120
    while len(list(tmp_path.glob("ready_*"))) < writers:
        assert time.time() < deadline and all(p.poll() is None for p in procs), "writers did not start"
        time.sleep(0.05)
    (tmp_path / "go").touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_ids = [line.split()[1] for out, _ in outputs for line in out.splitlines() if line.startswith("RUN ")]
    assert len(set(run_ids)) == writers
    for run_id in run_ids:
        assert client.get_run(run_id).info.status == "FINISHED"
        for key in ("a", "b"):
            assert sorted(m.step for m in client.get_metric_history(run_id, key)) == list(range(steps))


def test_the_phase_end_tags_of_a_continued_run_keep_the_ends_from_before_the_resume(tiny_cfg, tmp_path):
    """The trainer after a resume keeps step 9 (a trough of tiny's schedule over 12 steps); the
    run it continues already lists step 3's checkpoint, kept before the kill."""
    from types import SimpleNamespace

    from siri_verl.siri.phase_checkpoints import keep_phase_end_checkpoint

    cfg = job(tiny_cfg, tmp_path)
    cfg.siri_verl.keep_phase_end_checkpoints = True
    step_dir = runs.Path(cfg.trainer.default_local_dir) / "global_step_9"
    (step_dir / "actor").mkdir(parents=True)
    (step_dir / "actor" / "model.pt").write_bytes(b"weights")
    trainer = SimpleNamespace(config=cfg, total_training_steps=12, global_steps=9)
    before = f"{cfg.trainer.default_local_dir}/siri_phase_ends/global_step_3"
    mlflow.set_tracking_uri(cfg.siri_verl.mlflow.tracking_uri)
    with mlflow.start_run() as run:
        mlflow.set_tag("siri/low_checkpoints", before)  # tagged by the job before the kill
        keep_phase_end_checkpoint(trainer, 9, str(step_dir), False)
    low = mlflow.MlflowClient().get_run(run.info.run_id).data.tags["siri/low_checkpoints"].split(",")
    assert low[0] == before and low[1].endswith("siri_phase_ends/global_step_9") and len(low) == 2


def test_a_new_store_is_a_copy_of_the_migrated_empty_one_with_its_own_default_experiment(tmp_path, monkeypatch):
    """A new SQLite store starts from the cached empty store (no migration per job); MLflow then
    creates its Default experiment with the new store's own artifact root, as for a migrated one."""
    monkeypatch.setenv("SIRI_VERL_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    template = runs.empty_store_template()
    assert template.is_relative_to(tmp_path / "cache") and mlflow.__version__ in str(template)
    for name in ("a", "b"):
        client = runs.tracking_client(f"sqlite:///{tmp_path / name / 'mlflow.db'}")
        (default,) = client.search_experiments()
        assert default.name == "Default" and default.artifact_location == str(tmp_path / "mlruns" / "0")
        run = client.create_run(runs.experiment_id(client, "x"))
        client.log_metric(run.info.run_id, "m", 1.0)
        assert client.get_run(run.info.run_id).data.metrics == {"m": 1.0}
    # the template itself stays empty
    assert runs.tracking_client(f"sqlite:///{tmp_path / 'c.db'}").search_experiments()[0].name == "Default"
    import sqlite3

    with sqlite3.connect(template) as connection:
        assert connection.execute("SELECT COUNT(*) FROM experiments").fetchone() == (0,)
