"""SIRI phase-end checkpoints: saved where verl saves, kept as immutable copies.

Two layers, both on real files laid out like verl's ``global_step_N`` directories and written the
way verl's FSDP checkpoint manager writes them (``torch.save`` onto the same path: in place):

- :func:`keep_checkpoint` alone: a kept copy never changes when verl rewrites its source, and
  keeping a step again is a no-op (same content) or a new copy (different content), never a crash;
- verl's own ``fit`` loop (``PPOTrainer.fit``, unmodified) on a real ``SiriVerlTrainer`` whose
  rollout, training and worker groups are FAKES (recorded calls, files written by ``torch.save``):
  a phase-end step is saved before the weight sync, once, and a second run into the same
  directory (a rerun or ``resume_mode=disable``) leaves the first run's kept copies untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf, open_dict

from siri_verl.checks import ConfigError, run_checks
from siri_verl.config import compose_recipe
from siri_verl.siri.phase_checkpoints import KEPT_MANIFEST, PHASE_END_DIR, keep_checkpoint


def write_verl_checkpoint(step_dir: Path, weight: float) -> None:
    """The files of one FSDP ``global_step_N`` (world size 1), written in place like verl writes them."""
    actor = step_dir / "actor"
    (actor / "huggingface").mkdir(parents=True, exist_ok=True)
    torch.save({"w": torch.full((4,), weight)}, actor / "model_world_size_1_rank_0.pt")
    torch.save({"exp_avg": torch.full((4,), weight / 2)}, actor / "optim_world_size_1_rank_0.pt")
    torch.save({"lr_scheduler": {"step": int(weight)}}, actor / "extra_state_world_size_1_rank_0.pt")
    (actor / "huggingface" / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    torch.save({"epoch": 0}, step_dir / "data.pt")


def tree_hash(root: Path) -> str:
    """sha256 over every file's relative path and bytes (the kept manifest excluded)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != KEPT_MANIFEST):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_a_kept_checkpoint_survives_verl_rewriting_its_source_in_place(tmp_path):
    source, kept_root = tmp_path / "global_step_15", tmp_path / PHASE_END_DIR
    write_verl_checkpoint(source, weight=1.0)
    model_inode = (source / "actor" / "model_world_size_1_rank_0.pt").stat().st_ino
    first = Path(keep_checkpoint(str(source), str(kept_root)))
    first_hash = tree_hash(first)
    assert first == kept_root / "global_step_15" and first_hash == tree_hash(source)

    write_verl_checkpoint(source, weight=2.0)  # e.g. a resume from global_step_12 reaching step 15 again
    assert (source / "actor" / "model_world_size_1_rank_0.pt").stat().st_ino == model_inode  # in place, as verl does
    second = Path(keep_checkpoint(str(source), str(kept_root)))

    assert tree_hash(first) == first_hash  # the first candidate is unchanged
    assert second == kept_root / "global_step_15.2" and tree_hash(second) == tree_hash(source)
    assert torch.load(first / "actor" / "model_world_size_1_rank_0.pt")["w"][0] == 1.0
    manifest = json.loads((first / KEPT_MANIFEST).read_text())
    assert set(manifest["files"]) == {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()}


def test_keeping_the_same_content_again_is_a_no_op(tmp_path):
    source, kept_root = tmp_path / "global_step_6", tmp_path / PHASE_END_DIR
    write_verl_checkpoint(source, weight=3.0)
    first = keep_checkpoint(str(source), str(kept_root))
    assert keep_checkpoint(str(source), str(kept_root)) == first
    assert sorted(os.listdir(kept_root)) == ["global_step_6"]


def test_kept_files_are_read_only_and_an_interrupted_copy_is_never_taken_for_a_kept_one(tmp_path):
    source, kept_root = tmp_path / "global_step_9", tmp_path / PHASE_END_DIR
    write_verl_checkpoint(source, weight=4.0)
    (kept_root / ".global_step_9.incomplete" / "actor").mkdir(parents=True)  # a copy killed half-way
    kept = Path(keep_checkpoint(str(source), str(kept_root)))
    assert sorted(os.listdir(kept_root)) == ["global_step_9"]
    for path in kept.rglob("*"):
        if path.is_file():
            assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), path


def test_a_kept_copy_from_an_older_version_without_manifest_is_never_reused(tmp_path):
    # The previous implementation hard-linked without a manifest: its content cannot be trusted.
    source, kept_root = tmp_path / "global_step_3", tmp_path / PHASE_END_DIR
    write_verl_checkpoint(source, weight=5.0)
    write_verl_checkpoint(kept_root / "global_step_3", weight=5.0)
    assert keep_checkpoint(str(source), str(kept_root)) == str(kept_root / "global_step_3.2")


