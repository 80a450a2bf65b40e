"""Unit tests of the ``siri_length`` and ``inftythink`` agent loops with a FAKE server manager.

``FakeServerManager`` stands in for verl's LLM server client: it records each request and
answers from a script (it runs no model). The real path is covered end to end by
``test_e2e_tiny_on_cpu.py`` and ``test_e2e_inftythink_on_cpu.py``.
"""

from __future__ import annotations

import pytest
from _verl_paths import run_agent_loop
from omegaconf import OmegaConf
from transformers import AutoTokenizer
from verl.workers.rollout.replica import TokenOutput

from siri_verl.inftythink.inftythink_agent_loop import InftyThinkAgentLoop
from siri_verl.inftythink.inftythink_reward import compute_score as inftythink_score
from siri_verl.siri.schedule import build_schedule
from siri_verl.siri.siri_length_agent_loop import SiriLengthAgentLoop

SCHEDULE = {"shape": "cosine", "l_max": 40, "l_min": 24, "period": 6, "granularity": 1}


class FakeServerManager:
    """A fake of verl's server client: returns scripted texts, records every request.

    Like verl's vLLM server (``vllm_async_server.py``) it refuses ``max_tokens < 1`` and a prompt
    that leaves no room in ``max_model_len``, cuts the response at the room, and reports
    ``stop_reason="completed"`` however the response ended.
    """

    def __init__(self, tokenizer, replies: list[str], max_model_len: int | None = None):
        self.tokenizer = tokenizer
        self.replies = list(replies)
        self.max_model_len = max_model_len
        self.requests: list[dict] = []

    async def generate(self, request_id, prompt_ids, sampling_params, **kwargs) -> TokenOutput:
        self.requests.append({"prompt_ids": list(prompt_ids), "sampling_params": dict(sampling_params)})
        max_tokens = sampling_params["max_tokens"]
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")  # vLLM's VLLMValidationError
        if self.max_model_len is not None:
            room = self.max_model_len - len(prompt_ids)
            if room < 1:
                raise ValueError(f"Prompt length ({len(prompt_ids)}) leaves no room to generate")
            max_tokens = min(max_tokens, room)
        text = self.replies.pop(0) if self.replies else "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"][:max_tokens]
        return TokenOutput(token_ids=ids, log_probs=[-0.5] * len(ids), stop_reason="completed", extra_fields={})


@pytest.fixture(scope="module")
def tokenizer(tiny_model_path):
    return AutoTokenizer.from_pretrained(tiny_model_path)


def trainer_config(**sections):
    base = {
        "actor_rollout_ref": {"rollout": {"prompt_length": 64, "response_length": 40, "multi_turn": {}}},
        "data": {"apply_chat_template_kwargs": {}},
        "schedule": SCHEDULE,
        "siri_verl": {"uncapped_splits": ["val", "test"]},
    }
    base.update(sections)
    return OmegaConf.create(base)


run_loop = run_agent_loop  # (loop class, tokenizer, server, config, sampling params, **row)


@pytest.mark.parametrize("step", [0, 1, 2, 3, 4, 6, 7, 100])
def test_siri_loop_sends_the_schedule_cap_as_max_tokens(tokenizer, step):
    server = FakeServerManager(tokenizer, ["2+3: 3 4 5\n</think>\n\\boxed{5}<｜end▁of▁sentence｜>"])
    output = run_loop(
        SiriLengthAgentLoop, tokenizer, server, trainer_config(), {"temperature": 1.0},
        raw_prompt=[{"role": "user", "content": "What is 2+3?"}], global_steps=step, extra_info={"split": "train"},
    )  # fmt: skip
    cap = build_schedule(SCHEDULE).length(step)
    assert server.requests[0]["sampling_params"]["max_tokens"] == cap
    assert output.extra_fields["siri_cap"] == cap and output.extra_fields["truncated"] is False


def test_siri_loop_marks_a_response_that_hit_the_cap_as_truncated(tokenizer):
    server = FakeServerManager(tokenizer, ["1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25"])
    output = run_loop(
        SiriLengthAgentLoop, tokenizer, server, trainer_config(), {}, raw_prompt=[{"role": "user", "content": "q"}], global_steps=3, extra_info={}
    )
    assert len(output.response_ids) == 24 == output.extra_fields["siri_cap"]
    assert output.extra_fields["truncated"] is True


