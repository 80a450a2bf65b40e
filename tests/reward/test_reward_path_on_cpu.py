"""verl's own reward path, as the recipes configure it, on multi-segment InftyThink+ trajectories.

Only the LLM server is fake (it answers from a script). The trajectory comes from the real
``inftythink`` agent loop; it is scored by verl's ``AgentLoopWorker._compute_score`` (an
instance built without its Ray/LLM ``__init__``: the method and its helpers are verl's) which
calls verl's ``RewardLoopWorker.compute_score`` (built from a composed recipe, so the reward
manager and reward function are the ones the recipe selects, loaded by verl's
``load_reward_manager``). In-process, the Ray actor call ``handle.compute_score.remote(data)``
is a direct call.

Also: every shipped recipe scores with the reward paired with its agent loop
(:data:`REWARD_MODULE_OF_AGENT_LOOP` below: ``conf/agent_loop/<option>.yaml`` sets the reward
beside ``default_agent_loop``, and every recipe gets its reward by choosing its agent loop).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
from pathlib import Path

import pytest
from _verl_paths import InProcessActor, ScriptedServer
from omegaconf import OmegaConf
from transformers import AutoTokenizer
from verl.experimental.agent_loop.agent_loop import AgentLoopWorker, DictConfigWrap
from verl.experimental.reward_loop.reward_loop import RewardLoopWorker
from verl.trainer.ppo.reward import resolve_reward_manager_cls
from verl.utils.import_utils import load_extern_object

import siri_verl.plugin  # noqa: F401  (what every verl process imports: registers the reward manager)
from siri_verl.config import compose_recipe, conf_dir, recipe_names
from siri_verl.inftythink.inftythink_agent_loop import InftyThinkAgentLoop
from siri_verl.reward.manager import MANAGER_NAME, TrajectoryRewardManager

# An agent loop decides what its rows mean (one response; or a trajectory of segments whose final
# row carries the trajectory's fields), so the reward that reads them belongs to the loop. verl's
# ``actor_rollout_ref.rollout.agent.default_agent_loop`` -> the module whose ``compute_score``
# (verl's custom reward signature) scores its rows.
REWARD_MODULE_OF_AGENT_LOOP: dict[str, str] = {
    # SIRI: the answer check, 0 over the step's cap L(t), optional overlong punishment.
    "siri_length": "siri_verl.siri.siri_reward",
    # InftyThink+: the trajectory's task reward (T or T+E) from the final segment's conclusion.
    "inftythink": "siri_verl.inftythink.inftythink_reward",
    # verl's own single-turn loop: the plain answer check.
    "single_turn_agent": "siri_verl.reward",
}
REWARD_FUNCTION_NAME = "compute_score"
# Every loop's rows go through the manager that scores the final row as generated
# (siri_verl/reward/manager.py); for one-row loops it is verl's naive manager.
REWARD_MANAGER_NAME = MANAGER_NAME


def reward_path(agent_loop: str) -> str:
    """``reward.custom_reward_function.path`` for ``agent_loop``, in verl's ``pkg://`` form."""
    assert agent_loop in REWARD_MODULE_OF_AGENT_LOOP, f"no reward paired with agent loop {agent_loop!r} here"
    return f"pkg://{REWARD_MODULE_OF_AGENT_LOOP[agent_loop]}"

PAD_ID = 0  # what _compute_score pads every row with (torch pad_sequence padding_value=0)
RECIPE = "inftythink_rl_task"  # the paper's InftyThink+ row (reward T: a correct trajectory scores 1)
QUESTION = "What is 4+8?"

