"""SIRI's phase-end checkpoints: the SIRI-low and SIRI-high candidates, kept apart from verl's retention.

Checkpoints (``siri_verl.keep_phase_end_checkpoints``): the last step of every compression
(trough: SIRI-low candidates) and expansion (peak: SIRI-high candidates) is saved by verl's own
``_save_checkpoint`` where verl saves (before the weight sync; ``siri_verl/trainer.py``), whatever
``trainer.save_freq`` says, and copied into ``<default_local_dir>/siri_phase_ends/`` where verl's
retention (``max_actor_ckpt_to_keep``) never deletes it (:func:`keep_checkpoint`). The MLflow run
lists them in the tags ``siri/low_checkpoints`` and ``siri/high_checkpoints``.

Keeping is archiving (:func:`keep_checkpoint`): a hashed, read-only, versioned copy that no later
save can change.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from functools import lru_cache

from omegaconf import OmegaConf

from siri_verl.checks import ConfigError, config_check
from siri_verl.project_settings import SiriVerlSettings
from siri_verl.siri.schedule import PhaseEnds, Schedule, schedule_of
from siri_verl.trainer import checkpoint_saved_hook, checkpoint_wanted

PHASE_END_DIR = "siri_phase_ends"
KEPT_MANIFEST = "siri_kept_checkpoint.json"
ASYNC_SAVE_KEY = "actor_rollout_ref.actor.checkpoint.async_save"


@lru_cache(maxsize=4)
def _phase_ends(schedule: Schedule, total_steps: int) -> PhaseEnds:
    return schedule.phase_ends(total_steps)


def keep_checkpoint(source: str, kept_root: str) -> str:
    """Copy the checkpoint directory ``source`` into ``kept_root``; returns the kept copy's path.

    A copy, not hard links: verl writes a ``global_step_N``'s files in place (``torch.save``
    truncates the file it opens) whenever that step is saved again (a resume from an earlier
    checkpoint, a rerun into the same directory, ``trainer.resume_mode=disable``), and would
    write through a link into the kept candidate. Once kept, a copy never changes: it is made under
    a temporary name and renamed into place when complete, its files are read-only, and its
    ``KEPT_MANIFEST`` records the sha256 of every file. Keeping a step again is a no-op when the
    content is the same as a kept copy's, and otherwise a new copy beside it, ``global_step_N.2``,
    ``global_step_N.3``...
    """
    name = os.path.basename(os.path.normpath(source))
    os.makedirs(kept_root, exist_ok=True)
    versions = _kept_versions(kept_root, name)
    if versions:
        digest = _tree_digest(_hash_tree(source))
        for kept in versions:
            if _manifest_digest(kept) == digest:
                return kept
    staging = os.path.join(kept_root, f".{name}.incomplete")
    shutil.rmtree(staging, ignore_errors=True)  # left by a copy that was interrupted
    files: dict[str, str] = {}
    shutil.copytree(source, staging, copy_function=_copy_and_hash(staging, files))
    record = {"source": os.path.abspath(source), "sha256": _tree_digest(files), "files": files}
    with open(os.path.join(staging, KEPT_MANIFEST), "w") as manifest:
        json.dump(record, manifest, indent=1)
    _make_read_only(staging)
    kept = os.path.join(kept_root, f"{name}.{_next_version(versions, name)}" if versions else name)
    os.rename(staging, kept)
    return kept


def _copy_and_hash(root: str, files: dict[str, str]):
    """A ``copytree`` copy function that records each file's sha256 (read once) in ``files``."""

    def copy(src: str, dst: str) -> str:
        digest = hashlib.sha256()
        with open(src, "rb") as reader, open(dst, "wb") as writer:
            while chunk := reader.read(1 << 24):
                digest.update(chunk)
                writer.write(chunk)
        shutil.copystat(src, dst)
        files[os.path.relpath(dst, root)] = digest.hexdigest()
        return dst

    return copy


