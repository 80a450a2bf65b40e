"""The MLflow run of a training job: opened on the driver, filled by verl, summarised at the end.

verl's own tracker (``trainer.logger=[..., mlflow]``) logs the flattened config and every
step's metrics from inside the TaskRunner actor. It attaches to the run opened here through
``MLFLOW_RUN_ID`` and ``MLFLOW_TRACKING_URI``, which travel to the actor in Ray's runtime env.
Opening the run on the driver gives the job its run id up front: the summary, a sweep's
parent run and the eval links all need it.

A job that verl resumes from a checkpoint continues the MLflow run of the job that wrote it:
the run id is kept in ``<trainer.default_local_dir>/mlflow_run.json`` (:data:`RUN_RECORD`), so
the schedule's whole history is one run. When verl could not log its config into that run
again (MLflow params are immutable: a changed setting, or another tracking store), the job
opens a new run tagged ``siri_verl.resumed_from_run_id`` instead, and says why.

Each run records its owner (host, pid, process start time) in tags; a run still ``RUNNING``
whose owner on this host is gone (a ``kill -9``, an OOM kill) is marked ``KILLED`` when the
next job opens a run in the same experiment.

A new run gets, besides verl's flattened config, the settings a person reads first as short
params (:data:`READABLE_PARAMS`: recipe, model, lr, batch sizes, n, caps, steps, seeds) and the
whole composed config as the artifact ``config.yaml``; its experiment carries the saved view and
description of ``siri_verl.tracking.view``. When the job ends, :func:`record_finished_run` writes
the run's description (recipe, schedule, before -> after) and its accuracy-vs-tokens point.

Several processes may share one SQLite file (two terminals, a parallel sweep launcher): MLflow
migrates a new database's schema without a lock, so :func:`tracking_client` creates it under a
file lock, and :func:`experiment_id` creates an experiment only once. A new SQLite store starts
as a copy of an empty, already migrated one (:func:`empty_store_template`), built once per MLflow
version into the asset cache: migrating each new store took about 6 s of every job's start-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

import siri_verl
from siri_verl.project_settings import SiriVerlSettings
from siri_verl.tracking import paired, view
from siri_verl.tracking.tracking_uri import absolute_tracking_uri

# Set by the Hydra sweep callback so that each job becomes a child of the sweep's run.
PARENT_RUN_ENV = "SIRI_VERL_PARENT_RUN_ID"

# In trainer.default_local_dir beside verl's global_step_N folders: the run that wrote them.
RUN_RECORD = "mlflow_run.json"

# Short params a person reads first -> the key of verl's flattened config (config_params) they copy.
# Values come from verl's own flattening, so they read as verl logs them; ``recipe`` is added from
# the Hydra choices. The schedule's and InftyThink+'s settings keep verl's names (schedule/...).
READABLE_PARAMS = {
    "model": "actor_rollout_ref/model/path",
    "lr": "actor_rollout_ref/actor/optim/lr",
    "train_batch_size": "data/train_batch_size",
    "ppo_mini_batch_size": "actor_rollout_ref/actor/ppo_mini_batch_size",
    "n": "actor_rollout_ref/rollout/n",
    "val_n": "actor_rollout_ref/rollout/val_kwargs/n",
    "max_prompt_length": "data/max_prompt_length",
    "max_response_length": "data/max_response_length",
    "total_training_steps": "trainer/total_training_steps",
    "agent_loop": "actor_rollout_ref/rollout/agent/default_agent_loop",
    "adv_estimator": "algorithm/adv_estimator",
    "data_seed": "data/seed",
    "seed": "siri_verl/seed",
}
# The composed config of a run, as an artifact.
CONFIG_ARTIFACT = "config.yaml"

# Who is logging to a run: the driver process that opened it.
OWNER_HOST_TAG = "siri_verl.owner.host"
OWNER_PID_TAG = "siri_verl.owner.pid"
OWNER_STARTED_TAG = "siri_verl.owner.started"  # the process's start time: a reused pid is not the owner
RESUMED_FROM_TAG = "siri_verl.resumed_from_run_id"


@dataclass
class MlflowRun:
    run_id: str
    tracking_uri: str
    experiment: str
    env: dict[str, str] = field(default_factory=dict)
    experiment_id: str | None = None


def tracking_uri_from(cfg: DictConfig) -> str:
    # An explicit MLFLOW_TRACKING_URI wins, as everywhere else in the MLflow world.
    uri = os.environ.get("MLFLOW_TRACKING_URI") or SiriVerlSettings.of(cfg).mlflow.tracking_uri
    return absolute_tracking_uri(uri or "sqlite:///mlflow.db")


def uses_mlflow(cfg: DictConfig) -> bool:
    loggers = OmegaConf.select(cfg, "trainer.logger") or []
    return "mlflow" in ([loggers] if isinstance(loggers, str) else list(loggers))


def _run_name(cfg: DictConfig) -> str:
    """The experiment name; in a ``-m`` sweep, followed by the job's overrides, to tell jobs apart."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    name = str(cfg.trainer.experiment_name)
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        name += f" [{HydraConfig.get().job.override_dirname}]"
    return name