def test_siri_loop_gives_held_out_rows_the_full_budget(tokenizer):
    server = FakeServerManager(tokenizer, ["\\boxed{1}"])
    run_loop(
        SiriLengthAgentLoop, tokenizer, server, trainer_config(), {},
        raw_prompt=[{"role": "user", "content": "q"}], global_steps=3, extra_info={"split": "val"},
    )  # fmt: skip
    assert server.requests[0]["sampling_params"]["max_tokens"] == 40


INFTY = {"max_segments": 3, "segment_cap": 24, "reward_variant": "task_eff", "schedule_target": "none"}


def run_inftythink(tokenizer, replies, step=1, **overrides):
    server = FakeServerManager(tokenizer, replies)
    config = trainer_config(inftythink={**INFTY, **overrides})
    outputs = run_loop(
        InftyThinkAgentLoop, tokenizer, server, config, {"temperature": 1.0},
        raw_prompt=[{"role": "user", "content": "What is 4+8?"}], global_steps=step,
    )  # fmt: skip
    return server, outputs


def test_inftythink_loop_returns_one_row_per_segment_with_history_prompts(tokenizer):
    replies = [
        "4 5 6 7\n</think><summary>\nat 7, 4 to add\n</summary>",
        "8 9 10 11\n</think><summary>\nat 11, 1 to add\n</summary>",
        "12\n</think>\n\n\\boxed{12}",
    ]
    server, outputs = run_inftythink(tokenizer, replies)
    assert len(outputs) == 3
    assert all(r["sampling_params"]["max_tokens"] == 24 for r in server.requests)
    second_prompt = tokenizer.decode(server.requests[1]["prompt_ids"])
    assert "<history>" in second_prompt and "at 7, 4 to add" in second_prompt
    assert "at 7, 4 to add" not in tokenizer.decode(server.requests[0]["prompt_ids"])
    assert [o.extra_fields["inftythink_segment_index"] for o in outputs] == [0, 1, 2]
    final = outputs[-1].extra_fields
    assert final["inftythink_num_segments"] == 3 and final["inftythink_stop_reason"] == "conclusion"
    assert "inftythink_num_segments" not in outputs[0].extra_fields


def test_inftythink_reward_is_computed_on_the_final_segment_and_shaped_by_segments(tokenizer):
    replies = ["4 5 6 7\n</think><summary>\nat 7, 5 to add\n</summary>", "8 9\n</think>\n\n\\boxed{12}"]
    _, outputs = run_inftythink(tokenizer, replies)
    final = outputs[-1]
    text = tokenizer.decode(final.response_ids, skip_special_tokens=True)
    result = inftythink_score("toy_addition", text, "12", final.extra_fields)
    assert result["task_score"] == 1.0
    assert result["score"] == pytest.approx(1 - (1 / 3) ** 2)  # T+E with n=2, φ=3
    # verl copies the final output's reward to every earlier segment (trainer/ppo/v1/agent_loop_tq.py).


@pytest.mark.parametrize(
    ("replies", "stop"),
    [
        (["no closing tag at all"], "invalid_format"),
        (["1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25"], "token_cap"),
        (["a\n</think><summary>\ns1\n</summary>"] * 3, "max_segments"),
    ],
)
def test_inftythink_stop_rules_end_the_trajectory(tokenizer, replies, stop):
    _, outputs = run_inftythink(tokenizer, replies)
    assert outputs[-1].extra_fields["inftythink_stop_reason"] == stop
    result = inftythink_score("toy_addition", "x", "12", outputs[-1].extra_fields)
    assert result["score"] == 0.0


def test_siri_inftythink_schedule_moves_the_segment_cap(tokenizer):
    server, _ = run_inftythink(tokenizer, ["x\n</think>\n\n\\boxed{1}"], step=3, schedule_target="segment_cap", segment_cap=40)
    assert server.requests[0]["sampling_params"]["max_tokens"] == build_schedule(SCHEDULE).length(3) == 24


# -- max_model_len: a response cut where the context filled up ran out of budget too ----------

LONG_REPLY = "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25"


def prompt_length_of(tokenizer, cls, config, **kwargs) -> int:
    """The length of the first prompt the loop sends (learned from one run without a context limit)."""
    server = FakeServerManager(tokenizer, ["x\n</think>\n\n\\boxed{1}"])
    run_loop(cls, tokenizer, server, config, {}, **kwargs)
    return len(server.requests[0]["prompt_ids"])


def with_max_model_len(config, max_model_len: int):
    config = config.copy()
    config.actor_rollout_ref.rollout.max_model_len = max_model_len
    return config


