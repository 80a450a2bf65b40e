"""The ``siri_verl`` config section, read and validated once (no verl: the compose-time checks use it too).

``conf/config.yaml`` holds this project's settings that verl does not know under ``siri_verl:``
(the groups add to it: ``conf/backend/cpu.yaml``, ``conf/agent_loop/inftythink.yaml``,
``conf/rl/siri_paper.yaml``, ``conf/tracking/mlflow.yaml``; ``conf/sft/sft.yaml`` has only
``mlflow``). Every module that reads a setting reads it here, through
:meth:`SiriVerlSettings.of`, the way ``siri_verl/siri/schedule.py`` reads ``schedule:`` and
``siri_verl/inftythink/settings.py`` reads ``inftythink:``. A bad value raises
:class:`~siri_verl.errors.ConfigError` naming its key; the compose-time check
``siri_verl/checks.py:siri_verl_settings_are_valid`` reads the section once right after composing,
so the error comes before any process starts.

A key that is absent (a config built by hand, the SFT config) takes the default given here,
which is what the code did without it; ``conf/config.yaml`` may ship another value (noted per
field). ``data_dir`` and ``seed`` are read by the recipes' interpolations only
(``${siri_verl.data_dir}``, ``${siri_verl.seed}``), never by Python, so they are not fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from siri_verl.errors import ConfigError, require_bool, require_choice, require_int, require_number

SECTION = "siri_verl"

CHAT_PROTOCOL_KEY = f"{SECTION}.chat_protocol"
CHAT_PROTOCOLS = ("auto", "deepseek", "qwen", "default")
"""``siri_verl.chat_protocol``'s values: auto, or a builder of ``siri_verl/chat_protocol.py:BUILDER_MODEL_TYPE``."""

HEALTH_KEY = f"{SECTION}.health"
HEALTH_ACTIONS = ("off", "warn", "stop")

VERL_PRINTS_KEY = f"{SECTION}.console.verl_prints"

DEFAULT_UNCAPPED_SPLITS = ("val", "test")


def _absent(section: Any, key: str) -> bool:
    """Whether ``key`` is missing from ``section`` (a key set to null is present)."""
    return section is None or key not in section


def _sub(section: Any, key: str) -> Any:
    """``section[key]``, or None where the section or the key is missing (None and unset alike)."""
    if section is None:
        return None
    if isinstance(section, DictConfig):
        return OmegaConf.select(section, key, default=None)
    return section.get(key)


@dataclass(frozen=True)
class ConsoleSettings:
    """``siri_verl.console``: what the console shows while training (``siri_verl/console.py``)."""

    every_steps: int = 1
    """One compact line every this many steps (and at the last); 0: none. Null reads as 0."""
    verl_prints: str | None = None
    """The file verl's TaskRunner prints go to, relative to the job's output directory (the launcher
    replaces it with the absolute path); None keeps them on the console. conf/config.yaml: verl_prints.log."""

    @classmethod
    def of(cls, section: Any) -> ConsoleSettings:
        every = 1 if _absent(section, "every_steps") else _sub(section, "every_steps") or 0
        prints = _sub(section, "verl_prints")
        return cls(
            every_steps=require_int(f"{SECTION}.console.every_steps", every, minimum=0, error=ConfigError),
            verl_prints=None if prints is None else str(prints),
        )


@dataclass(frozen=True)
class HealthSettings:
    """``siri_verl.health``: the check on the schedule's health metrics (``siri_verl/health.py``)."""

    action: str = "warn"
    """What a long all-truncated streak does: ``warn``, ``stop`` (the run ends, exit status 3) or ``off``."""
    all_truncated_fraction: float = 0.5
    """A step counts towards the streak when at least this share of its GRPO groups had every response truncated."""
    patience: int = 3
    """Steps in a row that make a streak (and the interval of repeated warnings)."""

    @classmethod
    def of(cls, section: Any) -> HealthSettings:
        given = {
            key: value
            for key in ("action", "all_truncated_fraction", "patience")
            if (value := _sub(section, key)) is not None
        }
        settings = cls(**given)
        require_choice(f"{HEALTH_KEY}.action", settings.action, HEALTH_ACTIONS)
        require_number(
            f"{HEALTH_KEY}.all_truncated_fraction", settings.all_truncated_fraction, minimum=0.0, maximum=1.0
        )
        require_int(f"{HEALTH_KEY}.patience", settings.patience, minimum=1, error=ConfigError)
        return settings


