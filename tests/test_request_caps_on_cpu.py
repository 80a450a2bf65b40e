"""No request ever asks for fewer than 1 token, or for more than the context has room for.

Recent vLLM rejects ``max_tokens < 1``. Property tests (hypothesis) over schedule values
(including the 0 or negative L(t) a registered custom shape could produce), η, response lengths,
prompt lengths and ``rollout.max_model_len``: the shared clamp (``siri_verl/request_budget.py``)
and both agent loops, the latter driven by a FAKE server manager that refuses what verl's vLLM
server refuses (``max_tokens < 1``, a prompt without room).
"""

from __future__ import annotations

from dataclasses import dataclass
from unittest import mock

import pytest
from _verl_paths import run_agent_loop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from transformers import AutoTokenizer
from verl.workers.rollout.replica import TokenOutput

from siri_verl.inftythink.inftythink_agent_loop import InftyThinkAgentLoop
from siri_verl.request_budget import NoRoomToGenerate, finish_reason, request_max_tokens, used_whole_budget
from siri_verl.siri.schedule import Schedule
from siri_verl.siri.siri_length_agent_loop import SiriLengthAgentLoop

LOOP_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True, kw_only=True)
class ArbitrarySchedule(Schedule):
    """A shape whose L(t) is ``value`` at every step, whatever it is (not registered)."""

    value: int

    def raw(self, t: int) -> float:
        return float(self.value)

    def bounds(self) -> tuple[int, int]:
        return self.value, self.value


# -- the shared clamp ---------------------------------------------------------------------------


@given(
    cap=st.integers(-10**6, 10**6),
    prompt_length=st.none() | st.integers(0, 10**6),
    max_model_len=st.none() | st.integers(0, 10**6),
)
def test_request_max_tokens_is_at_least_one_and_within_the_room(cap, prompt_length, max_model_len):
    room = None if prompt_length is None or max_model_len is None else max_model_len - prompt_length
    if room is not None and room < 1:
        with pytest.raises(NoRoomToGenerate, match=r"actor_rollout_ref\.rollout\.max_model_len"):
            request_max_tokens(cap, prompt_length, max_model_len)
        return
    sent = request_max_tokens(cap, prompt_length, max_model_len)
    assert sent >= 1
    assert sent == max(1, cap if room is None else min(cap, room))


def test_a_response_ending_in_eos_finished_whatever_its_length_or_reason():
    assert used_whole_budget([5, 6, 2], budget=3, eos_token_ids={2}) is False
    assert used_whole_budget([5, 6, 7], budget=3, eos_token_ids={2}) is True
    assert used_whole_budget([5], budget=3, eos_token_ids={2}, reason="length") is True
    assert used_whole_budget([5, 6, 7], budget=3, eos_token_ids={2}, reason="stop") is False


def test_finish_reason_reads_sglangs_stop_reason_and_the_hf_servers_extra_field():
    assert finish_reason("length") == "length"  # SGLang
    assert finish_reason("completed") is None  # vLLM: "completed" for stop and length alike
    assert finish_reason("completed", {"finish_reason": "length"}) == "length"  # the hf CPU server
    assert finish_reason("aborted", {}) is None


# -- the agent loops ------------------------------------------------------------------------------


class RefusingServer:
    """Answers like verl's vLLM server: refuses max_tokens < 1 and prompts without room."""

    def __init__(self, tokenizer, reply_ids: list[int], max_model_len: int | None):
        self.tokenizer, self.reply_ids, self.max_model_len = tokenizer, reply_ids, max_model_len
        self.sent: list[tuple[int, int]] = []  # (prompt length, max_tokens)

    async def generate(self, request_id, prompt_ids, sampling_params, **kwargs) -> TokenOutput:
        max_tokens = sampling_params["max_tokens"]
        self.sent.append((len(prompt_ids), max_tokens))
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        if self.max_model_len is not None and self.max_model_len - len(prompt_ids) < max_tokens:
            raise ValueError(f"{len(prompt_ids)} + {max_tokens} tokens exceed max_model_len={self.max_model_len}")
        ids = self.reply_ids[:max_tokens]
        return TokenOutput(token_ids=ids, log_probs=[-0.5] * len(ids), stop_reason="completed", extra_fields={})


