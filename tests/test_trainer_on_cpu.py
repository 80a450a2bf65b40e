"""siri_verl/trainer.py: the per-step metric collectors and the rows they read.

The trainer's hooks are also exercised where their users are tested: the schedule's health and
its stop (tests/test_health_on_cpu.py), phase-end checkpoints (tests/siri/), the trajectory viewer
(tests/tracking/), and the real trainer in tests/e2e/.
"""

from __future__ import annotations

from siri_verl.reward.checker import CHECKER_ERROR


def test_checker_errors_reach_the_step_metrics():
    from siri_verl.trainer import RolloutRow, checker_error_metrics

    reasons = ["correct", CHECKER_ERROR, "wrong", CHECKER_ERROR, "timeout"]
    rows = [RolloutRow(3, 0.0, {"reward_extra_info": {"reason": r}}) for r in reasons]
    assert checker_error_metrics(None, 1, rows) == {"reward/checker_errors": 2.0}
    assert checker_error_metrics(None, 1, rows[:1]) == {"reward/checker_errors": 0.0}
    assert checker_error_metrics(None, 1, [RolloutRow(3, 0.0, {})]) == {}