def test_async_saves_are_refused_at_compose_time_when_phase_ends_are_kept():
    cfg = compose_recipe(
        "tiny", ["siri_verl.keep_phase_end_checkpoints=true", "actor_rollout_ref.actor.checkpoint.async_save=true"]
    )
    with pytest.raises(ConfigError, match=r"actor_rollout_ref\.actor\.checkpoint\.async_save"):
        run_checks(cfg, dict(cfg.hydra.runtime.choices))


# -- verl's fit loop --------------------------------------------------------------------------

TOTAL_STEPS = 12  # tiny's cosine schedule: troughs (SIRI-low) 3, 9; peaks (SIRI-high) 6, 12


class FakeWorkers:
    """The actor worker group: ``save_checkpoint`` writes verl's files, in place, and is recorded."""

    def __init__(self, events: list, weight: float):
        self.events, self.weight = events, weight

    def save_checkpoint(self, local_path, remote_path, global_step, max_ckpt_to_keep=None):
        self.events.append(("save", global_step))
        write_verl_checkpoint(Path(local_path).parent, self.weight + global_step)


class FakeCheckpointManager:
    """verl's rollout checkpoint manager: the weight sync that wakes the replicas, recorded."""

    def __init__(self, events: list):
        self.events = events

    def update_weights(self, global_steps=None):
        self.events.append(("update_weights", global_steps))

    def sleep_replicas(self):
        pass


def run_verl_fit(tmp_path: Path, monkeypatch, weight: float, save_freq: int) -> tuple[list, object]:
    """verl's real ``fit`` on a real ``SiriVerlTrainer`` with fake rollout/training/workers."""
    import verl.trainer.ppo.v1.trainer_base as trainer_base

    from siri_verl.trainer import SiriVerlTrainer

    cfg = compose_recipe(
        "tiny",
        [
            f"trainer.default_local_dir={tmp_path / 'checkpoints'}",
            "siri_verl.keep_phase_end_checkpoints=true",
            f"trainer.save_freq={save_freq}",
            f"trainer.total_training_steps={TOTAL_STEPS}",
            "trainer.logger=[console]",
            "trainer.test_freq=-1",
            "trainer.val_before_train=false",
        ],
    )
    with open_dict(cfg):
        del cfg["hydra"]
    OmegaConf.resolve(cfg)

    events: list = []
    trainer = SiriVerlTrainer(cfg)
    trainer.global_steps, trainer.total_training_steps, trainer.steps_per_epoch = 0, TOTAL_STEPS, TOTAL_STEPS
    trainer.actor_rollout_wg = FakeWorkers(events, weight)
    trainer.checkpoint_manager = FakeCheckpointManager(events)
    trainer.train_dataloader = SimpleNamespace(state_dict=lambda: {"epoch": 0})
    trainer._init_dump_executor()

    def step(metrics, timing_raw):
        events.append(("train", trainer.global_steps))
        return SimpleNamespace(keys=[], partition_id="train")

    trainer.step = step
    trainer._compute_metrics = lambda *args, **kwargs: None
    monkeypatch.setattr(trainer_base.tq, "kv_clear", lambda **kwargs: None)
    trainer.fit(agent_loop_manager=None)
    return events, trainer


@pytest.mark.timeout(300)
def test_verl_fit_saves_each_phase_end_before_the_weight_sync_and_a_rerun_keeps_both(tmp_path, monkeypatch):
    events, trainer = run_verl_fit(tmp_path, monkeypatch, weight=100.0, save_freq=6)

    saves = [step for kind, step in events if kind == "save"]
    assert saves == [3, 6, 9, 12]  # verl's own save_freq covers 6 and 12: not saved twice
    for step in saves:
        assert events.index(("save", step)) < events.index(("update_weights", step)), events
    kept_root = tmp_path / "checkpoints" / PHASE_END_DIR
    assert trainer.siri_phase_end_checkpoints == {
        "low": [str(kept_root / "global_step_3"), str(kept_root / "global_step_9")],
        "high": [str(kept_root / "global_step_6"), str(kept_root / "global_step_12")],
    }
    first_run = {step: tree_hash(kept_root / f"global_step_{step}") for step in saves}

    # The same directory again from step 0 (resume_mode=disable, or a rerun), different weights.
    run_verl_fit(tmp_path, monkeypatch, weight=200.0, save_freq=-1)
    assert {step: tree_hash(kept_root / f"global_step_{step}") for step in saves} == first_run
    for step in saves:
        second = kept_root / f"global_step_{step}.2"
        assert tree_hash(second) == tree_hash(tmp_path / "checkpoints" / f"global_step_{step}") != first_run[step]
