"""Test-only references that used to live in the package: the package never calls them.

The InftyThink+ reference loop (``run_iterative``, ``arun_iterative``) drives
``siri_verl.inftythink.protocol.IterativeState`` the way the agent loop and the iterative eval
mode do, so the protocol's tests can run whole trajectories with an injected generator.

Tests import this module as ``from _reference import ...`` (``tests/`` is on ``sys.path``, see
``_verl_paths.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import torch

from siri_verl.errors import require_int
from siri_verl.inftythink.protocol import (
    DEFAULT_TAGS,
    GenerationResult,
    IterativeState,
    Tags,
    TrajectoryResult,
    join_prompt,
)


def length_capped_score(response_token_count: int, cap: int, finished: bool, base_score: float) -> float:
    """SIRI's (and ThinkPrune's) length-capped reward, as a function of numbers (docs/siri.md).

    ``response_token_count``: tokens generated for the response (before any truncation).
    ``cap``: the step's cap ``L(t)`` in tokens.
    ``finished``: whether generation stopped on its own (EOS/stop string) rather than at the cap.
    ``base_score``: the score of the response as if uncapped (1.0 correct, 0.0 not).

    Returns 0.0 if the response is longer than ``cap`` or did not finish, else ``base_score``.
    A response of exactly ``cap`` tokens that finished keeps its score. The package scores the
    same way from the agent loop's ``truncated`` flag (``siri_verl/siri/siri_reward.py``).
    """
    response_token_count = require_int("response_token_count", response_token_count, minimum=0)
    cap = require_int("cap", cap, minimum=1)
    if not finished or response_token_count > cap:
        return 0.0
    return float(base_score)


def check_layout(tokenizer, example: dict, tags: Tags = DEFAULT_TAGS) -> None:
    """Raise ``AssertionError`` unless the SFT rendering of a cold-start ``example`` is the RL
    agent loop's prompt (``join_prompt(generation prompt, prefix)``) followed by the target.

    Holds for chat templates that render an assistant turn as ``header + content`` (the tiny
    model's; DeepSeek-R1-Distill's own template strips everything up to ``</think>`` from
    assistant turns, which this check catches).
    """
    user = [m for m in example["messages"] if m["role"] != "assistant"]
    content = example["messages"][-1]["content"]
    prefix = example["assistant_prefix"]
    rendered = tokenizer.apply_chat_template(example["messages"], tokenize=False)
    prompt = join_prompt(tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=False), prefix, tags)
    expected = prompt + content[len(prefix) :]
    assert content.startswith(prefix), "assistant content does not start with its prefix"
    assert rendered.startswith(expected), f"SFT layout differs from the agent loop's:\n{rendered!r}\nvs\n{expected!r}"


def server_logits(server, input_ids: list[list[int]]) -> torch.Tensor:
    """Raw logits ``(batch, seq, vocab)`` of an ``HFRolloutServer``'s model for equal-length inputs."""
    with torch.no_grad():
        return server.model(input_ids=torch.tensor(input_ids)).logits


Generate = Callable[[list[dict], str, int], GenerationResult]
"""``generate(messages, assistant_prefix, max_tokens)``: one segment's generation (sampling
settings are the generator's business)."""


def run_iterative(
    generate: Generate, question: str, max_segments: int, segment_cap: int, tags: Tags = DEFAULT_TAGS
) -> TrajectoryResult:
    """Run one trajectory: at most ``max_segments`` (phi) calls of at most ``segment_cap`` (eta)
    tokens each. The package drives :class:`IterativeState` itself (verl's agent loop, the
    iterative eval mode); this is the protocol's reference loop for its tests."""
    segment_cap = require_int("inftythink.segment_cap", segment_cap, minimum=1)
    state = IterativeState(question, max_segments, tags)
    while not state.done:
        messages, prefix = state.next_prompt()
        state.record(generate(messages, prefix, segment_cap))
    return state.result()


async def arun_iterative(
    generate: Callable[[list[dict], str, int], Awaitable[GenerationResult]],
    question: str,
    max_segments: int,
    segment_cap: int,
    tags: Tags = DEFAULT_TAGS,
) -> TrajectoryResult:
    """:func:`run_iterative` with an async generator (for verl's async agent loops)."""
    segment_cap = require_int("inftythink.segment_cap", segment_cap, minimum=1)
    state = IterativeState(question, max_segments, tags)
    while not state.done:
        messages, prefix = state.next_prompt()
        state.record(await generate(messages, prefix, segment_cap))
    return state.result()
