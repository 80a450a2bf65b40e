"""Checks a composed config must pass before any process starts.

Each check is a function ``(cfg, choices) -> None`` registered with ``@config_check`` that
raises ``ConfigError`` naming the offending key; ``choices`` are Hydra's group selections
(``backend``, ``recipe``...). ``python -m siri_verl`` runs all of them right after composing,
so an impossible config fails in seconds, not after Ray and the model have started.
"""

from __future__ import annotations

import importlib.util
from typing import Callable, Mapping

from omegaconf import DictConfig, OmegaConf


class ConfigError(ValueError):
    """A config that cannot run; the message names the key and what would fix it."""


ConfigCheck = Callable[[DictConfig, Mapping[str, str]], None]
_CHECKS: list[ConfigCheck] = []


def config_check(check: ConfigCheck) -> ConfigCheck:
    _CHECKS.append(check)
    return check


def run_checks(cfg: DictConfig, choices: Mapping[str, str]) -> None:
    for check in _CHECKS:
        check(cfg, choices)


@config_check
def gpu_backend_needs_gpus(cfg: DictConfig, choices: Mapping[str, str]) -> None:
    if choices.get("backend") != "gpu":
        return
    import torch

    recipe = choices.get("recipe", "?")
    gpus = OmegaConf.select(cfg, "trainer.n_gpus_per_node") * OmegaConf.select(cfg, "trainer.nnodes")
    missing = []
    if not torch.cuda.is_available():
        missing.append(f"{gpus} CUDA GPU(s) (trainer.nnodes x trainer.n_gpus_per_node); this machine has none")
    if importlib.util.find_spec("vllm") is None:
        missing.append("the vLLM rollout: pip install 'siri-verl[gpu]'")
    if missing:
        raise ConfigError(
            f"recipe={recipe} runs on backend=gpu and needs " + " and ".join(missing) + ".\n"
            "To try the whole pipeline on this machine instead: python -m siri_verl recipe=tiny"
        )


@config_check
def response_length_covers_schedule(cfg: DictConfig, choices: Mapping[str, str]) -> None:
    """verl truncates at data.max_response_length, so it must be at least the schedule's maximum."""
    if OmegaConf.select(cfg, "schedule") is None:
        return
    from siri_verl.siri.schedule import build_schedule


    schedule = build_schedule(OmegaConf.to_container(cfg.schedule, resolve=True))
    response_length = OmegaConf.select(cfg, "data.max_response_length")
    if response_length < schedule.max_length():
        raise ConfigError(
            f"data.max_response_length ({response_length}) is below the schedule's maximum "
            f"({schedule.max_length()}); set data.max_response_length >= schedule.l_max"
        )


@config_check
def inftythink_settings_are_possible(cfg: DictConfig, choices: Mapping[str, str]) -> None:
    if OmegaConf.select(cfg, "actor_rollout_ref.rollout.agent.default_agent_loop") != "inftythink":
        return
    from siri_verl.inftythink.agent_loop import InftyThinkSettings

    settings = InftyThinkSettings.from_section(OmegaConf.select(cfg, "inftythink"))
    settings.validate(response_length=int(OmegaConf.select(cfg, "data.max_response_length")))


def require_int(name: str, value, *, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` (bools refused); errors name the setting ``name``."""
    import operator

    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    value = operator.index(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value
