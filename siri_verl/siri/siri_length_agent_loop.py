"""The ``siri_length`` agent loop: single-turn generation capped at the schedule's L(global_step).

verl's ``rollout.response_length`` stays at the schedule's maximum (it is also the tensor
width and the truncation ceiling); each request instead carries ``max_tokens = L(t)``, which
the vLLM, SGLang and ``hf`` servers honour per request.

A response that reaches the cap without ending (or the context room, when
``rollout.max_model_len`` cut it first: ``siri_verl/request_budget.py``) is marked ``truncated`` in
its ``extra_fields``;
verl hands those fields to the reward function as ``extra_info``, where
``siri_verl.reward.compute_score`` scores it 0 — the paper's whole compression signal.

Held-out rows (``extra_info.split`` in ``siri_verl.uncapped_splits``, default val/test) are
generated with the full budget, so validation measures the model, not the current cap.

The schedule comes from ``siri_verl/siri/schedule.py:schedule_of``, the settings from
``siri_verl/project_settings.py``.
"""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf
from verl.experimental.agent_loop.agent_loop import AgentLoopOutput, register
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop

from siri_verl.chat_protocol import route_by_chat_protocol
from siri_verl.project_settings import SiriVerlSettings
from siri_verl.request_budget import (
    MAX_MODEL_LEN_KEY,
    context_room,
    eos_token_ids,
    finish_reason,
    request_max_tokens,
    used_whole_budget,
)
from siri_verl.siri.schedule import schedule_of

AGENT_NAME = "siri_length"


@register(AGENT_NAME)
class SiriLengthAgentLoop(SingleTurnAgentLoop):
    """verl's single-turn loop with a per-step ``max_tokens``; see the module docstring."""

    def __init__(self, *args, **kwargs):
        # R1-Distill-Qwen is qwen2 by architecture but speaks DeepSeek-R1's chat protocol.
        super().__init__(*args, **route_by_chat_protocol(kwargs))
        self.schedule = schedule_of(self.config)
        self.uncapped_splits = set(SiriVerlSettings.of(self.config).uncapped_splits)
        self.eos_token_ids = eos_token_ids(self.tokenizer)

    def cap_for(self, global_steps: int, extra_info: dict | None) -> int:
        """The request's ``max_tokens``: L(global_steps) (held-out rows: the full budget), >= 1.

        The prompt is tokenized inside verl's ``SingleTurnAgentLoop.run``, so the context room is
        left to the server, which clamps to it; a prompt leaving no room at all is refused there
        (verl's vLLM server raises, naming the prompt length and ``max_model_len``): SIRI's
        prompts are the data set's, bounded by ``data.max_prompt_length``, so that is a config
        error to fix, not a response to score.
        """
        if (extra_info or {}).get("split") in self.uncapped_splits:
            return request_max_tokens(self.response_length)
        return request_max_tokens(min(self.schedule.length(max(int(global_steps), 0)), self.response_length))

    async def run(self, sampling_params: dict[str, Any], **kwargs) -> AgentLoopOutput:
        cap = self.cap_for(kwargs.get("global_steps", 0), kwargs.get("extra_info"))
        output = await super().run({**sampling_params, "max_tokens": cap}, **kwargs)
        # The server may have cut the response earlier, where the context filled up: still truncated.
        room = context_room(len(output.prompt_ids), OmegaConf.select(self.config, MAX_MODEL_LEN_KEY))
        budget = cap if room is None else min(cap, room)
        reason = finish_reason(None, output.extra_fields)
        output.extra_fields.update(
            siri_cap=cap,
            truncated=used_whole_budget(output.response_ids, budget, self.eos_token_ids, reason),
            response_tokens=len(output.response_ids),
        )
        return output
