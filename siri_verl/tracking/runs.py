"""The MLflow run of a training job: opened on the driver, filled by verl, summarised at the end.

verl's own tracker (``trainer.logger=[..., mlflow]``) logs the flattened config and every
step's metrics from inside the TaskRunner actor. It attaches to the run opened here through
``MLFLOW_RUN_ID`` and ``MLFLOW_TRACKING_URI``, which travel to the actor in Ray's runtime env.
Opening the run on the driver gives the job its run id up front: the summary, a sweep's
parent run and the eval links all need it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

import siri_verl

# Set by the Hydra sweep callback so that each job becomes a child of the sweep's run.
PARENT_RUN_ENV = "SIRI_VERL_PARENT_RUN_ID"


@dataclass
class MlflowRun:
    run_id: str
    tracking_uri: str
    experiment: str
    env: dict[str, str] = field(default_factory=dict)


def absolute_tracking_uri(uri: str) -> str:
    """Make a relative ``sqlite:///file.db`` absolute: Ray actors do not share the driver's cwd."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(Path(uri[len(prefix) :]).resolve())
    return uri


def tracking_uri_from(cfg: DictConfig) -> str:
    # An explicit MLFLOW_TRACKING_URI wins, as everywhere else in the MLflow world.
    uri = os.environ.get("MLFLOW_TRACKING_URI") or OmegaConf.select(cfg, "siri_verl.mlflow.tracking_uri")
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


def open_training_run(cfg: DictConfig, choices: dict[str, str]) -> MlflowRun | None:
    if not uses_mlflow(cfg):
        return None
    import mlflow

    uri = tracking_uri_from(cfg)
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.set_experiment(cfg.trainer.project_name)
    tags = {
        "siri_verl.version": siri_verl.__version__,
        "siri_verl.kind": "train",
        **{f"siri_verl.choice.{group}": str(choice) for group, choice in sorted(choices.items()) if "hydra" not in group},
    }
    parent = os.environ.get(PARENT_RUN_ENV)
    if parent:
        tags["mlflow.parentRunId"] = parent
    client = mlflow.MlflowClient(uri)
    run = client.create_run(experiment.experiment_id, run_name=_run_name(cfg), tags=tags)
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_RUN_ID": run.info.run_id}
    return MlflowRun(run.info.run_id, uri, cfg.trainer.project_name, env)


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
    if run is None:
        return summary
    import mlflow

    client = mlflow.MlflowClient(run.tracking_uri)
    keys = client.get_run(run.run_id).data.metrics.keys()
    summary.update(run_id=run.run_id, tracking_uri=run.tracking_uri, experiment_name=run.experiment)
    steps = _history(client, run.run_id, "training/global_step")
    summary["steps"] = int(steps[-1][1]) if steps else 0
    for key in sorted(keys):
        if key.startswith("val-core/") and "/acc/mean" in key:
            history = _history(client, run.run_id, key)
            summary.setdefault("val_acc", {})[key] = (history[0][1], history[-1][1])
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
        for key in ("response_length/mean", "siri/max_response_length"):
            if key in summary:
                before, after = summary[key]
                lines.append(f"  {key}: {before:.1f} at the first step -> {after:.1f} at the last")
        lines.append(f"  MLflow run: {summary['run_id']} (experiment {summary['experiment_name']})")
        lines.append(f"  open it with: mlflow ui --backend-store-uri {summary['tracking_uri']}")
    lines.append("=" * 72)
    return "\n".join(lines)