# Three segments whose prompts and responses all differ in length. In the first trajectory
# segment 2 has the longest response and the longest prompt (a long first summary), so the
# final row's prompt is shorter than verl's padded sequence minus its padded response width and
# verl's naive slice loses the end of the final response: its \boxed{12}. In the second the
# final prompt (a long second summary) is the longest, so the slice gains padding instead.
LOSES_ITS_END = [
    "4 5 6 7\n</think><summary>\nat 7 after adding 3 of the 8, so 5 more to add to reach the sum\n</summary>",
    "8 9 10 11 and one more step is left to take here\n</think><summary>\nat 11\n</summary>",
    "12\n</think>\n\nThe sum is \\boxed{12}",
]
GAINS_PADDING = [
    "4 5 6 7 8 9 10 11, counting on from 4 by ones, eight steps in all\n</think><summary>\nat 11\n</summary>",
    "11\n</think><summary>\nat 11 after adding 7 of the 8, so 1 more to add to reach the sum\n</summary>",
    "12\n</think>\n\nThe sum is \\boxed{12}",
]
# φ is reached (3 segments, none concluding) although the last summary shows a correct \boxed{}.
STOPPED_ON_MAX_SEGMENTS = [
    "4 5 6 7\n</think><summary>\nat 7\n</summary>",
    "8 9 10 11\n</think><summary>\nat 11\n</summary>",
    "12\n</think><summary>\nat 12, so the answer is \\boxed{12}\n</summary>",
]


@pytest.fixture(scope="module", params=["tiny", "r1_distill"])
def tokenizer_dir(request, tiny_model_path) -> str:
    """The tiny model's tokenizer, and one with R1-Distill-Qwen's contract (siri_verl/models/r1_distill.py)."""
    if request.param == "tiny":
        return str(tiny_model_path)
    r1_distill = pytest.importorskip("siri_verl.models.r1_distill")
    return str(r1_distill.ensure_r1_distill_tokenizer())


