"""The paper recipes start on DeepSeek-R1-Distill-Qwen, as far as a machine without a GPU can show.

``siri_low``, ``longcot_rl`` and ``inftythink_rl_task`` are composed as shipped (backend=gpu),
with only what cannot exist here replaced: the model, by the R1-Distill-Qwen tokenizer fixture
(``siri_verl/models/r1_distill.py``; its config.json says ``qwen2``, as the real checkpoint's
does), and the data, by one row per data set written with ``prepare``'s own row builder into
``siri_verl.data_dir``. Then the start, in the order ``python -m siri_verl`` and verl run it:

(a) every compose-time check (``siri_verl.checks``) passes, except the GPU pre-flight, which
    refuses this machine with its message;
(b) ``launch.run``'s steps up to ``run_ppo`` (backend environment, platform, resolve,
    ``auto_set_device``), then verl's ``validate_config``; the trainer mode resolves to ours;
(c) verl's V1 rollout worker (``AgentLoopWorkerTQ``, what TaskRunnerV1's default manager runs)
    is built from the config: it loads the tokenizer and ``hf_model_type`` ("qwen2") from the
    model directory. One row of the train parquet goes through verl's dataset
    (``create_rl_dataset``) and ``collate_fn`` into ``generate_sequences``, whose
    ``_run_agent_loop`` instantiates the loop the config names from verl's registry, ``n``
    times (the recipe's ``rollout.n``);
(d) verl's ``_compute_score`` sends each trajectory to verl's ``RewardLoopWorker`` built from
    the config (its reward manager and function are the recipe's); a correct answer scores 1,
    and every request asked for the recipe's cap.

Faked, each because it needs a GPU or a cluster: the LLM server (it answers with R1-style text
and EOS), the TransferQueue store (it keeps what the worker puts), the Ray actor handle of the
reward worker. Not shown here: the pre-flight passing, vLLM and its weight sync, FSDP workers
on CUDA with the real weights, Ray placement over 8 GPUs, a training step, a validation pass.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import logging
import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import hydra
import numpy as np
import pytest
import torch
from _verl_paths import InProcessActor, ScriptedServer
from omegaconf import DictConfig, OmegaConf, open_dict
from verl.experimental.agent_loop.agent_loop import AgentLoopBase, _agent_loop_registry
from verl.experimental.reward_loop.reward_loop import RewardLoopWorker
from verl.trainer.ppo import v1 as verl_v1
from verl.trainer.ppo.utils import create_rl_dataset, need_critic, need_reference_policy
from verl.trainer.ppo.v1 import agent_loop_tq
from verl.utils import tensordict_utils as tu
from verl.utils.config import validate_config
from verl.utils.dataset.rl_dataset import collate_fn
from verl.utils.device import auto_set_device
from verl.utils.tokenizer.continuous_token import DeepSeekContinuousTokenBuilder

import siri_verl.plugin  # noqa: F401  (what every verl process imports: registrations)
from siri_verl import checks
from siri_verl.config import compose_recipe
from siri_verl.data.prepare import to_verl_row, write_parquet_atomic
from siri_verl.data.sources import SOURCES, get_source
from siri_verl.inftythink.inftythink_agent_loop import InftyThinkAgentLoop
from siri_verl.inftythink.protocol import render_conclusion_segment, render_summary_segment
from siri_verl.launch import export_backend_env, use_platform_from_env
from siri_verl.models.r1_distill import ASSISTANT, BOS, USER
from siri_verl.reward.manager import TrajectoryRewardManager
from siri_verl.siri.schedule import build_schedule
from siri_verl.siri.siri_length_agent_loop import SiriLengthAgentLoop
from siri_verl.trainer import SiriVerlTrainer

PROBLEM, ANSWER = "What is 4+8?", "12"
GLOBAL_STEP = 1  # verl's first training step
UID = "prompt-0"
SUMMARY = "at 8 after adding 4 of the 8"
CONCLUSION = "The sum is \\boxed{12}."
GPU_HERE = torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None


@dataclass(frozen=True)
class PaperRecipe:
    name: str
    model_key: str  # the setting that names the model directory in this recipe
    agent_loop: type[AgentLoopBase]
    replies: tuple[str, ...]  # the model's text for segment 1, 2...
    cap: Callable[[DictConfig], int]  # the max_tokens of every training request at GLOBAL_STEP


RECIPES = {
    recipe.name: recipe
    for recipe in (
        PaperRecipe(
            "siri_low", "actor_rollout_ref.model.path", SiriLengthAgentLoop,
            (f"4 plus 8: 9 10 11 12.\n</think>\n\n{CONCLUSION}",),
            # L(1) of the recipe's cosine schedule (16K <-> 8K, T=640)
            lambda cfg: build_schedule(OmegaConf.to_container(cfg.schedule, resolve=True)).length(GLOBAL_STEP),
        ),
        PaperRecipe(
            "longcot_rl", "actor_rollout_ref.model.path", SiriLengthAgentLoop,
            (f"4 plus 8: 9 10 11 12.\n</think>\n\n{CONCLUSION}",),
            lambda cfg: 32768,  # the recipe's constant budget
        ),
        PaperRecipe(
            "inftythink_rl_task", "inftythink.coldstart_model", InftyThinkAgentLoop,
            (render_summary_segment("4 plus 8: 5 6 7 8", SUMMARY), render_conclusion_segment("9 10 11 12", CONCLUSION)),
            lambda cfg: 8192,  # η, inftythink.segment_cap
        ),
    )
}  # fmt: skip


class R1StyleModel(ScriptedServer):
    """FAKE vLLM server: answers segment k of a trajectory (k read from the prompt: a later segment
    starts from a ``<history>``) with reply k, followed by R1's EOS; the same for every session."""

    def next_reply(self, prompt_ids: list[int]) -> str:
        later = "<history>" in self.tokenizer.decode(prompt_ids)
        return self.replies[min(int(later), len(self.replies) - 1)]


