"""The long-context memory settings of verl 0.9.1 are on in every GPU recipe, under keys verl's
config schema has, and reach the engine config verl's FSDP engine reads (docs/memory.md)."""

from __future__ import annotations

import dataclasses

import pytest
from omegaconf import OmegaConf
from verl.workers.config import FSDPActorConfig, FSDPEngineConfig, HFModelConfig

from siri_verl.config import compose_recipe, recipe_names

# key -> the verl dataclass that must have its last part as a field
MEMORY_KEYS = {
    "actor_rollout_ref.model.use_fused_kernels": HFModelConfig,
    "actor_rollout_ref.actor.entropy_from_logits_with_chunking": FSDPActorConfig,
    "actor_rollout_ref.actor.entropy_checkpointing": FSDPActorConfig,
    # what verl's FSDP engine reads (verl/workers/engine/fsdp/transformer_impl.py), by interpolation
    "actor_rollout_ref.actor.fsdp_config.entropy_from_logits_with_chunking": FSDPEngineConfig,
    "actor_rollout_ref.actor.fsdp_config.entropy_checkpointing": FSDPEngineConfig,
}


def gpu_recipes() -> list[str]:
    return [name for name in recipe_names() if compose_recipe(name).hydra.runtime.choices["backend"] == "gpu"]


GPU_RECIPES = gpu_recipes()


def test_the_keys_exist_in_verls_config_schema():
    for key, schema in MEMORY_KEYS.items():
        assert key.rsplit(".", 1)[1] in {field.name for field in dataclasses.fields(schema)}, (key, schema)


def test_the_gpu_recipes_are_the_paper_rows():
    assert {"siri_low", "siri_high", "longcot_rl", "inftythink_rl_task", "siri_inftythink"} <= set(GPU_RECIPES)


@pytest.mark.parametrize("recipe", GPU_RECIPES)
def test_every_gpu_recipe_turns_the_memory_settings_on(recipe):
    cfg = compose_recipe(recipe, ["inftythink.coldstart_model=/nowhere"] if "inftythink" in recipe else [])
    for key in MEMORY_KEYS:
        assert OmegaConf.select(cfg, key) is True, f"recipe={recipe}: {key} is {OmegaConf.select(cfg, key)!r}"
