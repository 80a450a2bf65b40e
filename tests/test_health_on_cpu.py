"""Health of a length schedule (siri_verl/health.py): metrics with known answers from hand-made
rows, and the all-truncated check provoked with a tiny L_min, warning and stopping.

The rows are what ``siri_verl.trainer._rows_of`` builds from a step's batch: a GRPO group per
prompt (verl's uid), SIRI's ``siri_cap``/``truncated`` from the ``siri_length`` loop, InftyThink's
one row per segment with the trajectory's fields on its final row.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from siri_verl.checks import ConfigError
from siri_verl.config import compose_recipe
from siri_verl.health import check_all_truncated, schedule_health_metrics
from siri_verl.project_settings import SiriVerlSettings
from siri_verl.errors import TrainingStopped
from siri_verl.trainer import RolloutRow, SiriVerlTrainer, sampled_accuracy


def siri_row(group: str, index: int, length: int, score: float, cap: int, advantage: float) -> RolloutRow:
    return RolloutRow(
        response_length=length,
        score=score,
        extra_fields={"siri_cap": cap, "truncated": length >= cap, "reward_extra_info": {"acc": score > 0}},
        group=group,
        trajectory=f"{group}_{index}",
        advantage=advantage,
    )


def test_siri_health_metrics_have_the_known_answers():
    rows = [
        # group a: all hit the cap of 20, all score 0 -> zero variance and all truncated
        siri_row("a", 0, 20, 0.0, 20, 0.0),
        siri_row("a", 1, 20, 0.0, 20, 0.0),
        # group b: one correct, one truncated -> variance, not all truncated
        siri_row("b", 0, 10, 1.0, 20, 1.0),
        siri_row("b", 1, 20, 0.0, 20, -1.0),
        # group c: both correct and short -> zero variance, none truncated
        siri_row("c", 0, 5, 1.0, 20, 0.0),
        siri_row("c", 1, 15, 1.0, 20, 0.0),
        # group d: one truncated, one wrong but finished -> zero variance, not all truncated
        siri_row("d", 0, 20, 0.0, 20, 0.0),
        siri_row("d", 1, 18, 0.0, 20, 0.0),
    ]
    metrics = schedule_health_metrics(None, 1, rows)
    ratios = sorted(length / 20 for length in (20, 20, 10, 20, 5, 15, 20, 18))
    assert metrics == {
        "health/zero_variance_groups": 0.75,  # a, c, d
        "health/all_truncated_groups": 0.25,  # a
        "health/advantage_abs/mean": 2 / 8,
        "health/length_over_cap/p50": pytest.approx((ratios[3] + ratios[4]) / 2),
        "health/length_over_cap/p90": 1.0,
    }
    assert sampled_accuracy(None, 1, rows) == {"reward/accuracy": 3 / 8}


def inftythink_trajectory(
    group: str, index: int, segments: list[int], score: float, truncated: bool
) -> list[RolloutRow]:
    """One trajectory's rows: a row per segment, the trajectory's fields on the final one (as the
    inftythink agent loop returns them); every row carries the trajectory's advantage."""
    rows = [
        RolloutRow(
            response_length=length,
            score=score,
            extra_fields={"inftythink_segment_index": i},
            group=group,
            trajectory=f"{group}_{index}",
            is_final=i == len(segments) - 1,
            advantage=0.5 if score else -0.5,
        )
        for i, length in enumerate(segments)
    ]
    rows[-1].extra_fields.update(inftythink_segment_cap=40, truncated=truncated, reward_extra_info={"acc": bool(score)})
    return rows


def test_inftythink_health_counts_trajectories_not_segments_and_measures_segments_against_eta():
    rows = [
        *inftythink_trajectory("a", 0, [40, 40, 40], 0.0, truncated=True),  # three segments, one trajectory
        *inftythink_trajectory("a", 1, [40], 0.0, truncated=True),
        *inftythink_trajectory("b", 0, [20, 10], 1.0, truncated=False),
        *inftythink_trajectory("b", 1, [40, 40], 0.0, truncated=True),
    ]
    metrics = schedule_health_metrics(None, 1, rows)
    assert metrics["health/zero_variance_groups"] == 0.5  # a
    assert metrics["health/all_truncated_groups"] == 0.5  # a, though b has more truncated segments
    assert metrics["health/advantage_abs/mean"] == 0.5  # per trajectory
    assert metrics["health/length_over_cap/p50"] == 1.0  # 6 of 8 segments at eta=40
    assert metrics["health/length_over_cap/p90"] == 1.0
    assert sampled_accuracy(None, 1, rows) == {"reward/accuracy": 0.25}  # 1 of 4 trajectories


def test_rows_without_groups_or_truncation_give_only_what_they_can():
    rows = [RolloutRow(10, 1.0, {"siri_cap": 40}), RolloutRow(30, 0.0, {"siri_cap": 40})]
    assert schedule_health_metrics(None, 1, rows) == {
        "health/length_over_cap/p50": 0.5,
        "health/length_over_cap/p90": pytest.approx(0.7),
    }


# --- the all-truncated check, provoked with a tiny L_min --------------------------------------------

TINY_L_MIN = 2