# -- one SQLite store, many processes ----------------------------------------------------------


def _sqlite_path(uri: str) -> str | None:
    prefix = "sqlite:///"
    return uri[len(prefix) :] if uri.startswith(prefix) else None


def _store_lock(uri: str):
    """An exclusive lock (a context manager) for the store at ``uri``, shared by all processes."""
    import fcntl
    from contextlib import contextmanager

    name = hashlib.sha256(str(Path(_sqlite_path(uri)).resolve()).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"siri_verl_mlflow_{name}.lock"

    @contextmanager
    def held():
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    return held()


def empty_store_template() -> Path:
    """An empty SQLite store migrated to this MLflow version's schema, built once into the asset
    cache (``<cache>/mlflow/empty-store-<version>/mlflow.db``).

    It holds no experiment: MLflow creates its Default experiment when it first opens a copy,
    with that store's own artifact root, as it does for a store it migrated itself.
    """
    import sqlite3

    import mlflow

    from siri_verl.assets import cache_root, publish_atomically

    target = cache_root() / "mlflow" / f"empty-store-{mlflow.__version__}"

    def write(staging: Path) -> None:
        database = staging / "mlflow.db"
        mlflow.MlflowClient(f"sqlite:///{database}").search_experiments()  # migrates the new file
        with sqlite3.connect(database) as connection:
            connection.execute("DELETE FROM experiment_tags")
            connection.execute("DELETE FROM experiments")
        connection.close()

    if not (target / "mlflow.db").exists():
        publish_atomically(target, write)
    return target / "mlflow.db"


def _new_store_from_template(uri: str) -> None:
    """Copy the migrated empty store to ``uri``'s file when that file does not exist yet (the
    caller holds the store's lock)."""
    import shutil

    path = Path(_sqlite_path(uri))
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(path.name + f".tmp{os.getpid()}")
        shutil.copyfile(empty_store_template(), staging)
        staging.rename(path)


def tracking_client(uri: str):
    """An ``MlflowClient`` for ``uri`` whose store is ready.

    MLflow creates a new SQLite database (tables, then a few dozen schema migrations) without
    a lock, so two processes starting on one new file break each other ("duplicate column",
    "Online migration expected to match one row"). Here the first store of each process is
    built under an exclusive file lock: the first process migrates, the others wait and find
    the tables. MLflow keeps one store per URI and process, so later clients reuse it; once
    the file exists, MLflow's own 20 s SQLite busy timeout lets concurrent writers queue.
    """
    import mlflow

    if _sqlite_path(uri) is None:
        return mlflow.MlflowClient(uri)
    import logging

    schema_log = logging.getLogger("mlflow.store.db.utils")  # "Creating initial MLflow database tables..."
    level = schema_log.level
    schema_log.setLevel(logging.WARNING)
    try:
        with _store_lock(uri):
            _new_store_from_template(uri)
            return mlflow.MlflowClient(uri)
    finally:
        schema_log.setLevel(level)


def experiment_id(client, name: str) -> str:
    """The id of experiment ``name``, created if missing, also when another process races."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name, tags=view.experiment_tags())
    except MlflowException:  # created meanwhile by another process (unique name)
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


# -- who owns a run ---------------------------------------------------------------------------


def owner_tags(pid: int | None = None) -> dict[str, str]:
    """Tags naming the process ``pid`` (default: this one) as a run's owner."""
    import psutil

    process = psutil.Process(pid)
    return {
        OWNER_HOST_TAG: socket.gethostname(),
        OWNER_PID_TAG: str(process.pid),
        OWNER_STARTED_TAG: f"{process.create_time():.3f}",
    }


def owner_is_gone(tags: dict[str, str]) -> bool:
    """True when the owner named in ``tags`` was on this host and is no longer running.

    False when it is alive, on another host (nothing to tell from here) or not recorded.
    """
    import psutil

    if tags.get(OWNER_HOST_TAG) != socket.gethostname() or OWNER_PID_TAG not in tags:
        return False
    try:
        process = psutil.Process(int(tags[OWNER_PID_TAG]))
        alive = process.status() != psutil.STATUS_ZOMBIE
        started = process.create_time()
    except psutil.NoSuchProcess:
        return True
    try:
        recorded = float(tags.get(OWNER_STARTED_TAG, started))
    except ValueError:
        recorded = started
    return not alive or abs(started - recorded) > 1.0  # another process now has that pid


def mark_orphans_killed(client, experiment: str, keep: str | None = None) -> list[str]:
    """Mark ``KILLED`` every run of ``experiment`` left ``RUNNING`` by an owner that is gone
    (except ``keep``); returns their ids."""
    host = socket.gethostname().replace("'", "")
    runs = client.search_runs(
        [experiment], filter_string=f"attributes.status = 'RUNNING' and tags.`{OWNER_HOST_TAG}` = '{host}'"
    )
    killed = []
    for run in runs:
        if run.info.run_id != keep and owner_is_gone(run.data.tags):
            client.set_terminated(run.info.run_id, status="KILLED")
            killed.append(run.info.run_id)
            print(
                f"MLflow run {run.info.run_id} ({run.info.run_name}) was left RUNNING by process "
                f"{run.data.tags[OWNER_PID_TAG]}, which is gone: marked KILLED",
                flush=True,
            )
    return killed


# -- which run a job logs to -------------------------------------------------------------------


def resume_folder(cfg: DictConfig) -> str | None:
    """The ``global_step_N`` folder verl's trainer will resume from, or None for a fresh start.

    verl's rules (``RayPPOTrainer._load_checkpoint``): ``trainer.resume_mode=disable`` never
    resumes; ``resume_path`` resumes from ``trainer.resume_from_path``; ``auto`` from the
    latest checkpoint in ``trainer.default_local_dir``, if there is one. Relative paths are
    taken from the working directory, as verl takes them.
    """
    mode = OmegaConf.select(cfg, "trainer.resume_mode", default="auto")
    if mode == "disable":
        return None
    if mode == "resume_path":
        path = OmegaConf.select(cfg, "trainer.resume_from_path")
        return os.path.abspath(path) if path else None
    import contextlib
    import io

    from verl.utils.checkpoint.checkpoint_manager import find_latest_ckpt_path

    with contextlib.redirect_stdout(io.StringIO()):  # "Checkpoint tracker file does not exist": a fresh start
        return find_latest_ckpt_path(os.path.abspath(cfg.trainer.default_local_dir))


def config_params(cfg: DictConfig) -> dict[str, str]:
    """The config as verl logs it to MLflow (flattened, ``/``-separated keys), as text."""
    from verl.utils.tracking import _compute_mlflow_params_from_objects

    return {k: str(v) for k, v in _compute_mlflow_params_from_objects(OmegaConf.to_container(cfg, resolve=True)).items()}


def readable_params(params: dict[str, str], choices: dict[str, str]) -> dict[str, str]:
    """:data:`READABLE_PARAMS` from verl's flattened ``params``, plus ``recipe``; a short name verl
    itself uses for something else is left out (MLflow params are immutable)."""
    readable = {"recipe": str(choices["recipe"])} if choices.get("recipe") else {}
    readable.update({name: params[key] for name, key in READABLE_PARAMS.items() if key in params})
    return {name: value for name, value in readable.items() if params.get(name, value) == value}


def _log_config(client, run_id: str, cfg: DictConfig, params: dict[str, str], choices: dict[str, str]) -> None:
    """The readable params and ``config.yaml`` of a new run."""
    from mlflow.entities import Param

    readable = readable_params(params, choices)
    client.log_batch(run_id, params=[Param(key, value) for key, value in readable.items()])
    client.log_text(run_id, OmegaConf.to_yaml(cfg, resolve=True), CONFIG_ARTIFACT)


def read_run_record(checkpoint_dir: str | os.PathLike) -> dict | None:
    path = Path(checkpoint_dir) / RUN_RECORD
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        print(f"WARNING {path}: unreadable ({error}); this job opens a new MLflow run", flush=True)
        return None


def write_run_record(checkpoint_dir: str | os.PathLike, record: dict) -> None:
    """Write ``record`` to ``<checkpoint_dir>/mlflow_run.json`` atomically."""
    directory = Path(checkpoint_dir)
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f".{RUN_RECORD}.{os.getpid()}.tmp"
    staging.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(staging, directory / RUN_RECORD)


def run_to_continue(
    client, cfg: DictConfig, uri: str, params: dict[str, str], folder: str | None
) -> tuple[str | None, str | None]:
    """``(run id to continue, None)``, or ``(None, run id to link to)``, or ``(None, None)``.

    ``folder`` is the checkpoint verl resumes from (:func:`resume_folder`). A run is continued
    when ``folder`` is in this job's own ``default_local_dir`` and its record names a live run
    in this store with the same config; otherwise the checkpoint's run, if known, is linked to.
    """
    if folder is None:
        return None, None
    record = read_run_record(Path(folder).parent)
    if record is None:
        return None, None
    previous = record.get("run_id")
    reasons = []
    if os.path.abspath(Path(folder).parent) != os.path.abspath(cfg.trainer.default_local_dir):
        reasons.append(f"the checkpoint {folder} belongs to another job's directory")
    if record.get("tracking_uri") != uri:
        reasons.append(f"its run is in another tracking store ({record.get('tracking_uri')})")
    else:
        from mlflow.exceptions import MlflowException

        try:
            if client.get_run(previous).info.lifecycle_stage != "active":
                reasons.append(f"its run {previous} was deleted")
        except MlflowException:
            reasons.append(f"its run {previous} is not in {uri}")
    before = record.get("params") or {}
    changed = sorted(k for k in set(params) | set(before) if params.get(k) != before.get(k))
    if changed:
        shown = ", ".join(f"{k}: {before.get(k)} -> {params.get(k)}" for k in changed[:5])
        reasons.append(f"the config changed ({shown}{', ...' if len(changed) > 5 else ''}); MLflow params are immutable")
    if not reasons:
        return previous, None
    print(f"MLflow: not continuing run {previous}: {'; '.join(reasons)}. A new run links to it "
          f"({RESUMED_FROM_TAG}).", flush=True)
    return None, previous


def _uses_inftythink(cfg: DictConfig) -> bool:
    return OmegaConf.select(cfg, "inftythink", default=None) is not None


def _update_view(client, experiment: str, benchmarks: list, inftythink: bool) -> None:
    """The experiment's saved view, extended to this run's benchmarks: never fails the job."""
    try:
        view.update_view(client, experiment, benchmarks, inftythink)
    except Exception as error:
        print(f"MLflow: the experiment's saved view was not updated ({type(error).__name__}: {error})", flush=True)


def open_training_run(cfg: DictConfig, choices: dict[str, str]) -> MlflowRun | None:
    """The job's MLflow run: the resumed job's own (see the module docstring), else a new one."""
    if not uses_mlflow(cfg):
        return None
    import mlflow

    uri = tracking_uri_from(cfg)
    mlflow.set_tracking_uri(uri)
    client = tracking_client(uri)
    experiment = experiment_id(client, cfg.trainer.project_name)
    _update_view(client, experiment, view.benchmarks_of(cfg), _uses_inftythink(cfg))
    params = config_params(cfg)
    folder = resume_folder(cfg)
    continued, linked = run_to_continue(client, cfg, uri, params, folder)
    mark_orphans_killed(client, experiment, keep=continued)
    tags = owner_tags()
    parent = os.environ.get(PARENT_RUN_ENV)
    if parent:
        tags["mlflow.parentRunId"] = parent
    if continued:
        client.update_run(continued, status="RUNNING")
        for key, value in tags.items():
            client.set_tag(continued, key, value)
        run_id = continued
        print(f"MLflow: continuing run {run_id} (verl resumes from {folder})", flush=True)
    else:
        tags.update(
            {
                "siri_verl.version": siri_verl.__version__,
                "siri_verl.kind": "train",
                **{f"siri_verl.choice.{group}": str(choice) for group, choice in sorted(choices.items()) if "hydra" not in group},
            }
        )
        if linked:
            tags[RESUMED_FROM_TAG] = linked
        run_id = client.create_run(experiment, run_name=_run_name(cfg), tags=tags).info.run_id
        _log_config(client, run_id, cfg, params, choices)
    write_run_record(cfg.trainer.default_local_dir, {"run_id": run_id, "tracking_uri": uri, "params": params})
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_RUN_ID": run_id}
    return MlflowRun(run_id, uri, cfg.trainer.project_name, env, experiment)


def close_training_run(run: MlflowRun, succeeded: bool) -> None:
    import mlflow

    client = mlflow.MlflowClient(run.tracking_uri)
    client.set_terminated(run.run_id, status="FINISHED" if succeeded else "FAILED")
    for key in ("MLFLOW_RUN_ID",):
        os.environ.pop(key, None)


def _history(client, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def training_summary(cfg: DictConfig, run: MlflowRun | None, seconds: float) -> dict:
    """Steps, validation accuracy and mean response length before and after training."""
    summary: dict = {"experiment": cfg.trainer.experiment_name, "seconds": round(seconds, 1)}
    dump_dir = OmegaConf.select(cfg, "trainer.validation_data_dir", default=None)
    change = paired.paired_change(Path(dump_dir)) if dump_dir and Path(dump_dir).is_dir() else None
    if change is not None:
        summary["paired"] = asdict(change)
    if run is None:
        return summary
    import mlflow

    client = mlflow.MlflowClient(run.tracking_uri)
    keys = client.get_run(run.run_id).data.metrics.keys()
    summary.update(run_id=run.run_id, tracking_uri=run.tracking_uri, experiment_name=run.experiment,
                   experiment_id=run.experiment_id)
    steps = _history(client, run.run_id, "training/global_step")
    summary["steps"] = int(steps[-1][1]) if steps else 0
    for key in sorted(keys):
        # Validation accuracy and, beside it, the mean generated tokens per benchmark (the reward
        # functions report response_tokens, which verl logs under val-aux).
        for prefix, marker, name in (("val-core/", "/acc/mean", "val_acc"),
                                     ("val-aux/", "/response_tokens/mean", "val_tokens")):  # fmt: skip
            if key.startswith(prefix) and marker in key:
                history = _history(client, run.run_id, key)
                summary.setdefault(name, {})[key] = (history[0][1], history[-1][1])
    for key in ("response_length/mean", "siri/max_response_length"):
        history = _history(client, run.run_id, key) if key in keys else []
        if history:
            summary[key] = (history[0][1], history[-1][1])
    return summary


def format_summary(summary: dict) -> str:
    lines = ["", "=" * 72, f"siri_verl: {summary['experiment']} finished in {summary['seconds']} s"]
    if "run_id" in summary:
        lines.append(f"  steps: {summary['steps']}")
        for key, (before, after) in summary.get("val_acc", {}).items():
            lines.append(f"  {key}: {before:.3f} before -> {after:.3f} after")
        for key, (before, after) in summary.get("val_tokens", {}).items():
            lines.append(f"  {key}: {before:.1f} before -> {after:.1f} after")
        for key in ("response_length/mean", "siri/max_response_length"):
            if key in summary:
                before, after = summary[key]
                lines.append(f"  {key}: {before:.1f} at the first step -> {after:.1f} at the last")
        lines.append(f"  MLflow run: {summary['run_id']} (experiment {summary['experiment_name']})")
        lines.append(f"  open it with: mlflow ui --backend-store-uri {summary['tracking_uri']}")
        if summary.get("experiment_id"):
            lines.append(f"  then: {view.experiment_url(summary['experiment_id'], charts=True)}")
    if "paired" in summary:
        lines.append("  " + paired.PairedChange(**summary["paired"]).line())
    lines.append("=" * 72)
    return "\n".join(lines)


# -- the finished run: description, view, Pareto point -----------------------------------------


def _schedule_text(cfg: DictConfig) -> str:
    schedule = OmegaConf.select(cfg, "schedule", default=None)
    if schedule is None:
        return "none (a constant cap: `data.max_response_length`)"
    return ", ".join(f"{key}={value}" for key, value in OmegaConf.to_container(schedule, resolve=True).items())


def run_description(cfg: DictConfig, summary: dict, choices: dict[str, str]) -> str:
    """The run's description (``mlflow.note.content``), Markdown: recipe, schedule, before -> after."""
    lines = [
        f"**{summary['experiment']}**: recipe `{choices.get('recipe', '?')}`, {summary.get('steps', 0)} steps "
        f"in {summary['seconds']} s; model `{OmegaConf.select(cfg, 'actor_rollout_ref.model.path', default='?')}`.",
        "",
        f"Schedule: {_schedule_text(cfg)}.",
        "",
        "| metric | before | after |",
        "|---|---:|---:|",
    ]
    for group in ("val_acc", "val_tokens"):
        for key, (before, after) in summary.get(group, {}).items():
            lines.append(f"| `{key}` | {before:.3f} | {after:.3f} |")
    for key in ("response_length/mean", "siri/max_response_length"):
        if key in summary:
            before, after = summary[key]
            lines.append(f"| `{key}` (first step, last step) | {before:.1f} | {after:.1f} |")
    lines += ["", "Whole config: artifact `config.yaml`; accuracy vs tokens: `pareto/`."]
    return "\n".join(lines)


def log_pareto_point(client, run: MlflowRun) -> list[str]:
    """The run's accuracy-vs-tokens point per benchmark it validated on, against the papers'
    points, as the artifacts ``pareto/pareto_<benchmark>.png`` and ``pareto/pareto.md`` (what a
    sweep logs on its parent); returns the benchmarks."""
    from siri_verl.tracking.pareto import (
        frontier_table_markdown,
        load_paper_points,
        plot_frontier,
        points_from_runs,
        search_runs_frame,
    )

    frame = search_runs_frame(run.experiment, run.tracking_uri, filter_string=f"attributes.run_id = '{run.run_id}'")
    benchmarks = [b.name for b in view.benchmarks_in_metrics(client.get_run(run.run_id).data.metrics)]
    if not benchmarks:
        return []
    sections = [f"# {run.run_id}: accuracy vs tokens\n"]
    with tempfile.TemporaryDirectory() as tmp:
        for benchmark in benchmarks:
            points = points_from_runs(frame, benchmark, source="auto")
            paper = load_paper_points(benchmark)
            sections.append(f"## {benchmark}\n\n{frontier_table_markdown(points)}")
            if not paper.empty:
                published = paper.assign(run_name=paper["method"] + " (" + paper["paper"] + ", " + paper["model"] + ")")
                sections.append(f"Published points:\n\n{frontier_table_markdown(published)}")
            png = plot_frontier(points, Path(tmp) / f"pareto_{benchmark}.png", f"{benchmark}: accuracy vs tokens",
                                paper_points=paper)
            client.log_artifact(run.run_id, str(png), "pareto")
        (Path(tmp) / "pareto.md").write_text("\n".join(sections), encoding="utf-8")
        client.log_artifact(run.run_id, str(Path(tmp) / "pareto.md"), "pareto")
    return benchmarks


def record_finished_run(cfg: DictConfig, run: MlflowRun | None, summary: dict, choices: dict[str, str]) -> None:
    """At the end of a job: the run's description, the experiment's view extended to the
    benchmarks the run logged, and its Pareto point. Tracking never fails a finished job."""
    if run is None:
        return
    try:
        client = tracking_client(run.tracking_uri)
        client.set_tag(run.run_id, view.NOTE_TAG, run_description(cfg, summary, choices))
        metrics = client.get_run(run.run_id).data.metrics
        if run.experiment_id:
            _update_view(client, run.experiment_id, view.benchmarks_in_metrics(metrics), _uses_inftythink(cfg))
        log_pareto_point(client, run)
    except Exception as error:
        print(f"MLflow: the run's summary was not recorded ({type(error).__name__}: {error})", flush=True)