@pytest.fixture(scope="module")
def tokenizer(tiny_model_path):
    return AutoTokenizer.from_pretrained(tiny_model_path)


def build_and_run(cls, tokenizer, server, config, **kwargs):
    return run_agent_loop(cls, tokenizer, server, config, {}, **kwargs)


def loop_config(response_length: int, max_model_len: int | None = None, **sections):
    return OmegaConf.create(
        {
            "actor_rollout_ref": {
                "rollout": {
                    "prompt_length": 256,
                    "response_length": response_length,
                    "max_model_len": max_model_len,
                    "multi_turn": {},
                }
            },
            "data": {"apply_chat_template_kwargs": {}},
            "schedule": {"shape": "constant", "length": 8},
            "siri_verl": {"uncapped_splits": ["val", "test"]},
            **sections,
        }
    )


@LOOP_SETTINGS
@given(
    length=st.integers(-50, 200),
    response_length=st.integers(1, 64),
    step=st.integers(0, 10**6),
    split=st.sampled_from(["train", "val", None]),
)
def test_siri_loop_never_sends_fewer_than_one_token(tokenizer, length, response_length, step, split):
    server = RefusingServer(tokenizer, list(range(10, 80)), max_model_len=None)
    with mock.patch("siri_verl.siri.siri_length_agent_loop.schedule_of", return_value=ArbitrarySchedule(value=length)):
        output = build_and_run(
            SiriLengthAgentLoop, tokenizer, server, loop_config(response_length),
            raw_prompt=[{"role": "user", "content": "q"}], global_steps=step, extra_info={"split": split},
        )  # fmt: skip
    [(_, sent)] = server.sent
    assert 1 <= sent <= response_length and output.extra_fields["siri_cap"] == sent


SUMMARY = "</think><summary>\n7 4\n</summary>"


@LOOP_SETTINGS
@given(
    eta=st.integers(-50, 64),
    headroom=st.none() | st.integers(-4, 80),
    question_words=st.integers(1, 30),
    reply=st.sampled_from([SUMMARY, "1 2 3 4 5 6 7 8 9 10 11 12", "12\n</think>\n\n\\boxed{12}"]),
)
def test_inftythink_loop_never_sends_fewer_than_one_token_nor_more_than_the_room(
    tokenizer, eta, headroom, question_words, reply
):
    """η from a schedule (schedule_target=segment_cap), max_model_len = first prompt + headroom."""
    question = " ".join(["add"] * question_words)
    request = {"raw_prompt": [{"role": "user", "content": question}], "global_steps": 1}
    inftythink = {"max_segments": 4, "segment_cap": 24, "reward_variant": "task", "schedule_target": "segment_cap"}
    reply_ids = tokenizer(reply, add_special_tokens=False)["input_ids"]
    max_model_len = None
    if headroom is not None:  # measure the first prompt, then leave `headroom` tokens after it
        probe = RefusingServer(tokenizer, reply_ids, max_model_len=None)
        with mock.patch("siri_verl.inftythink.inftythink_agent_loop.schedule_of", return_value=ArbitrarySchedule(value=8)):
            build_and_run(InftyThinkAgentLoop, tokenizer, probe, loop_config(64, inftythink=inftythink), **request)
        max_model_len = probe.sent[0][0] + headroom
    server = RefusingServer(tokenizer, reply_ids, max_model_len=max_model_len)
    config = loop_config(64, max_model_len=max_model_len, inftythink=inftythink)
    with mock.patch("siri_verl.inftythink.inftythink_agent_loop.schedule_of", return_value=ArbitrarySchedule(value=eta)):
        try:
            outputs = build_and_run(InftyThinkAgentLoop, tokenizer, server, config, **request)
        except NoRoomToGenerate:
            assert headroom is not None and headroom < 1 and server.sent == []  # the question alone fills it
            return
    for prompt_length, sent in server.sent:
        assert sent >= 1
        assert max_model_len is None or sent <= max_model_len - prompt_length
    stop = outputs[-1].extra_fields["inftythink_stop_reason"]
    assert stop in {"conclusion", "invalid_format", "max_segments", "token_cap", "context_full"}