def tiny_l_min_config(*overrides: str):
    return compose_recipe("tiny", [f"schedule.l_min={TINY_L_MIN}", *overrides])


def compressed_step_rows(config, step: int) -> list[RolloutRow]:
    """A step at a tiny cap: every response of every group runs into L(t) and scores 0."""
    from siri_verl.siri.schedule import schedule_of

    cap = schedule_of(config).length(step)
    return [siri_row(group, i, cap, 0.0, cap, 0.0) for group in "abcd" for i in range(4)]


def run_steps(trainer, steps: range) -> list[dict]:
    """What the siri_verl trainer does with each step's rows: collectors, then step hooks."""
    from siri_verl.siri.siri_tracking import siri_metrics

    logged = []
    for step in steps:
        rows = compressed_step_rows(trainer.config, step)
        metrics = {**siri_metrics(trainer.config, step, rows), **schedule_health_metrics(trainer.config, step, rows)}
        check_all_truncated(trainer, step, metrics)
        logged.append(metrics)
    return logged


def fake_trainer(config):
    """The state the check reads and writes: the config, its streak, stop_training."""
    trainer = SimpleNamespace(config=config, stop_reason=None)
    trainer.stop_training = lambda reason: setattr(trainer, "stop_reason", reason)
    return trainer


def test_all_truncated_groups_warn_after_patience_steps_naming_the_settings(capsys):
    config = tiny_l_min_config("siri_verl.health.patience=3")
    assert SiriVerlSettings.of(config).health.action == "warn"  # the shipped default
    trainer = fake_trainer(config)

    logged = run_steps(trainer, range(1, 3))
    assert [m["health/all_truncated_groups"] for m in logged] == [1.0, 1.0]
    assert [m["health/all_truncated_streak"] for m in logged] == [1, 2]
    assert capsys.readouterr().err == ""  # not yet: patience is 3

    logged = run_steps(trainer, range(3, 4))
    warning = capsys.readouterr().err
    assert warning.startswith("siri_verl: WARNING: 100% of the GRPO groups had every response truncated")
    for setting in ("siri_verl.health.all_truncated_fraction=0.5", "siri_verl.health.patience=3",
                    "schedule.l_min", "siri_verl.health.action=off"):  # fmt: skip
        assert setting in warning
    assert trainer.stop_reason is None  # warn only


def test_a_healthy_step_resets_the_streak(capsys):
    trainer = fake_trainer(tiny_l_min_config("siri_verl.health.patience=2"))
    run_steps(trainer, range(1, 2))
    healthy = {"health/all_truncated_groups": 0.25}
    check_all_truncated(trainer, 2, healthy)
    assert healthy["health/all_truncated_streak"] == 0
    run_steps(trainer, range(3, 4))
    assert capsys.readouterr().err == ""


def test_action_stop_stops_the_real_trainer_before_the_next_step():
    config = tiny_l_min_config("siri_verl.health.action=stop", "siri_verl.health.patience=2")
    trainer = SiriVerlTrainer.__new__(SiriVerlTrainer)  # the real class; verl's workers are not needed
    trainer.config, trainer.stop_reason = config, None

    run_steps(trainer, range(1, 2))
    trainer.on_step_begin()  # one step all truncated: patience is 2, training goes on
    run_steps(trainer, range(2, 3))
    with pytest.raises(TrainingStopped, match=r"Stopped by siri_verl\.health\.action=stop") as stopped:
        trainer.on_step_begin()
    assert "siri_verl.health.patience=2" in str(stopped.value)


def test_action_off_neither_warns_nor_stops_but_still_counts(capsys):
    trainer = fake_trainer(tiny_l_min_config("siri_verl.health.action=off", "siri_verl.health.patience=1"))
    logged = run_steps(trainer, range(1, 3))
    assert logged[-1]["health/all_truncated_streak"] == 2
    assert capsys.readouterr().err == "" and trainer.stop_reason is None


def test_a_stop_raised_in_rays_actor_is_still_caught_as_training_stopped():
    """verl's TaskRunner runs fit in a Ray actor: the driver gets RayTaskError, which ``launch.main``
    must still catch as TrainingStopped to print the reason and exit 3."""
    from ray.exceptions import RayTaskError

    wrapped = RayTaskError("run", "Traceback ...", TrainingStopped("why")).as_instanceof_cause()
    assert isinstance(wrapped, TrainingStopped) and str(wrapped.cause) == "why"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        (
            "siri_verl.health.action=loudly",
            "siri_verl.health.action must be one of ('off', 'warn', 'stop'), got 'loudly'",
        ),
        (
            "siri_verl.health.all_truncated_fraction=1.5",
            "siri_verl.health.all_truncated_fraction must be in [0, 1], got 1.5",
        ),
        ("siri_verl.health.patience=0", "siri_verl.health.patience must be >= 1"),
    ],
)
def test_bad_settings_fail_at_compose_time_naming_the_key(override, named):
    from siri_verl.checks import run_checks

    config = compose_recipe("tiny", [override])
    with pytest.raises(ConfigError) as error:
        run_checks(config, dict(config.hydra.runtime.choices))
    assert named in str(error.value)
