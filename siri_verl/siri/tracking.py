"""SIRI's per-step metrics and its phase-end checkpoints, hooked into the ``siri_verl`` trainer.

Metrics (console and MLflow, every step the ``siri_length`` loop ran):

- ``siri/max_response_length``: L(t), the cap this step's rollouts were generated under;
- ``siri/phase``: -1 compress, 0 hold, +1 expand (MLflow metrics are numbers);
- ``siri/truncation_rate``: share of responses that hit L(t) without finishing. verl's own
  ``response_length/clip_ratio`` compares against the batch's longest response instead;
- ``siri/response_length/{mean,p50,p90}`` over all responses and
  ``siri/correct_response_length/...`` over correct ones (score > 0).

Checkpoints: at the last step of every compression (trough: SIRI-low candidates) and expansion
(peak: SIRI-high candidates) the step's checkpoint is saved if it was not already, and
hard-linked into ``<default_local_dir>/siri_phase_ends/`` where verl's retention
(``max_actor_ckpt_to_keep``) never deletes it. The MLflow run lists them in the tags
``siri/low_checkpoints`` and ``siri/high_checkpoints``.
"""

from __future__ import annotations

import os
import shutil
from functools import lru_cache

from omegaconf import OmegaConf

from siri_verl.siri.agent_loop import schedule_of
from siri_verl.siri.schedule import PhaseEnds, Schedule
from siri_verl.trainer import RolloutRow, length_stats, metric_collector, step_end_hook

PHASE_VALUE = {"compress": -1, "hold": 0, "expand": 1}
PHASE_END_DIR = "siri_phase_ends"


@metric_collector
def siri_metrics(config, global_step: int, rows: list[RolloutRow]) -> dict:
    capped = [row for row in rows if "siri_cap" in row.extra_fields]
    if not capped:
        return {}
    schedule = schedule_of(config)
    metrics = {
        "siri/max_response_length": schedule.length(global_step),
        "siri/phase": PHASE_VALUE[schedule.phase(global_step)],
        "siri/truncation_rate": sum(bool(row.extra_fields.get("truncated")) for row in capped) / len(capped),
    }
    metrics.update(length_stats("siri/response_length", [row.response_length for row in capped]))
    metrics.update(length_stats("siri/correct_response_length", [r.response_length for r in capped if r.score > 0]))
    return metrics


@lru_cache(maxsize=4)
def _phase_ends(schedule: Schedule, total_steps: int) -> PhaseEnds:
    return schedule.phase_ends(total_steps)


def keep_checkpoint(default_local_dir: str, step: int) -> str:
    """Hard-link ``global_step_<step>`` into the kept folder; returns the kept path."""
    source = os.path.join(default_local_dir, f"global_step_{step}")
    kept = os.path.join(default_local_dir, PHASE_END_DIR, f"global_step_{step}")
    shutil.copytree(source, kept, copy_function=os.link, dirs_exist_ok=True)
    return kept


@step_end_hook
def keep_phase_end_checkpoints(trainer) -> None:
    config = trainer.config
    if OmegaConf.select(config, "schedule") is None or not OmegaConf.select(
        config, "siri_verl.keep_phase_end_checkpoints", default=False
    ):
        return
    step = trainer.global_steps
    ends = _phase_ends(schedule_of(config), trainer.total_training_steps)
    kind = "low" if step in ends.troughs else "high" if step in ends.peaks else None
    if kind is None:
        return
    if not os.path.isdir(os.path.join(config.trainer.default_local_dir, f"global_step_{step}")):
        trainer._save_checkpoint()
    kept = keep_checkpoint(config.trainer.default_local_dir, step)
    record = trainer.__dict__.setdefault("siri_phase_end_checkpoints", {"low": [], "high": []})
    record[kind].append(kept)
    _tag_mlflow_run(f"siri/{kind}_checkpoints", ",".join(record[kind]))


def _tag_mlflow_run(key: str, value: str) -> None:
    import mlflow

    if mlflow.active_run() is not None:
        mlflow.set_tag(key, value)
