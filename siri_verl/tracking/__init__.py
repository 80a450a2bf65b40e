"""Experiment tracking: MLflow runs of training jobs (and, later, sweeps, evals and the Pareto view)."""

from siri_verl.tracking.runs import (  # noqa: F401
    MlflowRun,
    close_training_run,
    format_summary,
    open_training_run,
    record_finished_run,
    training_summary,
)