@pytest.fixture
def scored_texts(monkeypatch) -> list[str]:
    """Every ``solution_str`` the recipe's reward function receives (its result is unchanged)."""
    module = importlib.import_module(reward_path("inftythink").removeprefix("pkg://"))
    real = module.compute_score
    texts: list[str] = []

    def recording(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
        texts.append(solution_str)
        return real(data_source, solution_str, ground_truth, extra_info, **kwargs)

    monkeypatch.setattr(module, REWARD_FUNCTION_NAME, recording)
    return texts


def recipe_config(tokenizer_dir: str, *overrides: str):
    return compose_recipe(RECIPE, [f"actor_rollout_ref.model.path={tokenizer_dir}", *overrides])


def score_trajectory(config, tokenizer, replies: list[str]):
    """Run the inftythink loop on ``replies``, score it through verl; (segments, reward result)."""

    async def run():
        agent_loop = InftyThinkAgentLoop(
            trainer_config=DictConfigWrap(config),
            server_manager=ScriptedServer(tokenizer, replies),
            tokenizer=tokenizer,
            processor=None,
            dataset_cls=None,
            data_config=DictConfigWrap(config.data),
        )
        sample = {
            "data_source": "toy_addition",
            "reward_model": {"ground_truth": "12", "style": "rule"},
            "extra_info": {"split": "train", "index": 0},
            "raw_prompt": [{"role": "user", "content": QUESTION}],
        }
        outputs = await agent_loop.run({"temperature": 1.0}, **sample, global_steps=1)
        # Built inside the running event loop, as verl's Ray workers are.
        reward_worker = RewardLoopWorker(config)
        agent_worker = AgentLoopWorker.__new__(AgentLoopWorker)  # verl's methods, no Ray/LLM set-up
        agent_worker.processor = None
        agent_worker.mm_processor_kwargs = {}
        agent_worker.reward_loop_worker_handles = [InProcessActor(reward_worker)]
        await agent_worker._compute_score(outputs, kwargs=sample)
        assert isinstance(reward_worker.reward_manager, resolve_reward_manager_cls(config))
        return outputs, {"score": outputs[-1].reward_score, **outputs[-1].extra_fields["reward_extra_info"]}

    return asyncio.run(run())


def naive_slice_length(outputs) -> int:
    """How many response tokens ``attention_mask[-R:].sum()`` counts for the final row."""
    padded_sequence = max(len(o.prompt_ids) + len(o.response_ids) for o in outputs)
    padded_response = max(len(o.response_ids) for o in outputs)
    final = outputs[-1]
    ones_in_window = len(final.prompt_ids) + len(final.response_ids) - (padded_sequence - padded_response)
    return min(max(ones_in_window, 0), padded_response)


@pytest.mark.parametrize("replies", [LOSES_ITS_END, GAINS_PADDING], ids=["loses_its_end", "gains_padding"])
def test_the_recipe_scores_exactly_the_final_segment(tokenizer_dir, scored_texts, replies):
    config = recipe_config(tokenizer_dir)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    if replies is GAINS_PADDING and not tokenizer.decode([PAD_ID], skip_special_tokens=True):
        pytest.skip(f"token {PAD_ID} (verl's pad value) decodes to nothing here: extra padding would not show")
    outputs, result = score_trajectory(config, tokenizer, replies)

    # The trajectory is what the case says: 3 segments, unequal lengths, verl's slice off.
    assert len(outputs) == 3 and outputs[-1].extra_fields["inftythink_stop_reason"] == "conclusion"
    assert len({len(o.prompt_ids) for o in outputs}) == 3 and len({len(o.response_ids) for o in outputs}) == 3
    assert naive_slice_length(outputs) != len(outputs[-1].response_ids)

    assert scored_texts == [tokenizer.decode(outputs[-1].response_ids, skip_special_tokens=True)]
    assert result["score"] == 1.0 and result["acc"] is True


def test_verls_naive_manager_scores_a_correct_trajectory_0(tokenizer_dir, scored_texts):
    """The upstream bug this project's manager works around (siri_verl/reward/manager.py)."""
    config = recipe_config(tokenizer_dir, "reward.reward_manager.name=naive")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    outputs, result = score_trajectory(config, tokenizer, LOSES_ITS_END)

    final_response = outputs[-1].response_ids
    assert naive_slice_length(outputs) < len(final_response)
    assert scored_texts == [tokenizer.decode(final_response[: naive_slice_length(outputs)], skip_special_tokens=True)]
    assert "\\boxed{12}" not in scored_texts[0]
    assert result["score"] == 0.0


def test_a_trajectory_stopped_by_max_segments_is_not_counted_accurate(tokenizer_dir, scored_texts):
    """val-core reports ``acc``: it must be the trajectory's outcome, not the checker's verdict."""
    config = recipe_config(tokenizer_dir, "inftythink.max_segments=3")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    outputs, result = score_trajectory(config, tokenizer, STOPPED_ON_MAX_SEGMENTS)

    assert outputs[-1].extra_fields["inftythink_stop_reason"] == "max_segments"
    assert "\\boxed{12}" in scored_texts[0]
    assert result["answer_acc"] is True  # the checker accepts the boxed answer...
    assert result["acc"] is False and result["score"] == 0.0  # ...but the trajectory did not conclude


# Every shipped recipe: the reward its agent loop pairs with, through the trajectory manager.

RECIPES = recipe_names()


@functools.cache
def composed(recipe: str):
    return compose_recipe(recipe)


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_scores_with_the_reward_of_its_agent_loop(recipe):
    cfg = composed(recipe)
    agent_loop = cfg.actor_rollout_ref.rollout.agent.default_agent_loop
    function = cfg.reward.custom_reward_function
    assert (function.path, function.name) == (reward_path(agent_loop), REWARD_FUNCTION_NAME), (
        f"recipe={recipe}: reward.custom_reward_function is {function.path}:{function.name}, "
        f"but its agent loop {agent_loop!r} pairs with {reward_path(agent_loop)}:{REWARD_FUNCTION_NAME}"
    )
    assert callable(load_extern_object(function.path, function.name))


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_selects_the_trajectory_reward_manager(recipe):
    cfg = composed(recipe)
    assert cfg.reward.reward_manager.name == REWARD_MANAGER_NAME, f"recipe={recipe}: reward.reward_manager.name"
    assert resolve_reward_manager_cls(cfg) is TrajectoryRewardManager


@pytest.mark.parametrize("group_file", sorted(Path(conf_dir(), "agent_loop").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_agent_loop_option_carries_its_reward(group_file):
    """Also the options no recipe uses yet (single_turn)."""
    option = OmegaConf.load(group_file)
    agent_loop = option.actor_rollout_ref.rollout.agent.default_agent_loop
    assert option.reward.custom_reward_function.path == reward_path(agent_loop), group_file
    assert option.reward.reward_manager.name == REWARD_MANAGER_NAME, group_file
