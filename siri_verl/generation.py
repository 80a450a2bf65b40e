"""Offline generation backends shared by evaluation, iterative inference and cold-start data.

A backend turns token-id prompts into continuations. Three are registered:

- ``cpu``: the HF-transformers sampler of the CPU rollout server (backends/cpu/hf_sampler.py),
  batched, for tiny models and tests;
- ``vllm``: ``vllm.LLM`` on GPUs (the ``gpu`` extra), for real models;
- ``toy_rule``: no model, the toy study's rule-based cold-start summariser (running sums).

Select one by name with :func:`make_backend`; add one with ``@register_backend("name")``.
The sampling contract is defined here: :class:`SamplingSettings` in (the CPU rollout server takes
them too), one :class:`Completion` per prompt out.
Training never goes through here: verl's rollout servers do that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from siri_verl.request_budget import eos_token_ids


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


_BACKENDS: dict[str, Callable[..., "GenerationBackend"]] = {}


def register_backend(name: str):
    def decorator(factory):
        _BACKENDS[name] = factory
        return factory

    return decorator


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


def make_backend(name: str, model_path: str, **options) -> "GenerationBackend":
    if name not in _BACKENDS:
        raise ValueError(f"unknown generation backend {name!r}; known: {sorted(_BACKENDS)}")
    return _BACKENDS[name](model_path, **options)


class GenerationBackend:
    """``generate(prompts, max_tokens, settings) -> completions`` (one per prompt, in order)."""

    tokenizer = None
    # The packages whose versions identify the engine (the eval protocol records them).
    engine_packages: tuple[str, ...] = ()

    def generate(self, prompts: list[list[int]], max_tokens: int, settings: SamplingSettings) -> list[Completion]:
        raise NotImplementedError


@register_backend("cpu")
class HFBackend(GenerationBackend):
    """Batched sampling with an HF model on the CPU (``batch_size`` prompts per forward)."""

    engine_packages = ("transformers", "torch")

    def __init__(self, model_path: str, batch_size: int = 32, seed: int = 0):
        # torch and the sampler load only when a cpu backend is built.
        import torch
        from transformers import AutoTokenizer

        from siri_verl.backends.cpu.hf_sampler import load_model

        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = load_model(model_path)
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.eos_token_ids = eos_token_ids(self.tokenizer, self.model.generation_config)
        pad = self.tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else self.tokenizer.eos_token_id

    def generate(self, prompts, max_tokens, settings):
        from siri_verl.backends.cpu.hf_sampler import generate_batch

        completions = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            began = time.perf_counter()
            generations = generate_batch(
                self.model, chunk, [max_tokens] * len(chunk), settings, self.eos_token_ids, self.pad_token_id, self.generator
            )
            # The batch decodes together; each request waited for the whole batch.
            latency = time.perf_counter() - began
            for generation in generations:
                text = self.tokenizer.decode(generation.token_ids, skip_special_tokens=True)
                completions.append(Completion(generation.token_ids, text, generation.finish_reason, latency))
        return completions


@register_backend("vllm")
class VLLMBackend(GenerationBackend):
    """``vllm.LLM`` over token prompts; ``options`` go to ``vllm.LLM`` (tensor_parallel_size...)."""

    engine_packages = ("vllm", "torch")

    def __init__(self, model_path: str, seed: int = 0, **options):
        try:
            from vllm import LLM
        except ImportError as error:
            raise RuntimeError("the vllm backend needs the gpu extra: pip install 'siri-verl[gpu]'") from error
        self.llm = LLM(model=model_path, seed=seed, **options)
        self.tokenizer = self.llm.get_tokenizer()

    def generate(self, prompts, max_tokens, settings):
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = SamplingParams(
            max_tokens=max_tokens,
            temperature=max(settings.temperature, 0.0),
            top_p=settings.top_p,
            top_k=settings.top_k,
        )
        began = time.perf_counter()
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params, use_tqdm=False)
        latency = time.perf_counter() - began
        completions = []
        for output in outputs:
            sample = output.outputs[0]
            finish = "length" if sample.finish_reason == "length" else "stop"
            completions.append(Completion(list(sample.token_ids), sample.text, finish, latency))
        return completions


@register_backend("toy_rule")
class ToyRuleSummariser(GenerationBackend):
    """The summariser of the toy InftyThink+ cold start: a rule, not a model.

    Each prompt is a cold-start summariser request (``FIRST_PROMPT`` / ``UPDATE_PROMPT`` of
    ``siri_verl.inftythink.coldstart``, chat-rendered); the reply is the running-sum state after
    the reasoning in it, ``"<sum>|<digits left>"`` (``siri_verl.data.running_sums.summary_of``),
    the same for every sampling setting. ``model_path`` is the directory of the tokenizer that
    renders and reads the requests (any HF tokenizer; the toy reasoner's in the toy study).
    """

    engine_packages = ("transformers",)

    def __init__(self, model_path: str, seed: int = 0):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_path)

    def generate(self, prompts, max_tokens, settings):
        from siri_verl.data.running_sums import summary_of

        completions = []
        for prompt in prompts:
            began = time.perf_counter()
            text = summary_of(self.tokenizer.decode(prompt, skip_special_tokens=True))
            token_ids = [*self.tokenizer(text, add_special_tokens=False)["input_ids"], self.tokenizer.eos_token_id]
            finish = "stop" if len(token_ids) <= max_tokens else "length"
            completions.append(Completion(token_ids[:max_tokens], text, finish, time.perf_counter() - began))
        return completions

