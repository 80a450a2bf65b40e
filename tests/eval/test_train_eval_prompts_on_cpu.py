"""Evaluation sees the prompts training sees, and judges "hit the cap" by the training rule.

On R1-Distill's tokenizer (the offline fixture, siri_verl/models/r1_distill.py): for one row,
eval's prompt token ids equal what each agent loop sends its server, with and without
``apply_chat_template_kwargs``. The servers and the eval backend are scripted stand-ins (no
vLLM here): they record the prompts and answer with fixed token ids.
"""

from __future__ import annotations

import pytest
from _verl_paths import run_agent_loop
from omegaconf import OmegaConf
from verl.workers.rollout.replica import TokenOutput

from siri_verl.eval.run import Problem, _inftythink_mode, _long_mode
from siri_verl.generation import Completion, SamplingSettings
from siri_verl.inftythink.inftythink_agent_loop import InftyThinkAgentLoop
from siri_verl.inftythink.protocol import render_conclusion_segment, render_summary_segment
from siri_verl.request_budget import used_whole_budget
from siri_verl.siri.siri_length_agent_loop import SiriLengthAgentLoop

EOS = 151643
QUESTION = "What is 1+2+3?"
MESSAGES = [{"role": "user", "content": QUESTION}]
# A template passed as a keyword argument: it must reach training and eval alike.
CUSTOM_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<｜User｜>Answer in \\boxed{}. {{ m['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}<｜Assistant｜><think>\n{% endif %}"
)
KWARGS = [{}, {"chat_template": CUSTOM_TEMPLATE}]


def replies(tokenizer) -> list[list[int]]:
    texts = [render_summary_segment("1+2 is 3.", "3 so far"), render_conclusion_segment("3+3 is 6.", "\\boxed{6}")]
    return [tokenizer(text, add_special_tokens=False)["input_ids"] + [EOS] for text in texts]


class ScriptedServer:
    """Stands in for verl's server client (no vLLM here): records prompts, answers from a script."""

    def __init__(self, script: list[list[int]]):
        self.script, self.prompts = list(script), []

    async def generate(self, request_id, prompt_ids, sampling_params, **kwargs) -> TokenOutput:
        self.prompts.append(list(prompt_ids))
        ids = self.script.pop(0)[: sampling_params["max_tokens"]]
        return TokenOutput(token_ids=ids, log_probs=[-0.5] * len(ids), stop_reason="completed", extra_fields={})


class ScriptedBackend:
    """Stands in for eval's generation backend (vLLM): records prompts, answers from a script."""

    def __init__(self, tokenizer, script: list[list[int]], finish_reason: str = "stop"):
        self.tokenizer, self.script, self.prompts, self.finish_reason = tokenizer, list(script), [], finish_reason

    def generate(self, prompts, max_tokens, settings) -> list[Completion]:
        self.prompts += [list(p) for p in prompts]
        out = []
        for _ in prompts:
            ids = self.script.pop(0)[:max_tokens]
            out.append(Completion(ids, self.tokenizer.decode(ids, skip_special_tokens=True), self.finish_reason, 0.0))
        return out


def training_config(kwargs: dict):
    return OmegaConf.create({
        "actor_rollout_ref": {"rollout": {"prompt_length": 256, "response_length": 256, "multi_turn": {}}},
        "data": {"apply_chat_template_kwargs": kwargs},
        "schedule": {"shape": "constant", "length": 256},
        "inftythink": {"max_segments": 4, "segment_cap": 256, "reward_variant": "task", "schedule_target": "none"},
        "siri_verl": {"uncapped_splits": ["val", "test"]},
    })  # fmt: skip


def eval_config(kwargs: dict, max_tokens: int = 256):
    return OmegaConf.create({"max_tokens": max_tokens, "apply_chat_template_kwargs": kwargs,
                             "inftythink": {"max_segments": 4, "segment_cap": 256}})  # fmt: skip


PROBLEM = Problem(0, QUESTION, MESSAGES, "6", "math")


@pytest.mark.parametrize("kwargs", KWARGS, ids=["template", "template_kwargs"])
def test_eval_long_prompt_is_the_siri_loops_prompt(r1_tokenizer, kwargs):
    server = ScriptedServer(replies(r1_tokenizer)[1:])
    run_agent_loop(SiriLengthAgentLoop, r1_tokenizer, server, training_config(kwargs), {"temperature": 1.0},
                   raw_prompt=MESSAGES, global_steps=0, extra_info={"split": "train"})  # fmt: skip
    backend = ScriptedBackend(r1_tokenizer, replies(r1_tokenizer)[1:])
    _long_mode(backend, [PROBLEM], eval_config(kwargs), SamplingSettings())
    assert backend.prompts == server.prompts
    if kwargs:
        assert "Answer in \\boxed{}." in r1_tokenizer.decode(backend.prompts[0])


@pytest.mark.parametrize("kwargs", KWARGS, ids=["template", "template_kwargs"])
def test_eval_iterative_prompts_are_the_inftythink_loops_prompts(r1_tokenizer, kwargs):
    server = ScriptedServer(replies(r1_tokenizer))
    run_agent_loop(InftyThinkAgentLoop, r1_tokenizer, server, training_config(kwargs), {"temperature": 1.0},
                   raw_prompt=MESSAGES, global_steps=0)  # fmt: skip
    backend = ScriptedBackend(r1_tokenizer, replies(r1_tokenizer))
    _inftythink_mode(backend, [PROBLEM], eval_config(kwargs), SamplingSettings())
    assert len(server.prompts) == 2 and backend.prompts == server.prompts


def test_eval_judges_the_cap_by_the_training_rule(r1_tokenizer):
    """A response that ends (EOS) on its last allowed token finished; one cut before its end did not."""
    ended = replies(r1_tokenizer)[1]
    cut = ended[:-1]
    for ids, reason in ((ended, "length"), (cut, "length"), (cut, "stop")):
        backend = ScriptedBackend(r1_tokenizer, [ids], finish_reason=reason)
        (record,) = _long_mode(backend, [PROBLEM], eval_config({}, max_tokens=len(ids)), SamplingSettings())
        assert record["truncated"] is used_whole_budget(ids, len(ids), {EOS}, reason), (ids[-1], reason)
    assert used_whole_budget(ended, len(ended), {EOS}, "length") is False