class FailureLog(logging.Handler):
    """Keeps what verl's rollout worker logs about a failed prompt (it logs, and reports only a status)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(self.format(record))


class FakeTransferQueue:
    """FAKE TransferQueue client (the store runs behind a Ray controller): keeps what is put."""

    def __init__(self):
        self.status: dict[str, str] = {}
        self.puts: list[SimpleNamespace] = []

    def init(self, conf=None):
        pass

    async def async_kv_put(self, key, partition_id, fields=None, tag=None, data_parser=None):
        self.status[key] = tag["status"]

    async def async_kv_batch_put(self, keys, partition_id, fields=None, tags=None, data_parser=None):
        self.puts.append(SimpleNamespace(keys=keys, partition_id=partition_id, fields=fields, tags=tags))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """``siri_verl.data_dir`` with one row per data set, in the layout ``prepare`` writes."""
    path = tmp_path_factory.mktemp("data")
    for name in SOURCES:
        row = to_verl_row(get_source(name), PROBLEM, ANSWER, 0, f"{name}.jsonl:0")
        write_parquet_atomic([row], path / f"{name}.parquet")
    return path


@pytest.fixture(scope="module", params=list(RECIPES))
def recipe(request) -> PaperRecipe:
    return RECIPES[request.param]


@pytest.fixture(scope="module")
def composed(recipe, data_dir, r1_tokenizer_path) -> DictConfig:
    return compose_recipe(recipe.name, [f"{recipe.model_key}={r1_tokenizer_path}", f"siri_verl.data_dir={data_dir}"])


@pytest.fixture(scope="module")
def launched(composed) -> DictConfig:
    """The config as ``launch.run`` hands it to verl: its steps between the checks and ``run_ppo``."""
    cfg = copy.deepcopy(composed)
    with open_dict(cfg):
        del cfg["hydra"]  # Hydra's own node: not in the config a Hydra app receives
    environ = dict(os.environ)
    try:
        export_backend_env(cfg)
        use_platform_from_env()
    finally:
        os.environ.clear()
        os.environ.update(environ)
    OmegaConf.resolve(cfg)
    auto_set_device(cfg)
    return cfg


def test_the_compose_time_checks_pass_but_the_gpu_preflight(recipe, composed, r1_tokenizer_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    choices = dict(composed.hydra.runtime.choices)
    assert choices["backend"] == "gpu" and composed.actor_rollout_ref.model.path == str(r1_tokenizer_path)
    for check in [*checks._CHECKS, *checks._PREFLIGHTS]:
        if check is checks.gpu_backend_needs_gpus and not GPU_HERE:
            with pytest.raises(checks.ConfigError) as refused:
                check(composed, choices)
            message = str(refused.value)
            assert message.startswith(f"recipe={recipe.name} runs on backend=gpu and needs 8 CUDA GPU(s) "), message
            assert "this machine has none" in message and "python -m siri_verl recipe=tiny" in message
            assert "RAY_ADDRESS" in message
            if importlib.util.find_spec("vllm") is None:
                assert "pip install 'siri-verl[gpu]'" in message
            with pytest.raises(checks.ConfigError, match="needs 8 CUDA GPU"):
                checks.run_checks(composed, choices)  # what launch.run calls first
        else:
            check(composed, choices)  # raises ConfigError naming the key if the recipe is wrong


def test_verl_validates_the_config_as_launch_hands_it_over(launched):
    validate_config(
        config=launched, use_reference_policy=need_reference_policy(launched), use_critic=need_critic(launched)
    )
    assert launched.trainer.device == "cuda" and launched.actor_rollout_ref.rollout.name == "vllm"
    # What TaskRunnerV1 runs: our trainer mode, verl's TransferQueue agent-loop manager.
    assert launched.trainer.use_v1 and verl_v1.get_trainer_cls(launched.trainer.v1.trainer_mode) is SiriVerlTrainer
    assert not launched.actor_rollout_ref.rollout.agent.get("agent_loop_manager_class")


@pytest.fixture(scope="module")
def rollout(launched, r1_tokenizer, recipe):
    """One train-parquet row through verl's V1 rollout worker and reward loop (module docstring, (c)-(d))."""
    server = R1StyleModel(r1_tokenizer, list(recipe.replies), end_ids=(r1_tokenizer.eos_token_id,))
    store = FakeTransferQueue()
    loops = []
    instantiate = hydra.utils.instantiate

    def recording_instantiate(config, *args, **kwargs):
        made = instantiate(config, *args, **kwargs)
        if isinstance(made, AgentLoopBase):  # verl instantiates its config dataclasses this way too
            loops.append(SimpleNamespace(config=config, kwargs=kwargs, loop=made))
        return made

    async def run():
        # Built inside the running event loop, as verl's Ray workers are.
        reward_worker = RewardLoopWorker(launched)
        worker_cls = agent_loop_tq.AgentLoopWorkerTQ.__ray_actor_class__  # the class under @ray.remote
        worker = worker_cls(launched, server, None, [InProcessActor(reward_worker)])
        # The trainer's _fetch_one_gen_batch: a dataloader batch, a uid per prompt, the step.
        dataset = create_rl_dataset(
            launched.data.train_files, launched.data, worker.tokenizer, worker.processor, is_train=True,
            max_samples=launched.data.get("train_max_samples", -1),
        )  # fmt: skip
        batch = collate_fn([dataset[0]])
        batch["uid"] = np.array([UID], dtype=object)
        batch = tu.get_tensordict(batch)
        tu.assign_non_tensor_data(batch, "global_steps", GLOBAL_STEP)
        await worker.generate_sequences(batch)
        await asyncio.gather(*list(worker.background_tasks))
        return SimpleNamespace(worker=worker, reward_worker=reward_worker, row=dataset[0])

    failures = FailureLog()
    agent_loop_tq.logger.addHandler(failures)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(agent_loop_tq, "tq", store)
            patch.setattr(hydra.utils, "instantiate", recording_instantiate)
            ran = asyncio.run(run())
    finally:
        agent_loop_tq.logger.removeHandler(failures)
    return SimpleNamespace(**vars(ran), server=server, store=store, loops=loops, failures=failures.records)


