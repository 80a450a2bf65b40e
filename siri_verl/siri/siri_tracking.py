"""SIRI's per-step metrics, hooked into the ``siri_verl`` trainer.

Metrics (console and MLflow, every step the ``siri_length`` loop ran):

- ``siri/max_response_length``: L(t), the cap this step's rollouts were generated under;
- ``siri/phase``: -1 compress, 0 hold, +1 expand (MLflow metrics are numbers);
- ``siri/truncation_rate``: share of responses that hit L(t) without finishing. verl's own
  ``response_length/clip_ratio`` compares against the batch's longest response instead;
- ``siri/response_length/{mean,p50,p90}`` over all responses and
  ``siri/correct_response_length/...`` over correct ones (score > 0).

The phase-end checkpoints (SIRI-low / SIRI-high candidates) are siri/phase_checkpoints.py's.
"""

from __future__ import annotations

from siri_verl.siri.schedule import schedule_of
from siri_verl.trainer import RolloutRow, length_stats, metric_collector

PHASE_VALUE = {"compress": -1, "hold": 0, "expand": 1}


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