def _hash_tree(root: str) -> dict[str, str]:
    """``{path relative to root: sha256}`` of every file under ``root``, as ``_copy_and_hash`` records it."""
    files = {}
    for directory, _, names in os.walk(root, followlinks=True):
        for file_name in names:
            path = os.path.join(directory, file_name)
            digest = hashlib.sha256()
            with open(path, "rb") as reader:
                while chunk := reader.read(1 << 24):
                    digest.update(chunk)
            files[os.path.relpath(path, root)] = digest.hexdigest()
    return files


def _tree_digest(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()


def _manifest_digest(kept: str) -> str | None:
    """The digest a kept copy was made with (None for one without a manifest: never the same)."""
    try:
        with open(os.path.join(kept, KEPT_MANIFEST)) as manifest:
            return json.load(manifest)["sha256"]
    except (OSError, ValueError, KeyError):
        return None


def _kept_versions(kept_root: str, name: str) -> list[str]:
    pattern = re.compile(rf"{re.escape(name)}(\.\d+)?")
    return sorted(os.path.join(kept_root, n) for n in os.listdir(kept_root) if pattern.fullmatch(n))


def _next_version(versions: list[str], name: str) -> int:
    numbers = [int(v.rsplit(".", 1)[1]) for v in map(os.path.basename, versions) if v != name]
    return max(numbers, default=1) + 1


def _make_read_only(root: str) -> None:
    writable = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for directory, _, names in os.walk(root):
        for file_name in names:
            path = os.path.join(directory, file_name)
            os.chmod(path, os.stat(path).st_mode & ~writable)


def _keeping(config) -> bool:
    return OmegaConf.select(config, "schedule") is not None and SiriVerlSettings.of(config).keep_phase_end_checkpoints


def phase_end_kind(trainer, step: int) -> str | None:
    """``"low"`` (trough), ``"high"`` (peak) or None: is ``step`` a phase end to keep?"""
    if not _keeping(trainer.config):
        return None
    ends = _phase_ends(schedule_of(trainer.config), trainer.total_training_steps)
    return "low" if step in ends.troughs else "high" if step in ends.peaks else None


@checkpoint_wanted
def phase_ends_are_saved(trainer) -> bool:
    return phase_end_kind(trainer, trainer.global_steps) is not None


@checkpoint_saved_hook
def keep_phase_end_checkpoint(trainer, global_step: int, checkpoint_dir: str, async_save: bool) -> None:
    kind = phase_end_kind(trainer, global_step)
    if kind is None:
        return
    if async_save:  # refused at compose time too (below); a config built elsewhere lands here
        raise RuntimeError(f"cannot keep {checkpoint_dir}: {ASYNC_SAVE_KEY}=true, its files may still be being written")
    kept = keep_checkpoint(checkpoint_dir, os.path.join(trainer.config.trainer.default_local_dir, PHASE_END_DIR))
    if "siri_phase_end_checkpoints" not in trainer.__dict__:
        trainer.siri_phase_end_checkpoints = _tagged_phase_ends()
    record = trainer.siri_phase_end_checkpoints
    if kept not in record[kind]:
        record[kind].append(kept)
    _tag_mlflow_run(f"siri/{kind}_checkpoints", ",".join(record[kind]))


@config_check
def kept_checkpoints_need_synchronous_saves(cfg, choices) -> None:
    """A phase-end checkpoint is copied once verl has written it; Megatron's async save has not."""
    if _keeping(cfg) and OmegaConf.select(cfg, ASYNC_SAVE_KEY, default=False):
        raise ConfigError(
            f"siri_verl.keep_phase_end_checkpoints=true needs {ASYNC_SAVE_KEY}=false: an asynchronous "
            "save is still being written when verl reports it, so it cannot be kept then"
        )


def _tagged_phase_ends() -> dict[str, list[str]]:
    """The kept checkpoints the MLflow run already lists: a resumed job continues its run
    (``siri_verl.tracking.runs``), and its tags must keep the phase ends from before the resume."""
    import mlflow

    run = mlflow.active_run()
    tags = mlflow.get_run(run.info.run_id).data.tags if run is not None else {}
    return {kind: [p for p in tags.get(f"siri/{kind}_checkpoints", "").split(",") if p] for kind in ("low", "high")}


def _tag_mlflow_run(key: str, value: str) -> None:
    import mlflow

    if mlflow.active_run() is not None:
        mlflow.set_tag(key, value)