def test_the_named_agent_loop_runs_a_dataset_row_on_r1_distill(recipe, launched, rollout):
    assert rollout.store.status == {UID: "finished"}, "\n".join(rollout.failures)[-4000:]
    n = launched.actor_rollout_ref.rollout.n
    segments = len(recipe.replies)

    # verl built the loop the config names, from its registry, once per session, for a qwen2 model.
    agent_name = launched.actor_rollout_ref.rollout.agent.default_agent_loop
    assert len(rollout.loops) == n
    for made in rollout.loops:
        assert made.config == _agent_loop_registry[agent_name] and type(made.loop) is recipe.agent_loop
        assert made.kwargs["hf_model_type"] == "qwen2"  # from the model directory's config.json
        assert made.kwargs["tokenizer"].convert_tokens_to_ids(ASSISTANT) == 151645
        assert made.kwargs["tokenizer"].unk_token is None  # R1-Distill's: no unk, no <|im_end|>
        assert type(made.loop.continuous_token_builder) is DeepSeekContinuousTokenBuilder

    # The prompts are the dataset row in R1-Distill's generation prompt (then the history).
    question = rollout.row["raw_prompt"][-1]["content"]
    assert question.startswith(PROBLEM + "\n")
    opening = f"{BOS}{USER}{question}{ASSISTANT}"
    prompts = [server_request.prompt_ids for server_request in rollout.server.requests]
    assert len(prompts) == n * segments
    assert sorted({rollout.server.tokenizer.decode(ids) for ids in prompts}) == sorted(
        [f"{opening}<think>\n", f"{opening}<history>\n{SUMMARY}\n</history>\n<think>\n"][:segments]
    )

    # One row per segment per session, keyed {uid}_{session}_{segment}, at the step.
    keys = sorted(key for put in rollout.store.puts for key in put.keys)
    assert keys == sorted(f"{UID}_{session}_{segment}" for session in range(n) for segment in range(segments))
    assert all(tag["global_steps"] == GLOBAL_STEP for put in rollout.store.puts for tag in put.tags)


def test_verls_reward_loop_scores_the_correct_answer_1_at_the_recipes_cap(recipe, launched, rollout):
    cap = recipe.cap(launched)
    assert {request.sampling_params["max_tokens"] for request in rollout.server.requests} == {cap}
    assert isinstance(rollout.reward_worker.reward_manager, TrajectoryRewardManager)
    for put in rollout.store.puts:  # one trajectory
        scores = [float(row.sum()) for row in put.fields["rm_scores"].unbind(0)]
        assert scores == [1.0] * len(recipe.replies)  # the final row's score, copied to every segment
        final = put.fields["extra_fields"][len(put.keys) - 1]
        assert final["reward_extra_info"]["score"] == 1.0 and final["reward_extra_info"]["acc"] is True
        assert final["truncated"] is False
        if recipe.agent_loop is InftyThinkAgentLoop:
            assert final["inftythink_stop_reason"] == "conclusion" and final["inftythink_segment_cap"] == cap
        else:
            assert final["siri_cap"] == cap
