"""The ``inftythink`` config section, read and validated once (no verl: the compose-time checks use it too).

Each field is documented in conf/agent_loop/inftythink.yaml. The agent loop
(``siri_verl/inftythink/inftythink_agent_loop.py``) reads it from the trainer config; the compose-time
check ``siri_verl/checks.py:inftythink_settings_are_possible`` from the composed one, so a bad
value fails before any process starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import OmegaConf

from siri_verl.errors import ConfigError
from siri_verl.inftythink.shaping import REWARD_VARIANTS
from siri_verl.siri.schedule import Schedule

AGENT_NAME = "inftythink"
# What siri_inftythink's schedule moves: nothing, η (segment_cap) or φ (max_segments).
SCHEDULE_TARGETS = ("none", "segment_cap", "max_segments")


@dataclass(frozen=True)
class InftyThinkSettings:
    """The ``inftythink`` config section, validated; each field is documented in its YAML."""

    max_segments: int
    segment_cap: int
    reward_variant: str
    schedule_target: str

    @classmethod
    def from_config(cls, config) -> "InftyThinkSettings":
        """From the trainer config, validated against its ``actor_rollout_ref.rollout.response_length``."""
        section = OmegaConf.select(config, "inftythink")
        if section is None:
            raise ConfigError("the inftythink agent loop needs an `inftythink` config section (agent_loop=inftythink)")
        settings = cls.from_section(section)
        settings.validate(response_length=int(config.actor_rollout_ref.rollout.response_length))
        return settings

    @classmethod
    def from_section(cls, section) -> "InftyThinkSettings":
        return cls(
            max_segments=int(section.max_segments),
            segment_cap=int(section.segment_cap),
            reward_variant=str(section.reward_variant),
            schedule_target=str(section.get("schedule_target", "none") or "none"),
        )

    @property
    def scheduled(self) -> bool:
        """Whether a SIRI schedule moves η or φ (siri_inftythink)."""
        return self.schedule_target != "none"

    def validate(self, response_length: int) -> None:
        if self.max_segments < 1:
            raise ConfigError(f"inftythink.max_segments must be >= 1, got {self.max_segments}")
        if not 1 <= self.segment_cap <= response_length:
            raise ConfigError(
                f"inftythink.segment_cap ({self.segment_cap}) must be in [1, data.max_response_length={response_length}]"
            )
        if self.reward_variant not in REWARD_VARIANTS:
            raise ConfigError(f"inftythink.reward_variant must be one of {sorted(REWARD_VARIANTS)}, got {self.reward_variant!r}")
        if self.schedule_target not in SCHEDULE_TARGETS:
            raise ConfigError(f"inftythink.schedule_target must be one of {SCHEDULE_TARGETS}, got {self.schedule_target!r}")

    def at_step(self, schedule: Schedule | None, global_step: int) -> tuple[int, int]:
        """(φ, η) for this training step; ``schedule`` (needed when :attr:`scheduled`) moves one of them."""
        if not self.scheduled:
            return self.max_segments, self.segment_cap
        if schedule is None:
            raise ValueError(f"inftythink.schedule_target={self.schedule_target} needs the run's schedule")
        value = schedule.length(max(int(global_step), 0))
        if self.schedule_target == "segment_cap":
            return self.max_segments, value
        return value, self.segment_cap
