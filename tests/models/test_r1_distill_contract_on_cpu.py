"""The code held to DeepSeek-R1-Distill-Qwen's contract (the papers' model), on CPU.

Every other CPU test runs on the tiny model's tokenizer, which only imitates R1's layout. These
run on ``siri_verl.models.r1_distill``: the real Qwen BPE, R1's added tokens at their real ids,
no unk token, the Hub's chat template. Covered: the fixture's facts, the SIRI and InftyThink
prompt layouts (building the loops by chat protocol is tests/test_chat_protocol_on_cpu.py's), the cold-start SFT
dataset against the agent loop's tokens, and reward extraction from a decoded response. The
agent loops talk to a scripted fake server (no model).
"""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest
from _verl_paths import build_loop
from omegaconf import OmegaConf
from verl.workers.rollout.replica import TokenOutput

from siri_verl.assets import resolve_asset
from siri_verl.inftythink import coldstart
from siri_verl.inftythink.inftythink_agent_loop import InftyThinkAgentLoop
from siri_verl.inftythink.protocol import render_conclusion_segment, render_summary_segment
from siri_verl.inftythink.sft_dataset import InftyThinkSFTDataset
from siri_verl.reward import compute_score
from siri_verl.siri.siri_length_agent_loop import SiriLengthAgentLoop

BOS, EOS, USER, ASSISTANT = 151646, 151643, 151644, 151645
THINK_OPEN, THINK_CLOSE = 151648, 151649
QUESTION = "What is 1+2+3?"


# ---------------------------------------------------------------------------------------------
# The fixture's facts
# ---------------------------------------------------------------------------------------------


def test_added_tokens_sit_at_r1_distill_qwens_ids_and_there_is_no_unk_or_chatml(r1_tokenizer, r1_tokenizer_path):
    tok = r1_tokenizer
    expected = {
        "<｜end▁of▁sentence｜>": EOS, "<｜User｜>": USER, "<｜Assistant｜>": ASSISTANT, "<｜begin▁of▁sentence｜>": BOS,
        "<|EOT|>": 151647, "<think>": THINK_OPEN, "</think>": THINK_CLOSE, "<|quad_start|>": 151650, "<|file_sep|>": 151664,
    }  # fmt: skip
    assert {token: tok.convert_tokens_to_ids(token) for token in expected} == expected
    assert len(tok) == 151665
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (BOS, EOS, EOS)
    assert tok.unk_token is None and tok.unk_token_id is None
    for qwen_only in ("<|im_end|>", "<|im_start|>", "<|endoftext|>"):
        assert tok.convert_tokens_to_ids(qwen_only) is None, qwen_only
    # Qwen's BPE with BOS prepended (add_bos_token); DeepSeek-R1 issue #151 prints these ids.
    assert tok("hello")["input_ids"] == [BOS, 14990]
    assert resolve_asset("r1_distill_tokenizer") == str(r1_tokenizer_path)  # ${siri_verl_asset:...}, cached


def test_think_tags_survive_decoding_without_special_tokens(r1_tokenizer):
    text = "Wait, 2+2=4 and 中文 too.\n\n</think>\n\nSo \\boxed{4}."
    ids = r1_tokenizer(text, add_special_tokens=False)["input_ids"] + [EOS]
    assert THINK_CLOSE in ids  # one token, as in R1's vocabulary
    assert r1_tokenizer.decode(ids, skip_special_tokens=True) == text  # byte-level BPE round trip, EOS dropped


def test_chat_template_strips_assistant_history_and_opens_the_think_block(r1_tokenizer):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "<think>\nscratch work\n</think>\n\nanswer one"},
        {"role": "user", "content": "q2"},
    ]
    rendered = r1_tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert rendered == (
        "<｜begin▁of▁sentence｜>Be brief.<｜User｜>q1<｜Assistant｜>\n\nanswer one<｜end▁of▁sentence｜>"
        "<｜User｜>q2<｜Assistant｜><think>\n"
    )
    messages = [{"role": "user", "content": "hello"}]
    ids = r1_tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
    assert list(ids) == [BOS, USER, 14990, ASSISTANT, THINK_OPEN, 198]  # one BOS: the template's


# ---------------------------------------------------------------------------------------------
# Agent loops on R1-Distill-Qwen (hf_model_type qwen2)
# ---------------------------------------------------------------------------------------------


class ScriptedServer:
    """Stands in for verl's server client: answers each request with the next scripted token ids."""

    def __init__(self, replies: list[list[int]]):
        self.replies = list(replies)
        self.prompts: list[list[int]] = []

    async def generate(self, request_id, prompt_ids, sampling_params, **kwargs) -> TokenOutput:
        self.prompts.append(list(prompt_ids))
        ids = self.replies.pop(0)[: sampling_params["max_tokens"]]
        return TokenOutput(token_ids=ids, log_probs=[-0.5] * len(ids), stop_reason="completed", extra_fields={})


def run_loop(cls, tokenizer, server, **kwargs):
    """Build the loop inside the event loop that runs it, as verl's workers do."""

    async def build_and_run():
        return await build_loop(cls, tokenizer, server).run({"temperature": 1.0}, **kwargs)

    return asyncio.run(build_and_run())