def test_siri_loop_marks_a_response_cut_by_max_model_len_before_the_cap_as_truncated(tokenizer):
    request = {"raw_prompt": [{"role": "user", "content": "q"}], "global_steps": 3, "extra_info": {}}
    prompt_length = prompt_length_of(tokenizer, SiriLengthAgentLoop, trainer_config(), **request)
    config = with_max_model_len(trainer_config(), prompt_length + 10)  # room 10 < L(3) = 24
    server = FakeServerManager(tokenizer, [LONG_REPLY], max_model_len=prompt_length + 10)
    output = run_loop(SiriLengthAgentLoop, tokenizer, server, config, {}, **request)
    assert len(output.response_ids) == 10 and output.extra_fields["siri_cap"] == 24
    assert output.extra_fields["truncated"] is True


def test_siri_loop_trusts_the_servers_finish_reason_when_it_reports_one(tokenizer):
    class ReportingServer(FakeServerManager):
        async def generate(self, request_id, prompt_ids, sampling_params, **kwargs):
            output = await super().generate(request_id, prompt_ids, sampling_params, **kwargs)
            output.extra_fields["finish_reason"] = "length"  # as the hf CPU server reports it
            return output

    server = ReportingServer(tokenizer, ["1 2 3"])  # 3 tokens, far below L(3) = 24, but cut by the server
    output = run_loop(
        SiriLengthAgentLoop, tokenizer, server, trainer_config(), {},
        raw_prompt=[{"role": "user", "content": "q"}], global_steps=3, extra_info={},
    )  # fmt: skip
    assert output.extra_fields["truncated"] is True


def inftythink_request():
    return {"raw_prompt": [{"role": "user", "content": "What is 4+8?"}], "global_steps": 1}


def test_inftythink_segment_cut_by_max_model_len_before_eta_is_token_cap_not_invalid_format(tokenizer):
    config = trainer_config(inftythink=INFTY)
    prompt_length = prompt_length_of(tokenizer, InftyThinkAgentLoop, config, **inftythink_request())
    server = FakeServerManager(tokenizer, [LONG_REPLY], max_model_len=prompt_length + 10)
    outputs = run_loop(
        InftyThinkAgentLoop, tokenizer, server, with_max_model_len(config, prompt_length + 10), {},
        **inftythink_request(),
    )  # fmt: skip
    assert server.requests[0]["sampling_params"]["max_tokens"] == 10  # the room, not eta = 24
    final = outputs[-1].extra_fields
    assert final["inftythink_stop_reason"] == "token_cap" and final["truncated"] is True


def test_inftythink_ends_with_context_full_when_the_history_leaves_no_room(tokenizer):
    config = trainer_config(inftythink=INFTY)
    replies = ["</think><summary>\n7 4\n</summary>", "12\n</think>\n\n\\boxed{12}"]
    learn = FakeServerManager(tokenizer, list(replies))  # no context limit: learn the two prompts' lengths
    first = run_loop(InftyThinkAgentLoop, tokenizer, learn, config, {}, **inftythink_request())[0]
    first_prompt, second_prompt = (len(request["prompt_ids"]) for request in learn.requests)
    max_model_len = second_prompt  # segment 2's prompt (question + history) fills the context exactly
    assert max_model_len - first_prompt >= len(first.response_ids)  # while segment 1's summary fits

    server = FakeServerManager(tokenizer, list(replies), max_model_len=max_model_len)
    outputs = run_loop(
        InftyThinkAgentLoop, tokenizer, server, with_max_model_len(config, max_model_len), {}, **inftythink_request()
    )
    assert len(server.requests) == 1 and len(outputs) == 1  # no request without room was sent
    final = outputs[-1].extra_fields
    assert final["inftythink_stop_reason"] == "context_full" and final["inftythink_num_segments"] == 1
    assert final["truncated"] is True
    assert inftythink_score("toy_addition", "x", "12", final)["score"] == 0.0


def test_inftythink_question_that_fills_the_context_is_a_clear_error_naming_the_key(tokenizer):
    from siri_verl.request_budget import NoRoomToGenerate

    config = trainer_config(inftythink=INFTY)
    prompt_length = prompt_length_of(tokenizer, InftyThinkAgentLoop, config, **inftythink_request())
    server = FakeServerManager(tokenizer, [LONG_REPLY], max_model_len=prompt_length)
    with pytest.raises(NoRoomToGenerate, match=r"actor_rollout_ref\.rollout\.max_model_len"):
        config = with_max_model_len(config, prompt_length)
        run_loop(InftyThinkAgentLoop, tokenizer, server, config, {}, **inftythink_request())
    assert server.requests == []
