"""Offline generation backends for evaluation, iterative inference and cold-start data.

A backend turns token-id prompts into continuations under the sampling contract of
siri_verl/generation.py. Two are defined here:

- ``cpu``: the HF-transformers sampler of the CPU rollout server (backends/cpu/hf_sampler.py),
  batched, for tiny models and tests;
- ``vllm``: ``vllm.LLM`` on GPUs (the ``gpu`` extra), for real models.

Catalogues (siri_verl/catalogues.py) add others: the lab's ``toy_rule``, the toy study's
rule-based cold-start summariser (siri_verl/lab/rule_summariser.py). Select one by name with
:func:`make_backend`; add one with ``@register_backend("name")``.
"""

from __future__ import annotations

import time
from typing import Callable

from siri_verl.catalogues import Registry
from siri_verl.generation import Completion, GenerationBackend
from siri_verl.request_budget import eos_token_ids

_BACKENDS: Registry[Callable[..., GenerationBackend]] = Registry("generation backend")
# ``@register_backend("name")`` on a class or factory ``(model_path, **options) -> GenerationBackend``.
register_backend = _BACKENDS.register


def backend_names() -> list[str]:
    """Every registered backend, the catalogues' included."""
    return _BACKENDS.names()


def make_backend(name: str, model_path: str, **options) -> GenerationBackend:
    return _BACKENDS.get(name)(model_path, **options)


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
