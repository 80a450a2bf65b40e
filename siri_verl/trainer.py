"""The ``siri_verl`` trainer mode: verl's synchronous V1 trainer plus this project's bookkeeping.

Selected with ``trainer.v1.trainer_mode=siri_verl`` (``conf/config.yaml`` does). On top of
``PPOTrainerSync`` it:

- adds the metrics of every registered :func:`metric_collector` to each step's metrics, which
  verl then logs to MLflow (SIRI: cap, phase, truncation against the cap, response lengths;
  InftyThink: segments per trajectory...; the schedule's health; here: ``reward/checker_errors``,
  ``reward/accuracy``), prints the step's compact console line (``siri_verl/console.py``), and
  hands the complete metrics to every registered :func:`step_metrics_hook`, which may ask
  :meth:`SiriVerlTrainer.stop_training` to stop the run before the next step;
- saves a checkpoint at every step a registered :func:`checkpoint_wanted` asks for, with verl's
  own ``_save_checkpoint`` at the point of the step where verl saves (after training, before the
  weight sync wakes the rollout replicas), unless verl's ``trainer.save_freq`` already saved it;
  and calls every registered :func:`checkpoint_saved_hook` once verl has written a checkpoint,
  from verl's checkpoint callback (``trainer.checkpoint_callback_class``, which still runs
  first), and again on the checkpoint a job resumes from (a kill may have cut them). SIRI: save and keep the checkpoints at the ends of compression and expansion phases;
- with ``siri_verl.fixed_optimizer_steps``, keeps the number of optimiser steps per training
  step at ``ppo_epochs * train_batch_size / ppo_mini_batch_size`` however many rows the step
  has. verl sizes PPO mini-batches in rows (``ppo_mini_batch_size * rollout.n``), so an agent
  loop that returns one row per segment (InftyThink) would otherwise take one extra optimiser
  step for every extra mini-batch of segments. It logs ``training/optimizer_steps`` and
  ``training/rows`` either way;
- with ``siri_verl.replay_poll_interval_s``, polls the replay buffer at that interval instead
  of verl's hard-coded 2 s (``ReplayBuffer.poll_interval``, not exposed in verl's config): on a
  tiny CPU model a whole GRPO step takes less than one poll.
- with ``siri_verl.trajectory_viewer_samples`` > 0, logs that many sample trajectories of each
  validation pass to the MLflow run as an HTML page (``siri_verl/tracking/viewer.py``).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
from omegaconf import open_dict
from verl.trainer.ppo.checkpoint_callback import CheckpointCallback
from verl.trainer.ppo.v1.trainer_base import register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
from verl.utils.debug import marked_timer

from siri_verl import console
from siri_verl.errors import TrainingStopped
from siri_verl.project_settings import SiriVerlSettings
from siri_verl.reward.checker import CHECKER_ERROR
from siri_verl.siri.schedule import schedule_of
from siri_verl.tracking.metric_names import rename_for_mlflow
from siri_verl.tracking.viewer import SampleRow, log_viewer

TRAINER_MODE = "siri_verl"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RolloutRow:
    """One training row of the step's batch, as the collectors see it.

    ``group`` is its GRPO group (verl's ``uid``: one prompt's ``rollout.n`` trajectories) and
    ``trajectory`` its trajectory (``{uid}_{session}``), both read from the row's TransferQueue
    key as verl's advantage computation reads them; an InftyThink trajectory has one row per
    segment and ``is_final`` marks its last. ``advantage``: the row's advantage as verl computed
    it for the update, averaged over its response tokens (None for an empty response).
    """

    response_length: int
    score: float
    extra_fields: dict
    group: str | None = None
    trajectory: str | None = None
    is_final: bool = True
    advantage: float | None = None


MetricCollector = Callable[[object, int, list[RolloutRow]], dict]
CheckpointWanted = Callable[["SiriVerlTrainer"], bool]
CheckpointSavedHook = Callable[["SiriVerlTrainer", int, str, bool], None]
StepMetricsHook = Callable[["SiriVerlTrainer", int, dict], None]
_METRIC_COLLECTORS: list[MetricCollector] = []
_CHECKPOINT_WANTED: list[CheckpointWanted] = []
_CHECKPOINT_SAVED_HOOKS: list[CheckpointSavedHook] = []
_STEP_METRICS_HOOKS: list[StepMetricsHook] = []


def metric_collector(collect: MetricCollector) -> MetricCollector:
    """Register ``collect(config, global_step, rows) -> {metric: value}``, called once per step."""
    if collect not in _METRIC_COLLECTORS:
        _METRIC_COLLECTORS.append(collect)
    return collect


def checkpoint_wanted(wanted: CheckpointWanted) -> CheckpointWanted:
    """Register ``wanted(trainer) -> bool``: must ``trainer.global_steps`` be checkpointed?

    Asked once per step, after verl's own scheduled save; a step verl did not save is then saved
    by verl's ``_save_checkpoint`` before the weight sync (see :meth:`SiriVerlTrainer.on_step_end`).
    """
    if wanted not in _CHECKPOINT_WANTED:
        _CHECKPOINT_WANTED.append(wanted)
    return wanted


def checkpoint_saved_hook(hook: CheckpointSavedHook) -> CheckpointSavedHook:
    """Register ``hook(trainer, global_step, checkpoint_dir, async_save)``, called after every save.

    It runs from verl's checkpoint callback, so only after a save that did not raise; with
    ``async_save`` (Megatron) the files may still be being written when it runs.
    """
    if hook not in _CHECKPOINT_SAVED_HOOKS:
        _CHECKPOINT_SAVED_HOOKS.append(hook)
    return hook


def step_metrics_hook(hook: StepMetricsHook) -> StepMetricsHook:
    """Register ``hook(trainer, global_step, metrics)``, called once per step with the step's
    complete metrics (verl's, the collectors', validation's) before verl logs them; it may add
    metrics, and may call ``trainer.stop_training(reason)``."""
    if hook not in _STEP_METRICS_HOOKS:
        _STEP_METRICS_HOOKS.append(hook)
    return hook


class _CheckpointSavedHooks(CheckpointCallback):
    """verl's checkpoint callback (``trainer.checkpoint_callback_class``), then the registered hooks."""

    def __init__(self, configured: CheckpointCallback):
        super().__init__(config=configured.config)
        self.configured = configured

    def on_save(self, trainer, global_step: int, checkpoint_dir: str, async_save: bool = False, **kwargs) -> None:
        self.configured.on_save(
            trainer=trainer, global_step=global_step, checkpoint_dir=checkpoint_dir, async_save=async_save, **kwargs
        )
        trainer.last_saved_step = global_step
        for hook in _CHECKPOINT_SAVED_HOOKS:
            hook(trainer, global_step, checkpoint_dir, async_save)


def _rows_of(batch) -> list[RolloutRow]:
    import transfer_queue as tq

    data = tq.kv_batch_get(
        keys=batch.keys,
        partition_id=batch.partition_id,
        select_fields=["responses", "rm_scores", "extra_fields", "advantages"],
    )
    lengths = data["responses"].offsets().diff().tolist()
    scores = [float(row.sum()) for row in data["rm_scores"].unbind(0)]
    advantages = [float(row.mean()) if row.numel() else None for row in data["advantages"].unbind(0)]
    extra_fields = data.pop("extra_fields").tolist()
    kept = [i for i, tag in enumerate(batch.tags) if not tag.get("is_padding", False)]
    trajectories = [_trajectory_of(batch.keys[i]) for i in kept]
    last_index: dict[str, int] = {}
    for trajectory, index in trajectories:
        last_index[trajectory] = max(index, last_index.get(trajectory, index))
    return [
        RolloutRow(
            response_length=int(lengths[i]),
            score=scores[i],
            extra_fields=extra_fields[i] if isinstance(extra_fields[i], dict) else {},
            group=_group_of(batch.keys[i]),
            trajectory=trajectory,
            is_final=index == last_index[trajectory],
            advantage=advantages[i],
        )
        for i, (trajectory, index) in zip(kept, trajectories)
    ]


def _group_of(key: str) -> str:
    """The GRPO group (verl's ``uid``) of a TransferQueue key ``{uid}_{session}_{index}``; a key of
    another shape is a group of its own."""
    parts = key.rsplit("_", 2)
    return parts[0] if len(parts) == 3 else key


def _trajectory_of(key: str) -> tuple[str, int]:
    """(trajectory id, row index) of a TransferQueue key ``{uid}_{session}_{index}``, as verl's
    ``_validate`` reads it; a key of another shape is a trajectory of one row."""
    parts = key.rsplit("_", 2)
    return (f"{parts[0]}_{parts[1]}", int(parts[2])) if len(parts) == 3 else (key, 0)


def _sample_rows_of(batch, limit: int, tokenizer, with_scores: bool) -> list[SampleRow]:
    """The rows of the first ``limit`` trajectories of a validation batch, decoded as verl decodes
    them. ``with_scores``: the rewards are already in the batch (computed by the agent loop's
    reward workers; a colocated reward model scores after this read, so its rows show none)."""
    import transfer_queue as tq

    keys_of: dict[str, list[tuple[int, str]]] = {}
    for key, tag in zip(batch.keys, batch.tags):
        if not tag.get("is_padding", False):
            trajectory, index = _trajectory_of(key)
            keys_of.setdefault(trajectory, []).append((index, key))
    chosen = [(trajectory, index, key) for trajectory in list(keys_of)[:limit] for index, key in sorted(keys_of[trajectory])]
    if not chosen:
        return []
    select = ["prompts", "responses", "extra_fields"] + (["rm_scores"] if with_scores else [])
    data = tq.kv_batch_get(keys=[key for *_, key in chosen], partition_id=batch.partition_id, select_fields=select)
    prompts, responses = data["prompts"].unbind(0), data["responses"].unbind(0)
    scores = [float(row.sum()) for row in data["rm_scores"].unbind(0)] if with_scores else [None] * len(chosen)
    extra_fields = data.pop("extra_fields").tolist()
    return [
        SampleRow(
            trajectory_id=trajectory,
            index=index,
            prompt=tokenizer.decode(prompt.tolist(), skip_special_tokens=True),
            response=tokenizer.decode(response.tolist(), skip_special_tokens=True),
            response_tokens=len(response),
            score=score,
            extra_fields=fields if isinstance(fields, dict) else {},
        )
        for (trajectory, index, _), prompt, response, score, fields in zip(chosen, prompts, responses, scores, extra_fields)
    ]


@register_trainer(TRAINER_MODE)
class SiriVerlTrainer(PPOTrainerSync):
    """``PPOTrainerSync`` with registered metric collectors and checkpoint hooks (module docstring)."""

    def __init__(self, config):
        # The siri_verl section, read once (before verl's __init__, which builds the replay buffer).
        self.siri_settings = SiriVerlSettings.of(config)
        super().__init__(config)
        self.checkpoint_callback = _CheckpointSavedHooks(self.checkpoint_callback)
        self.last_saved_step: int | None = None
        self.stop_reason: str | None = None

    def _load_checkpoint(self):
        super()._load_checkpoint()
        # verl writes latest_checkpointed_iteration.txt before it calls the checkpoint callback, so a
        # kill in between resumes from a step whose saved hooks never ran (SIRI's copy of a phase end:
        # minutes for a large model). They run on the step resumed from when training begins, once the
        # MLflow run is open (here it is not yet); they are no-ops on a step they already handled.
        # Only for this job's own directory: resume_path may name another job's.
        self.resumed_checkpoint: tuple[int, str] | None = None
        if self.global_steps > 0 and self.config.trainer.resume_mode == "auto":
            checkpoint_dir = os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")
            self.resumed_checkpoint = (self.global_steps, checkpoint_dir)

    def stop_training(self, reason: str) -> None:
        """Stop the run before the next step (this step's metrics are still logged): verl's fit
        raises :class:`TrainingStopped` with ``reason``, which ``python -m siri_verl`` prints."""
        self.stop_reason = reason

    def on_step_begin(self):
        if self.stop_reason is not None:
            raise TrainingStopped(self.stop_reason)
        super().on_step_begin()

    def on_train_begin(self):
        self._training_started = True
        super().on_train_begin()
        if getattr(self, "resumed_checkpoint", None) is not None:  # see _load_checkpoint
            step, checkpoint_dir = self.resumed_checkpoint
            for hook in _CHECKPOINT_SAVED_HOOKS:
                hook(self, step, checkpoint_dir, False)

    # verl branches on ``trainer_mode == "sync"`` (replay buffer, refills, checkpoints); this
    # mode *is* the sync trainer, so it answers "sync" whatever name selected it.
    @property
    def trainer_mode(self) -> str:
        return "sync"

    @trainer_mode.setter
    def trainer_mode(self, value: str) -> None:
        pass

    def _build_replay_buffer(self):
        buffer = super()._build_replay_buffer()
        interval = self.siri_settings.replay_poll_interval_s
        if interval is not None:
            buffer.poll_interval = float(interval)
        return buffer

    def _compute_metrics(self, batch, metrics, timing_raw, global_steps, epoch):
        super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
        if _METRIC_COLLECTORS:
            rows = _rows_of(batch)
            for collect in _METRIC_COLLECTORS:
                metrics.update(collect(self.config, global_steps, rows))
        rename_for_mlflow(metrics)  # verl logs this dict next: names MLflow accepts, no warnings
        console.print_step(self.config, global_steps, self.total_training_steps, metrics)
        for hook in _STEP_METRICS_HOOKS:
            hook(self, global_steps, metrics)

    def _validate(self):
        """verl's validation pass, plus the trajectory viewer page of its first samples.

        verl's ``_validate`` samples each validation batch from the replay buffer, reads what it
        logs, and clears the batch from TransferQueue; for the pass, the buffer's ``sample`` is
        wrapped to read the viewer's rows of each batch before verl clears them.
        """
        limit = self.siri_settings.trajectory_viewer_samples
        if limit <= 0:
            return self._validation_line(rename_for_mlflow(super()._validate()))
        rows: list[SampleRow] = []
        with_scores = self.reward_loop_manager.reward_loop_worker_handles is not None
        sample = self.replay_buffer.sample

        def sample_and_read(*args, **kwargs):
            batch, metrics = sample(*args, **kwargs)
            wanted = limit - len({row.trajectory_id for row in rows})
            if wanted > 0:
                try:
                    rows.extend(_sample_rows_of(batch, wanted, self.tokenizer, with_scores))
                except Exception as error:  # the viewer is a diagnostic: it never stops training
                    logger.warning("trajectory viewer: could not read validation rows (%s: %s)", type(error).__name__, error)
            return batch, metrics

        self.replay_buffer.sample = sample_and_read
        try:
            metrics = super()._validate()
        finally:
            self.replay_buffer.sample = sample
        try:
            log_viewer(rows, step=self.global_steps, length_cap=self._length_cap_now())
        except Exception as error:
            logger.warning("trajectory viewer: could not log the page (%s: %s)", type(error).__name__, error)
        return self._validation_line(rename_for_mlflow(metrics))

    def _validation_line(self, metrics: dict) -> dict:
        """Print the validation before training (verl prints its dict to its prints file); a
        validation during training shows on its step's line."""
        if not getattr(self, "_training_started", False):
            console.print_validation(self.config, self.global_steps, metrics)
        return metrics

    def _length_cap_now(self) -> int | None:
        """L(t) of the schedule at this step (the viewer measures single responses against it)."""
        if self.config.get("schedule", None) is None:
            return None
        return int(schedule_of(self.config).length(max(int(self.global_steps), 0)))

    def on_step_end(self):
        # verl's fit() runs: step (rollout, then training, replicas asleep), its scheduled save,
        # then on_step_end, whose weight sync wakes the rollout replicas and hands vLLM its memory.
        # A wanted save therefore goes first, in the same state as verl's own save.
        if self.last_saved_step != self.global_steps and any(wanted(self) for wanted in _CHECKPOINT_WANTED):
            with marked_timer("save_checkpoint", self.timing_raw, color="green"):
                self._save_checkpoint()
        super().on_step_end()

    # -- optimiser steps per training step ------------------------------------------------------

    @property
    def _fixed_optimizer_steps(self) -> bool:
        return self.siri_settings.fixed_optimizer_steps

    def _mini_batches_per_epoch(self) -> int:
        return max(1, self.config.data.train_batch_size // self.config.actor_rollout_ref.actor.ppo_mini_batch_size)

    def _get_required_batch_multiple(self, dp_size: int) -> int:
        if not self._fixed_optimizer_steps or self.use_critic:
            return super()._get_required_batch_multiple(dp_size)
        # Rows must split into K equal mini-batches of whole rollout groups, each divisible by dp.
        return self._mini_batches_per_epoch() * math.lcm(dp_size, self.config.actor_rollout_ref.rollout.n)

    def _update_actor(self, batch, metrics):
        actor = self.config.actor_rollout_ref.actor
        rows, n = len(batch), self.config.actor_rollout_ref.rollout.n
        if not self._fixed_optimizer_steps or self.use_critic:
            metrics["training/optimizer_steps"] = rows // (actor.ppo_mini_batch_size * n) * actor.ppo_epochs
            metrics["training/rows"] = rows
            return super()._update_actor(batch, metrics)
        mini_batches = self._mini_batches_per_epoch()
        configured = actor.ppo_mini_batch_size
        # verl reads the mini-batch size from the config inside _update_actor; size it for this
        # step's rows for the duration of the call only.
        with open_dict(actor):
            actor.ppo_mini_batch_size = rows // (mini_batches * n)
        try:
            batch = super()._update_actor(batch, metrics)
        finally:
            with open_dict(actor):
                actor.ppo_mini_batch_size = configured
        metrics["training/optimizer_steps"] = mini_batches * actor.ppo_epochs
        metrics["training/rows"] = rows
        return batch


def length_stats(prefix: str, lengths: list[int]) -> dict:
    """Mean, p50 and p90 of ``lengths`` under ``prefix`` (nothing when empty)."""
    if not lengths:
        return {}
    values = np.asarray(lengths, dtype=float)
    return {
        f"{prefix}/mean": float(values.mean()),
        f"{prefix}/p50": float(np.percentile(values, 50)),
        f"{prefix}/p90": float(np.percentile(values, 90)),
    }


@metric_collector
def checker_error_metrics(config, global_step: int, rows: list[RolloutRow]) -> dict:
    """``reward/checker_errors``: the step's rows whose answer could not be checked at all.

    Such a row scores 0 like a wrong answer but its 0 is not a verdict (``siri_verl/reward/
    score.py``); it arrives as ``reason`` in the reward's extra info. Counted per row: the
    segments of an InftyThink trajectory all carry its final row's reward, so each counts.
    """
    infos = [row.extra_fields.get("reward_extra_info") for row in rows]
    reasons = [info.get("reason") for info in infos if isinstance(info, dict)]
    if not reasons:
        return {}
    return {"reward/checker_errors": float(sum(reason == CHECKER_ERROR for reason in reasons))}


@metric_collector
def sampled_accuracy(config, global_step: int, rows: list[RolloutRow]) -> dict:
    """``reward/accuracy``: share of the step's sampled trajectories whose answer the checker found
    correct (``acc`` in the reward's extra info, ``siri_verl/reward/score.py``), whatever shaping
    the score adds (InftyThink T+E, a cap's 0). One per trajectory: its final row carries it."""
    infos = [row.extra_fields.get("reward_extra_info") for row in rows if row.is_final]
    verdicts = [bool(info["acc"]) for info in infos if isinstance(info, dict) and "acc" in info]
    return {"reward/accuracy": float(np.mean(verdicts))} if verdicts else {}
