"""siri_verl/checks.py: compose-time checks refuse an impossible config, naming the key; the
per-GPU token budgets against verl's own assertion; every problem of a GPU recipe reported on a
machine without GPUs, config problems first."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf
from tensordict import TensorDict
from verl.utils.seqlen_balancing import rearrange_micro_batches

from siri_verl.checks import TOKEN_BUDGETS, ConfigError, longest_row, run_checks, token_budgets_cover_the_longest_row
from siri_verl.config import compose_recipe, recipe_names


def one_row(tokens: int) -> TensorDict:
    """One padded row of ``tokens`` real tokens: shape (1, tokens), as verl's actor receives it."""
    ids = torch.zeros(1, tokens, dtype=torch.long)
    return TensorDict({"input_ids": ids, "attention_mask": torch.ones_like(ids)}, batch_size=[1])


def compose(recipe: str, overrides=()):
    """The recipe as shipped; a required cold-start model is named (its path is not read here)."""
    section = OmegaConf.select(compose_recipe(recipe), "inftythink")
    needs_model = section is not None and OmegaConf.is_missing(section, "coldstart_model")
    return compose_recipe(recipe, [*(["inftythink.coldstart_model=/nowhere"] if needs_model else []), *overrides])


def test_verl_aborts_a_row_longer_than_the_budget():
    """The failure the check prevents: longcot_rl's old 32768 budget and a 120-token prompt
    with a response at the 32768 cap, through verl's own micro-batch split."""
    with pytest.raises(AssertionError, match="max_token_len must be greater than the sequence length"):
        rearrange_micro_batches(one_row(120 + 32768), max_token_len=32768)


@pytest.mark.parametrize("recipe", recipe_names())
def test_every_recipes_longest_row_fits_every_budget_verl_uses(recipe):
    cfg = compose(recipe)
    tokens, _ = longest_row(cfg)
    token_budgets_cover_the_longest_row(cfg, {})
    for key, switch, _ in TOKEN_BUDGETS:
        if OmegaConf.select(cfg, switch):
            rearrange_micro_batches(one_row(tokens), max_token_len=int(OmegaConf.select(cfg, key)))  # verl accepts it


def test_longcot_rl_budget_covers_prompt_plus_its_32k_cap():
    cfg = compose("longcot_rl")
    assert longest_row(cfg)[0] == 2048 + 32768
    assert cfg.actor_rollout_ref.actor.ppo_max_token_len_per_gpu >= 2048 + 32768
    assert cfg.actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu >= 2048 + 32768


def test_a_short_budget_is_refused_naming_every_key_and_the_numbers():
    cfg = compose("longcot_rl", ["actor_rollout_ref.actor.ppo_max_token_len_per_gpu=32768"])
    with pytest.raises(ConfigError) as refused:
        token_budgets_cover_the_longest_row(cfg, {})
    message = str(refused.value)
    assert "34816 tokens (data.max_prompt_length 2048 + the largest cap 32768)" in message
    assert "actor_rollout_ref.actor.ppo_max_token_len_per_gpu = 32768" in message
    assert "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu = 32768" in message


def test_inftythink_longest_row_is_question_summary_and_segment():
    cfg = compose("siri_inftythink", ["actor_rollout_ref.actor.ppo_max_token_len_per_gpu=18000"])
    tokens, how = longest_row(cfg)
    assert tokens == 2048 + 16 + 8192 + 8192 and "eta 8192" in how
    with pytest.raises(ConfigError, match="18448 tokens"):
        token_budgets_cover_the_longest_row(cfg, {})
    # Ulysses sequence parallelism multiplies the budget, as verl does.
    token_budgets_cover_the_longest_row(
        compose("siri_inftythink", ["actor_rollout_ref.actor.ppo_max_token_len_per_gpu=9300",
                                    "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=9300",
                                    "actor_rollout_ref.actor.ulysses_sequence_parallel_size=2"]), {})  # fmt: skip


def test_the_reference_budget_counts_only_with_a_reference_model():
    overrides = ["actor_rollout_ref.ref.log_prob_max_token_len_per_gpu=1000"]
    token_budgets_cover_the_longest_row(compose("siri_low", overrides), {})  # no KL: no reference model
    with pytest.raises(ConfigError, match=r"actor_rollout_ref\.ref\.log_prob_max_token_len_per_gpu = 1000"):
        token_budgets_cover_the_longest_row(compose("siri_low", [*overrides, "actor_rollout_ref.actor.use_kl_loss=true"]), {})


def test_a_kl_term_on_the_cpu_backend_is_refused_naming_its_key():
    """verl pins the reference model's memory, which a machine without an accelerator cannot do:
    found when a toy-study tuning run with use_kl_loss=true died in the reference's init_model."""
    from siri_verl.checks import no_reference_model_on_cpu

    no_reference_model_on_cpu(compose("toy_constant"), {})  # no KL: no reference model
    with pytest.raises(ConfigError, match=r"actor_rollout_ref\.actor\.use_kl_loss=true needs a reference model"):
        no_reference_model_on_cpu(compose("toy_constant", ["actor_rollout_ref.actor.use_kl_loss=true"]), {})
    with pytest.raises(ConfigError, match=r"algorithm\.use_kl_in_reward=true"):
        no_reference_model_on_cpu(compose("toy_constant", ["algorithm.use_kl_in_reward=true"]), {})
    # A GPU recipe keeps its KL term (verl's default device is cuda).
    no_reference_model_on_cpu(compose("siri_low", ["actor_rollout_ref.actor.use_kl_loss=true"]), {})


def test_verl_cannot_pin_memory_without_an_accelerator():
    """The failure the check above prevents, in torch itself (what verl's CPUOffloadPolicy calls)."""
    if torch.cuda.is_available():
        pytest.skip("this machine has an accelerator")
    with pytest.raises(RuntimeError, match="accelerator"):
        torch.zeros(2).pin_memory()


def test_a_gpu_recipe_on_a_laptop_lists_every_config_problem_before_the_gpus(tmp_path):
    """``python -m siri_verl recipe=siri_low`` with no data and a short budget, on this GPU-less machine."""
    env = {**os.environ, "SIRI_VERL_DATA_DIR": str(tmp_path / "data")}
    env.pop("RAY_ADDRESS", None)
    result = subprocess.run(
        [sys.executable, "-m", "siri_verl", "recipe=siri_low", "actor_rollout_ref.actor.ppo_max_token_len_per_gpu=4096",
         "siri_verl.health.action=explode"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    error = result.stderr[result.stderr.index("configuration error") :]
    assert "4 problems with recipe=siri_low" in error, error
    budget, data, health, gpus = (error.index(s) for s in (
        "ppo_max_token_len_per_gpu = 4096", "missing data files", "siri_verl.health.action", "needs 8 CUDA GPU(s)"))  # fmt: skip
    assert gpus > max(budget, data, health), error


def choices_of(cfg) -> dict:
    return dict(cfg.hydra.runtime.choices)


def test_an_impossible_schedule_is_refused_naming_the_key():
    cfg = compose_recipe("tiny", ["schedule.l_min=100"])
    with pytest.raises(ConfigError, match=r"schedule\.l_min"):
        run_checks(cfg, choices_of(cfg))


def test_response_length_below_schedule_maximum_is_refused():
    cfg = compose_recipe("tiny", ["data.max_response_length=30"])
    with pytest.raises(ConfigError, match=r"data\.max_response_length"):
        run_checks(cfg, choices_of(cfg))