@dataclass(frozen=True)
class MlflowSettings:
    """``siri_verl.mlflow``: the MLflow store (``siri_verl/tracking/runs.py``)."""

    tracking_uri: str | None = None
    """The store's URI; ``MLFLOW_TRACKING_URI`` wins over it, and None means ``sqlite:///mlflow.db``
    (a relative sqlite path is taken against the directory the job started in)."""

    @classmethod
    def of(cls, section: Any) -> MlflowSettings:
        uri = _sub(section, "tracking_uri")
        return cls(tracking_uri=None if uri is None else str(uri))


@dataclass(frozen=True)
class SiriVerlSettings:
    """The ``siri_verl`` section, validated; each field says where it acts (module docstring)."""

    shutdown_ray: bool = True
    """Shut Ray down after each job, so that a ``-m`` sweep can start the next one (``siri_verl/launch.py``)."""
    summary: bool = True
    """Print the summary table at the end of the job (``siri_verl/launch.py``)."""
    uncapped_splits: tuple[str, ...] = DEFAULT_UNCAPPED_SPLITS
    """Rows whose ``extra_info.split`` is one of these get the full response budget, not L(t)
    (``siri_verl/siri/siri_length_agent_loop.py``). Null or empty reads as the default."""
    keep_phase_end_checkpoints: bool = False
    """Keep the checkpoint at every compression and expansion end of the schedule
    (``siri_verl/siri/phase_checkpoints.py``). conf/rl/siri_paper.yaml: true."""
    replay_poll_interval_s: float | None = None
    """Seconds between verl's replay-buffer polls; None keeps verl's 2 s (``siri_verl/trainer.py``).
    conf/backend/cpu.yaml: 0.1."""
    trajectory_viewer_samples: int = 0
    """Sample trajectories per validation pass on the viewer page; 0 (or null) turns it off
    (``siri_verl/trainer.py``, ``siri_verl/tracking/viewer.py``). conf/config.yaml: 4."""
    fixed_optimizer_steps: bool = False
    """Keep optimiser steps per training step fixed when a sample gives several rows
    (``siri_verl/trainer.py``). conf/agent_loop/inftythink.yaml: true."""
    chat_protocol: str = "auto"
    """The Continuous Token builder the agent loops get: one of :data:`CHAT_PROTOCOLS`
    (``siri_verl/chat_protocol.py``)."""
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)

    @classmethod
    def of(cls, config: Any) -> SiriVerlSettings:
        """The settings of a whole config (composed, trainer's or SFT's); a bad value raises
        ConfigError naming its key. Only the keys read are resolved."""
        section = _sub(config, SECTION)

        def flag(key: str, default: bool) -> bool:
            value = _sub(section, key)
            return default if value is None else require_bool(f"{SECTION}.{key}", value)

        splits = _sub(section, "uncapped_splits")
        if splits is not None and (isinstance(splits, str) or not all(isinstance(s, str) for s in splits)):
            raise ConfigError(f"{SECTION}.uncapped_splits must be a list of split names, got {splits!r}")
        interval = _sub(section, "replay_poll_interval_s")
        samples = _sub(section, "trajectory_viewer_samples")
        return cls(
            shutdown_ray=flag("shutdown_ray", True),
            summary=flag("summary", True),
            uncapped_splits=tuple(splits) if splits else DEFAULT_UNCAPPED_SPLITS,
            keep_phase_end_checkpoints=flag("keep_phase_end_checkpoints", False),
            replay_poll_interval_s=None if interval is None
            else require_number(f"{SECTION}.replay_poll_interval_s", interval, minimum=0.0),
            trajectory_viewer_samples=require_int(f"{SECTION}.trajectory_viewer_samples", samples or 0, minimum=0, error=ConfigError),
            fixed_optimizer_steps=flag("fixed_optimizer_steps", False),
            chat_protocol=require_choice(CHAT_PROTOCOL_KEY, str(_sub(section, "chat_protocol") or "auto"), CHAT_PROTOCOLS),
            console=ConsoleSettings.of(_sub(section, "console")),
            health=HealthSettings.of(_sub(section, "health")),
            mlflow=MlflowSettings.of(_sub(section, "mlflow")),
        )  # fmt: skip