def test_siri_loop_prompt_is_r1s_generation_prompt(r1_tokenizer):
    reply = r1_tokenizer("2+2=4\n</think>\n\n\\boxed{4}", add_special_tokens=False)["input_ids"] + [EOS]
    server = ScriptedServer([reply])
    output = run_loop(SiriLengthAgentLoop, r1_tokenizer, server, raw_prompt=[{"role": "user", "content": "q"}],
                      global_steps=0, extra_info={"split": "train"})  # fmt: skip
    assert r1_tokenizer.decode(output.prompt_ids) == "<｜begin▁of▁sentence｜><｜User｜>q<｜Assistant｜><think>\n"
    assert output.prompt_ids[:2] == [BOS, USER] and output.prompt_ids.count(BOS) == 1
    assert output.extra_fields["truncated"] is False


# ---------------------------------------------------------------------------------------------
# InftyThink+: prompt layout, cold-start SFT rows, reward extraction
# ---------------------------------------------------------------------------------------------

SEGMENTS = ["First add 1 and 2 to get 3.", "Then add 3 to get 6."]
SUMMARY = "1+2 is 3; 3 is left to add"
CONCLUSION = "The sum is \\boxed{6}."


def segment_replies(tokenizer) -> list[list[int]]:
    """What a server returns for the two segments: the model-written text, then EOS."""
    texts = [render_summary_segment(SEGMENTS[0], SUMMARY), render_conclusion_segment(SEGMENTS[1], CONCLUSION)]
    return [tokenizer(text, add_special_tokens=False)["input_ids"] + [EOS] for text in texts]


@pytest.fixture(scope="module")
def trajectory(r1_tokenizer):
    server = ScriptedServer(segment_replies(r1_tokenizer))
    outputs = run_loop(InftyThinkAgentLoop, r1_tokenizer, server, raw_prompt=[{"role": "user", "content": QUESTION}],
                       global_steps=0)  # fmt: skip
    return server, outputs


def test_inftythink_prompts_are_r1s_layout(r1_tokenizer, trajectory):
    server, outputs = trajectory
    assert len(outputs) == 2 and outputs[-1].extra_fields["inftythink_stop_reason"] == "conclusion"
    first, second = (r1_tokenizer.decode(prompt) for prompt in server.prompts)
    assert first == f"<｜begin▁of▁sentence｜><｜User｜>{QUESTION}<｜Assistant｜><think>\n"
    assert (
        second
        == f"<｜begin▁of▁sentence｜><｜User｜>{QUESTION}<｜Assistant｜><history>\n{SUMMARY}\n</history>\n<think>\n"
    )
    for prompt in server.prompts:
        assert prompt[:2] == [BOS, USER] and prompt.count(THINK_OPEN) == 1  # the opener once, after the history
        assert prompt.count(ASSISTANT) == 1 and prompt[-2:] == [THINK_OPEN, 198]


def test_cold_start_rows_tokenise_as_the_agent_loop_sees_them(r1_tokenizer, trajectory, tmp_path):
    _, outputs = trajectory
    trace = coldstart.Trace(index=0, question=QUESTION, reasoning="\n\n".join(SEGMENTS), conclusion=CONCLUSION)
    examples = coldstart.build_examples(trace, SEGMENTS, [SUMMARY])
    pd.DataFrame(examples).to_parquet(tmp_path / "train.parquet")
    config = OmegaConf.create(
        {"max_length": 512, "pad_mode": "right", "truncation": "error", "messages_key": "messages"}
    )
    dataset = InftyThinkSFTDataset(str(tmp_path / "train.parquet"), r1_tokenizer, config)
    for i, output in enumerate(outputs):
        item = dataset[i]
        length = int(item["attention_mask"].sum())
        ids, mask = item["input_ids"][:length].tolist(), item["loss_mask"][:length].tolist()
        assert ids == output.prompt_ids + output.response_ids
        assert mask == [0] * len(output.prompt_ids) + [1] * len(output.response_ids)
        assert item["input_ids"].shape == item["loss_mask"].shape == (512,)
    # verl's own dataset renders the assistant turn with R1's template: the think block is gone
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    plain = MultiTurnSFTDataset(str(tmp_path / "train.parquet"), r1_tokenizer, config)[1]
    trained = r1_tokenizer.decode([t for t, m in zip(plain["input_ids"].tolist(), plain["loss_mask"].tolist()) if m])
    assert SEGMENTS[1] not in trained and "<history>" not in trained


def test_reward_reads_the_answer_after_think_close_in_the_decoded_response(r1_tokenizer, trajectory):
    _, outputs = trajectory
    # as verl's reward path decodes a response: special tokens skipped, </think> kept
    text = r1_tokenizer.decode(outputs[-1].response_ids, skip_special_tokens=True)
    assert text == render_conclusion_segment(SEGMENTS[1], CONCLUSION)
    assert compute_score("deepscaler", text, "6", {}, require_think_end=True)["score"] == 1.0
    # a box left inside the reasoning is not the answer: only </think> tells them apart
    draft = r1_tokenizer("maybe \\boxed{6}\n</think>\n\nNot sure.", add_special_tokens=False)["input_ids"] + [EOS]
    result = compute_score("deepscaler", r1_tokenizer.decode(draft, skip_special_tokens=True), "6", {})
    assert (result["score"], result["reason"]) == (0.0, "no_answer")
