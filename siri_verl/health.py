"""Health of a length schedule: does this step's cap still leave GRPO something to learn from?

A compression phase that goes too deep fails silently: every response of a group hits the cap,
a truncated response scores 0, the group scores alike, its GRPO advantage is zero, and the step
trains on nothing. Logged every step (MLflow; the console shows the first), over trajectories
(an InftyThink trajectory is several rows; its final row carries its score and truncation) and
GRPO groups (one prompt's ``rollout.n`` trajectories, verl's ``uid``):

- ``health/zero_variance_groups``: share of groups whose scores are all equal (zero advantage);
- ``health/all_truncated_groups``: share of groups whose every trajectory hit the cap
  (``truncated`` from the agent loop: L(t) for SIRI; η or the context for InftyThink);
- ``health/advantage_abs/mean``: mean |advantage| per trajectory, as verl computed it for the
  update (its mean over the response's tokens: the same on every token under GRPO);
- ``health/length_over_cap/{p50,p90}``: each row's response length ÷ the cap it was generated
  under (SIRI: ``siri_cap``, L(t); InftyThink: each segment against its trajectory's η);
- ``health/all_truncated_streak``: consecutive steps with ``health/all_truncated_groups`` at or
  above ``siri_verl.health.all_truncated_fraction``.

The check (``siri_verl.health`` in ``conf/config.yaml``, read by
``siri_verl/project_settings.py:HealthSettings``): once the streak reaches
``siri_verl.health.patience`` steps, ``action: warn`` prints a warning naming the settings (and
again every ``patience`` steps while it lasts), ``action: stop`` also stops the run before the
next step (the step's metrics are logged first; ``python -m siri_verl`` exits with status 3
and the message), ``action: off`` does neither.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import numpy as np

from siri_verl.project_settings import HEALTH_KEY as SETTINGS
from siri_verl.project_settings import HealthSettings, SiriVerlSettings
from siri_verl.trainer import RolloutRow, metric_collector, step_metrics_hook

ZERO_VARIANCE = "health/zero_variance_groups"
ALL_TRUNCATED = "health/all_truncated_groups"
STREAK = "health/all_truncated_streak"


def _groups(trajectories: list[RolloutRow]) -> list[list[RolloutRow]]:
    groups: dict[str, list[RolloutRow]] = defaultdict(list)
    for row in trajectories:
        groups[row.group].append(row)
    return list(groups.values())


def _cap_of(row: RolloutRow, trajectory_caps: dict[str, float]) -> float | None:
    cap = row.extra_fields.get("siri_cap", trajectory_caps.get(row.trajectory))
    return float(cap) if cap else None


@metric_collector
def schedule_health_metrics(config, global_step: int, rows: list[RolloutRow]) -> dict:
    """The health metrics above from the step's rows (module docstring); rows without a GRPO
    group (``group`` None) count only towards the length ratios."""
    metrics: dict = {}
    trajectories = [row for row in rows if row.is_final and row.group is not None]
    groups = _groups(trajectories)
    if groups:
        metrics[ZERO_VARIANCE] = float(np.mean([np.ptp([row.score for row in group]) == 0 for group in groups]))
        if all("truncated" in row.extra_fields for row in trajectories):
            metrics[ALL_TRUNCATED] = float(
                np.mean([all(row.extra_fields["truncated"] for row in group) for group in groups])
            )
    advantages = [abs(row.advantage) for row in trajectories if row.advantage is not None]
    if advantages:
        metrics["health/advantage_abs/mean"] = float(np.mean(advantages))
    trajectory_caps = {
        row.trajectory: row.extra_fields["inftythink_segment_cap"]
        for row in rows
        if row.is_final and "inftythink_segment_cap" in row.extra_fields
    }
    ratios = [row.response_length / cap for row in rows if (cap := _cap_of(row, trajectory_caps))]
    if ratios:
        metrics["health/length_over_cap/p50"] = float(np.percentile(ratios, 50))
        metrics["health/length_over_cap/p90"] = float(np.percentile(ratios, 90))
    return metrics


def all_truncated_message(step: int, metrics: dict, streak: int, settings: HealthSettings) -> str:
    """What the warning (and the stop) says: what was seen, the settings that decided, what to do."""
    cap = metrics.get("siri/max_response_length", metrics.get("inftythink/segment_cap"))
    at_cap = f" at the cap ({float(cap):g} tokens at step {step})" if cap is not None else f" at step {step}"
    return (
        f"{metrics[ALL_TRUNCATED]:.0%} of the GRPO groups had every response truncated{at_cap}, "
        f"{streak} steps in a row ({SETTINGS}.all_truncated_fraction={settings.all_truncated_fraction}, "
        f"{SETTINGS}.patience={settings.patience}): those groups score alike and give no advantage, so "
        "the length schedule's cap leaves nothing to learn from. Raise the cap (SIRI: schedule.l_min), "
        f"or set {SETTINGS}.action=off to let the run go on."
    )


@step_metrics_hook
def check_all_truncated(trainer, global_step: int, metrics: dict) -> None:
    """Count the all-truncated streak into ``metrics`` and warn or stop as ``siri_verl.health`` says."""
    settings = SiriVerlSettings.of(trainer.config).health
    share = metrics.get(ALL_TRUNCATED)
    if share is None:
        return
    previous = trainer.__dict__.get("all_truncated_streak", 0)
    streak = previous + 1 if share >= settings.all_truncated_fraction else 0
    trainer.all_truncated_streak = metrics[STREAK] = streak
    if settings.action == "off" or streak < settings.patience or streak % settings.patience:
        return
    message = all_truncated_message(global_step, metrics, streak, settings)
    if settings.action == "stop":
        trainer.stop_training(f"{message} Stopped by {SETTINGS}.action=stop.")
    print(f"siri_verl: WARNING: {message}", file=sys.stderr, flush=True)
