"""A Hydra callback that gives a multirun sweep one MLflow parent run and a Pareto summary.

Register it in a config (or ``+hydra.callbacks.mlflow_sweep._target_=...`` on the command line):

    hydra:
      callbacks:
        mlflow_sweep:
          _target_: siri_verl.tracking.sweep.MlflowSweepCallback
          benchmark: null   # null: every benchmark the children report

* ``on_multirun_start`` opens the parent run in the experiment ``trainer.project_name`` and
  exports its id as ``SIRI_VERL_PARENT_RUN_ID``; each job's training run
  (``siri_verl.tracking.runs.open_training_run``) reads it and tags itself
  ``mlflow.parentRunId``. The env var reaches the jobs because Hydra's basic launcher runs
  them in this process.
* ``on_multirun_end`` reads the children's final metrics (``eval/...`` where a child has them,
  else verl's validation accuracy and rollout length: ``source="auto"`` in
  ``siri_verl.tracking.pareto``), logs ``pareto.md`` and ``pareto.png`` (plus
  ``pareto_<benchmark>.png`` per benchmark) on the parent, and ends it.

Tracking is a side concern of a sweep: every MLflow error becomes a logged warning, never a
failed sweep. Hydra skips ``on_multirun_end`` when a job raises; the parent then stays RUNNING.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from siri_verl.tracking.runs import PARENT_RUN_ENV, experiment_id, tracking_client, tracking_uri_from
from siri_verl.tracking.view import experiment_url

log = logging.getLogger(__name__)

# Used when the swept config has no trainer.project_name.
DEFAULT_EXPERIMENT = "siri_verl"

# Benchmarks a child reports, recognised from its metric names (see siri_verl.tracking.pareto).
_BENCHMARK_PATTERNS = (re.compile(r"metrics\.eval/(.+)/acc$"), re.compile(r"metrics\.val-core/(.+)/acc/mean_at_\d+$"))


def benchmarks_in(columns) -> list[str]:
    found: list[str] = []
    for column in columns:
        for pattern in _BENCHMARK_PATTERNS:
            match = pattern.match(column)
            if match and match.group(1) not in found:
                found.append(match.group(1))
    return sorted(found)


class MlflowSweepCallback(Callback):
    def __init__(self, benchmark: str | None = None) -> None:
        self.benchmark = benchmark  # None: summarise every benchmark the children report
        self.run_id: str | None = None
        self.tracking_uri: str | None = None
        self.experiment: str | None = None
        self.experiment_id: str | None = None

    # ------------------------------------------------------------------ start

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            self._open_parent(config)
        except Exception as error:  # a sweep must run even when tracking cannot
            log.warning("MLflow sweep run not opened (%s: %s); jobs will log as top-level runs",
                        type(error).__name__, error)
            self.run_id = None

    def _open_parent(self, config: DictConfig) -> None:
        self.tracking_uri = tracking_uri_from(config)
        self.experiment = OmegaConf.select(config, "trainer.project_name") or DEFAULT_EXPERIMENT
        client = tracking_client(self.tracking_uri)  # a new store is created under its lock
        self.experiment_id = experiment_id(client, self.experiment)  # created with the saved view
        sweep_dir = OmegaConf.select(config, "hydra.sweep.dir")
        overrides = OmegaConf.select(config, "hydra.overrides.task") or []
        tags = {"siri_verl.kind": "sweep", "siri_verl.sweep.overrides": " ".join(map(str, overrides))}
        # A sweep started by a larger run (a study) nests under it.
        if os.environ.get(PARENT_RUN_ENV):
            tags["mlflow.parentRunId"] = os.environ[PARENT_RUN_ENV]
        if sweep_dir:
            tags["siri_verl.sweep.dir"] = str(Path(sweep_dir).resolve())
        run_name = f"sweep {Path(str(sweep_dir)).name}" if sweep_dir else "sweep"
        run = client.create_run(self.experiment_id, run_name=run_name, tags=tags)
        self.run_id = run.info.run_id
        os.environ[PARENT_RUN_ENV] = self.run_id
        log.info("MLflow sweep run %s in experiment %s (%s); in mlflow ui: %s", self.run_id, self.experiment,
                 self.tracking_uri, experiment_url(self.experiment_id))

    # ------------------------------------------------------------------ end

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.run_id is None:
            return
        os.environ.pop(PARENT_RUN_ENV, None)
        try:
            self._summarise()
        except Exception as error:
            log.warning("MLflow sweep summary failed (%s: %s)", type(error).__name__, error)
        try:
            import mlflow

            mlflow.MlflowClient(self.tracking_uri).set_terminated(self.run_id, status="FINISHED")
        except Exception as error:
            log.warning("MLflow sweep run %s not closed (%s: %s)", self.run_id, type(error).__name__, error)

    def _summarise(self) -> None:
        import mlflow

        from siri_verl.tracking.pareto import (
            frontier_table_markdown,
            plot_frontier,
            points_from_runs,
            search_runs_frame,
        )

        children = search_runs_frame(self.experiment, self.tracking_uri,
                                     filter_string=f"tags.mlflow.parentRunId = '{self.run_id}'")
        benchmarks = [self.benchmark] if self.benchmark else benchmarks_in(children.columns)
        client = mlflow.MlflowClient(self.tracking_uri)
        client.set_tag(self.run_id, "siri_verl.sweep.children", str(len(children)))
        sections = [f"# Sweep {self.run_id}: {len(children)} runs\n"]
        with tempfile.TemporaryDirectory() as tmp:
            pngs = []
            for benchmark in benchmarks:
                points = points_from_runs(children, benchmark, source="auto")
                sections.append(f"## {benchmark}\n\n{frontier_table_markdown(points)}")
                pngs.append(plot_frontier(points, Path(tmp) / f"pareto_{benchmark}.png", f"sweep: {benchmark}"))
            if not benchmarks:
                sections.append("_no child run reported eval/<benchmark>/acc or val-core/<benchmark>/acc_\n")
            (Path(tmp) / "pareto.md").write_text("\n".join(sections), encoding="utf-8")
            client.log_artifact(self.run_id, str(Path(tmp) / "pareto.md"))
            if pngs:
                # pareto.png is the first benchmark's view: the one a glance at the run should show.
                (Path(tmp) / "pareto.png").write_bytes(pngs[0].read_bytes())
                client.log_artifact(self.run_id, str(Path(tmp) / "pareto.png"))
                if len(pngs) > 1:
                    for png in pngs:
                        client.log_artifact(self.run_id, str(png))
