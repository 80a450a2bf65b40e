"""Compose this project's config outside a Hydra app (previews, tables, tests).

``python -m siri_verl`` composes through ``@hydra.main``; tools that only need to *read* a
recipe use :func:`compose_recipe`, which composes exactly the same defaults list.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from siri_verl import assets

# Composing imports verl, whose platform detection warns "Falling back to 'nvidia'" on a CPU
# machine before the chosen backend is known; the launcher then selects the platform itself.
# (verl sets that logger's level when it is imported, so a filter, not a level, silences it.)
logging.getLogger("verl.plugin.platform.platform_manager").addFilter(lambda record: record.levelno >= logging.ERROR)
# verl announces every optional training engine it cannot import (megatron, veomni...) on each
# start; on this project's paths they are never used.
warnings.filterwarnings("ignore", message=r".* engine is not available", category=UserWarning)


def conf_dir() -> str:
    """The primary config directory: packaged as ``siri_verl/_conf`` in a wheel, ``conf/`` in a checkout."""
    packaged = Path(__file__).parent / "_conf"
    return str(packaged if (packaged / "config.yaml").exists() else Path(__file__).parents[1] / "conf")


def eval_conf_dir() -> str:
    """The primary config directory of ``python -m siri_verl.eval``."""
    return str(Path(conf_dir()) / "eval")


def recipe_names() -> list[str]:
    """Every shipped recipe (files starting with ``_`` are building blocks, not recipes)."""
    return sorted(p.stem for p in (Path(conf_dir()) / "recipe").glob("*.yaml") if not p.stem.startswith("_"))


def compose_recipe(name: str, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The composed config of ``recipe=name`` plus overrides, with ``hydra.runtime.choices``."""
    assets.register_resolver()
    with initialize_config_dir(config_dir=conf_dir(), version_base=None):
        return compose("config", overrides=[f"recipe={name}", *overrides], return_hydra_config=True)
