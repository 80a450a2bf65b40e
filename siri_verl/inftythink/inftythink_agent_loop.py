"""The ``inftythink`` agent loop: one InftyThink+ trajectory, one verl training row per segment.

For one question it runs :class:`~siri_verl.inftythink.protocol.IterativeState`: segment 1
is prompted with the question, segment i > 1 with the question plus the previous summary as
``<history>`` at the start of the assistant turn; each generation is capped at η tokens
(``max_tokens``, lowered to the room the prompt leaves in ``rollout.max_model_len``:
``siri_verl/request_budget.py``); the trajectory stops on a conclusion, an invalid segment, φ
segments, a segment that used its budget without a summary (``protocol.next_action``), or a
history-grown prompt that leaves no room for another segment (``context_full``).

It returns a LIST of ``AgentLoopOutput`` (verl's V1 trainer takes one row per element). The
reward is computed on the last element only and copied by verl to the others; GRPO group
statistics use the final rows and the advantage is broadcast to every segment of the
trajectory (``verl/trainer/ppo/v1/utils.py::compute_advantage_for_multi_trajectories``). The
final row's ``extra_fields`` carry what the trajectory-level reward needs
(``siri_verl.inftythink.inftythink_reward.compute_score``): segment count, φ, the reward variant and
the stop reason.

Settings come from the top-level ``inftythink`` config section (conf/agent_loop/inftythink.yaml),
read by ``siri_verl/inftythink/settings.py``.
With ``inftythink.schedule_target`` set, the SIRI schedule drives η(t) or φ(t) (siri_inftythink).
"""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

from omegaconf import OmegaConf
from verl.experimental.agent_loop.agent_loop import (
    AgentLoopBase,
    AgentLoopOutput,
    register,
)
from verl.utils.profiler import simple_timer

from siri_verl.chat_protocol import route_by_chat_protocol
from siri_verl.inftythink.protocol import GenerationResult, IterativeState, StopReason
from siri_verl.inftythink.settings import AGENT_NAME, InftyThinkSettings
from siri_verl.prompt_render import render_prompt_ids
from siri_verl.request_budget import (
    MAX_MODEL_LEN_KEY,
    NoRoomToGenerate,
    eos_token_ids,
    finish_reason,
    request_max_tokens,
    used_whole_budget,
)
from siri_verl.siri.schedule import schedule_of


@register(AGENT_NAME)
class InftyThinkAgentLoop(AgentLoopBase):
    """Runs the segments of one trajectory; see the module docstring."""

    def __init__(self, *args, **kwargs):
        # R1-Distill-Qwen is qwen2 by architecture but speaks DeepSeek-R1's chat protocol.
        super().__init__(*args, **route_by_chat_protocol(kwargs))
        self.settings = InftyThinkSettings.from_config(self.config)
        self.response_length = self.rollout_config.response_length
        self.eos_token_ids = eos_token_ids(self.tokenizer)

    async def run(self, sampling_params: dict[str, Any], **kwargs) -> list[AgentLoopOutput]:
        question = list(kwargs["raw_prompt"])[-1]["content"]
        schedule = schedule_of(self.config) if self.settings.scheduled else None
        max_segments, segment_cap = self.settings.at_step(schedule, kwargs.get("global_steps", 0))
        state = IterativeState(question, max_segments)
        outputs: list[AgentLoopOutput] = []
        started = time.perf_counter()
        max_model_len = OmegaConf.select(self.config, MAX_MODEL_LEN_KEY)
        while not state.done:
            messages, prefix = state.next_prompt()
            prompt_ids = render_prompt_ids(self.tokenizer, messages, prefix, self.apply_chat_template_kwargs)
            try:
                # η, bounded by the room the history-grown prompt leaves in max_model_len, >= 1.
                max_tokens = request_max_tokens(segment_cap, len(prompt_ids), max_model_len)
            except NoRoomToGenerate:
                if not outputs:  # the question alone fills the context: nothing to train on
                    raise
                state.stop_reason = StopReason.CONTEXT_FULL
                break
            metrics: dict = {}
            with simple_timer("generate_sequences", metrics):
                token_output = await self.server_manager.generate(
                    request_id=uuid4().hex,
                    prompt_ids=prompt_ids,
                    sampling_params={**sampling_params, "max_tokens": max_tokens},
                )
            response_ids = list(token_output.token_ids)[: self.response_length]
            # Cut at η or where the context filled up, before a summary: either way "token_cap".
            reason = finish_reason(token_output.stop_reason, token_output.extra_fields)
            hit_cap = used_whole_budget(response_ids, max_tokens, self.eos_token_ids, reason)
            text = self.tokenizer.decode(response_ids, skip_special_tokens=True)
            state.record(GenerationResult(text=text, num_tokens=len(response_ids), hit_token_cap=hit_cap))
            metrics.setdefault("num_preempted", -1)
            logprobs = token_output.log_probs[: len(response_ids)] if token_output.log_probs else None
            outputs.append(
                AgentLoopOutput(
                    prompt_ids=prompt_ids,
                    response_ids=response_ids,
                    response_mask=[1] * len(response_ids),
                    response_logprobs=logprobs,
                    num_turns=2,
                    metrics=metrics,
                    extra_fields={
                        **token_output.extra_fields,
                        "inftythink_segment_index": len(outputs),
                        "inftythink_segment_tokens": len(response_ids),
                        "turn_scores": [],
                        "tool_rewards": [],
                    },
                )
            )
        result = state.result()
        summaries = [rec.segment.summary for rec in result.records if rec.segment.summary is not None]
        trajectory_fields = {
            "inftythink_num_segments": result.num_segments,
            "inftythink_max_segments": max_segments,
            "inftythink_segment_cap": segment_cap,
            "inftythink_reward_variant": self.settings.reward_variant,
            "inftythink_stop_reason": result.stop_reason.value,
            "inftythink_total_tokens": result.total_tokens,
            "response_tokens": result.total_tokens,
            "inftythink_summary_tokens": sum(len(self.tokenizer.encode(s, add_special_tokens=False)) for s in summaries),
            "inftythink_num_summaries": len(summaries),
            "inftythink_latency_s": time.perf_counter() - started,
            # Out of token budget before a conclusion: η within a segment, or the whole context.
            "truncated": result.stop_reason in (StopReason.TOKEN_CAP, StopReason.CONTEXT_FULL),
        }
        for output in outputs:
            output.extra_fields["inftythink_is_final"] = output is outputs[-1]
        outputs[-1].extra_fields.update(trajectory_fields)
        return outputs
