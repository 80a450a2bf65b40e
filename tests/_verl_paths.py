"""Fakes for driving verl's own code paths in one process on CPU: no model, no Ray.

Only what needs a GPU or a cluster is faked here (the LLM server, a Ray actor handle); the code
under test around them is verl's. Tests import this module as ``from _verl_paths import ...``:
importing tests/conftest.py puts ``tests/`` on ``sys.path``, for tests in its subfolders too (there is
no ``__init__.py`` in tests/ or below, see conftest.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import SimpleNamespace

from omegaconf import OmegaConf
from verl.experimental.agent_loop.agent_loop import DictConfigWrap
from verl.workers.rollout.replica import TokenOutput


@dataclass(frozen=True)
class Request:
    """One ``generate`` call as the server received it."""

    prompt_ids: list[int]
    sampling_params: dict


class ScriptedServer:
    """FAKE LLM server client (verl's ``server_manager``): no model behind it.

    Answers each ``generate`` with the next scripted text (:meth:`next_reply`), tokenised without
    special tokens and followed by ``end_ids`` (the EOS a real server returns with a finished
    response; none by default), cut at the request's ``max_tokens`` as a server would. Every
    request is kept in :attr:`requests`.
    """

    def __init__(self, tokenizer, replies: list[str], end_ids: tuple[int, ...] = ()):
        self.tokenizer = tokenizer
        self.replies = list(replies)
        self.end_ids = list(end_ids)
        self.requests: list[Request] = []

    def next_reply(self, prompt_ids: list[int]) -> str:
        """The text that answers ``prompt_ids``: the next one in the script (override to choose by prompt)."""
        return self.replies.pop(0)

    async def generate(self, request_id, prompt_ids, sampling_params, **kwargs) -> TokenOutput:
        self.requests.append(Request(list(prompt_ids), dict(sampling_params)))
        text = self.next_reply(list(prompt_ids))
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"] + self.end_ids
        ids = ids[: sampling_params["max_tokens"]]
        return TokenOutput(token_ids=ids, log_probs=[-0.5] * len(ids), stop_reason="completed", extra_fields={})


class InProcessActor:
    """``handle.method.remote(...)`` as verl calls a Ray actor, answered by a local object."""

    def __init__(self, target):
        self._target = target

    def __getattr__(self, name):
        return SimpleNamespace(remote=getattr(self._target, name))



def run_agent_loop(loop_cls, tokenizer, server_manager, config, sampling_params, **kwargs):
    """Build ``loop_cls`` with the keyword arguments verl's ``_run_agent_loop`` passes and run it
    inside the event loop that runs it, as verl's workers do. ``server_manager`` is what the loop
    talks to; a :class:`BuiltInLoop` wraps a factory for one that must be made inside that event
    loop (verl's ``LLMServerClient``)."""
    from verl.experimental.agent_loop.agent_loop import DictConfigWrap

    async def build_and_run():
        manager = server_manager.make() if isinstance(server_manager, BuiltInLoop) else server_manager
        loop = loop_cls(
            trainer_config=DictConfigWrap(config),
            server_manager=manager,
            tokenizer=tokenizer,
            processor=None,
            dataset_cls=None,
            data_config=DictConfigWrap(config.data),
        )
        return await loop.run(sampling_params, **kwargs)

    return asyncio.run(build_and_run())


@dataclass(frozen=True)
class BuiltInLoop:
    """A server manager to be built inside the agent loop's event loop, by ``make()``."""

    make: object


def loop_config(**siri_verl):
    """The config sections an agent loop reads, with ``siri_verl.*`` settings overridden."""
    return OmegaConf.create({
        "actor_rollout_ref": {"rollout": {"prompt_length": 256, "response_length": 256, "multi_turn": {}}},
        "data": {"apply_chat_template_kwargs": {}},
        "schedule": {"shape": "constant", "length": 256},
        "inftythink": {"max_segments": 4, "segment_cap": 256, "reward_variant": "task", "schedule_target": "none"},
        "siri_verl": {"uncapped_splits": ["val", "test"], **siri_verl},
    })  # fmt: skip


def build_loop(cls, tokenizer, server=None, config=None):
    """Build an agent loop as verl's worker does (R1-Distill's ``hf_model_type``, qwen2)."""
    config = config or loop_config()
    return cls(
        trainer_config=DictConfigWrap(config), server_manager=server, tokenizer=tokenizer, processor=None,
        dataset_cls=None, data_config=DictConfigWrap(config.data), hf_model_type="qwen2",
    )  # fmt: skip
