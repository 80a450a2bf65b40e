"""Iterative inference: the InftyThink+ protocol outside training, for evaluation.

The same prompts, parser and stop rules as the ``inftythink`` agent loop, driven by an
offline generation backend (``siri_verl.generation``). All trajectories advance in lock-step:
each round sends the next segment of every unfinished trajectory as one batch, so a backend
like vLLM sees as many requests at once as there are trajectories still running.
"""

from __future__ import annotations

from dataclasses import dataclass

from siri_verl.generation import GenerationBackend, SamplingSettings
from siri_verl.inftythink.protocol import GenerationResult, IterativeState, TrajectoryResult
from siri_verl.prompt_render import render_prompt_ids
from siri_verl.request_budget import eos_token_ids, used_whole_budget


@dataclass
class IterativeOutcome:
    trajectory: TrajectoryResult
    # Wall time of the rounds this trajectory took part in (each round is one batch).
    latency_s: float
    # The longest single call's context: prompt (question + <history>) plus its generated tokens.
    # InftyThink's memory claim is about this, not the trajectory's total tokens.
    peak_context: int = 0

    @property
    def final_text(self) -> str:
        """What the answer checker reads: the last segment's output."""
        return self.trajectory.records[-1].generation.text


def run_iterative_batch(
    backend: GenerationBackend,
    questions: list[str],
    max_segments: int,
    segment_cap: int,
    settings: SamplingSettings,
    chat_template_kwargs: dict | None = None,
) -> list[IterativeOutcome]:
    """Run one trajectory per question; outcomes come back in the questions' order.

    Prompts are rendered and a segment's cap is judged as in training (``siri_verl/prompt_render.py``).
    """
    eos = eos_token_ids(backend.tokenizer)
    states = [IterativeState(question, max_segments) for question in questions]
    latency = [0.0] * len(states)
    peak_context = [0] * len(states)
    while True:
        running = [i for i, state in enumerate(states) if not state.done]
        if not running:
            break
        prompts = [render_prompt_ids(backend.tokenizer, *states[i].next_prompt(), chat_template_kwargs) for i in running]
        completions = backend.generate(prompts, segment_cap, settings)
        for i, prompt, completion in zip(running, prompts, completions):
            latency[i] += completion.latency_s
            peak_context[i] = max(peak_context[i], len(prompt) + len(completion.token_ids))
            states[i].record(
                GenerationResult(
                    text=completion.text,
                    num_tokens=len(completion.token_ids),
                    hit_token_cap=used_whole_budget(completion.token_ids, segment_cap, eos, completion.finish_reason),
                )
            )
    return [
        IterativeOutcome(state.result(), seconds, peak)
        for state, seconds, peak in zip(states, latency, peak_context)
    ]
