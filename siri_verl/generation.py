"""The sampling contract of offline generation: what a backend takes and what it returns.

:class:`SamplingSettings` in (the CPU rollout server batches requests by them too), one
:class:`Completion` per prompt out, through a :class:`GenerationBackend`. The backends
themselves and their registry are siri_verl/generation_backends.py. Training never goes through
here: verl's rollout servers do that.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SamplingSettings:
    """The per-request settings that change the sampling distribution (requests are batched per value)."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1

    @classmethod
    def from_request(cls, sampling_params: dict) -> "SamplingSettings":
        return cls(
            temperature=float(sampling_params.get("temperature", 1.0)),
            top_p=float(sampling_params.get("top_p", 1.0)),
            top_k=int(sampling_params.get("top_k", -1) or -1),
        )

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass
class Completion:
    """One continuation of one prompt."""

    token_ids: list[int]
    text: str
    # "stop" (ended by EOS / a stop string) or "length" (hit max_tokens).
    finish_reason: str
    latency_s: float


class GenerationBackend:
    """``generate(prompts, max_tokens, settings) -> completions`` (one per prompt, in order)."""

    tokenizer = None
    # The packages whose versions identify the engine (the eval protocol records them).
    engine_packages: tuple[str, ...] = ()

    def generate(self, prompts: list[list[int]], max_tokens: int, settings: SamplingSettings) -> list[Completion]:
        raise NotImplementedError
