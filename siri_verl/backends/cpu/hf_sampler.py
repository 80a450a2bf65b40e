"""Batched sampling with a Hugging Face causal LM: the engine behind the CPU rollout server
(``siri_verl/backends/cpu/rollout.py``) and the ``cpu`` offline generation backend
(``siri_verl/generation_backends.py``); the sampling settings it takes are ``siri_verl/generation.py``'s.

Pure torch, no Ray, so the tests can check it directly against a teacher-forced forward pass.
Log-probs are those of the distribution actually sampled from: logits divided by the
temperature, then top-k and top-p filtering, then log-softmax (greedy is temperature 0 and
reports the log-prob under the unscaled logits).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from siri_verl.generation import SamplingSettings


def load_model(path: str):
    """A Hugging Face causal LM to sample from on the CPU: fp32, SDPA attention, eval mode."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa")
    model.eval()
    return model


def processed_logprobs(logits: torch.Tensor, settings: SamplingSettings) -> torch.Tensor:
    """Log-probs of the sampling distribution.

    Args:
        logits: ``(batch, vocab)`` raw next-token logits.

    Returns:
        ``(batch, vocab)`` log-probs; filtered-out tokens are ``-inf``.
    """
    logits = logits.float()
    if not settings.greedy:
        logits = logits / settings.temperature
    if settings.top_k > 0 and settings.top_k < logits.shape[-1]:
        kth = torch.topk(logits, settings.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if settings.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        # Drop a token when the tokens ranked above it already cover top_p (the first always stays).
        drop_sorted = (cumulative - torch.softmax(sorted_logits, dim=-1)) >= settings.top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return torch.log_softmax(logits, dim=-1)


@dataclass
class Generation:
    token_ids: list[int]
    log_probs: list[float]
    # "stop" when the model ended with EOS, "length" when it hit its max_tokens.
    finish_reason: str


def _sample(probs: torch.Tensor, generator: torch.Generator | list[torch.Generator] | None) -> torch.Tensor:
    """One token per row of ``probs`` ``(batch, vocab)`` -> ``(batch,)``."""
    if isinstance(generator, list):
        return torch.cat([torch.multinomial(row, 1, generator=stream) for row, stream in zip(probs, generator)])
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate_batch(
    model,
    prompts: list[list[int]],
    max_tokens: list[int],
    settings: SamplingSettings,
    eos_token_ids: set[int],
    pad_token_id: int,
    generator: torch.Generator | list[torch.Generator] | None = None,
    device: torch.device | str = "cpu",
) -> list[Generation]:
    """Sample continuations for several prompts at once, each up to its own ``max_tokens``.

    ``generator`` is one random stream for the whole batch, or one per row: with a stream per
    row, what a row samples does not depend on which other rows share its batch (the rollout
    server seeds one per request, so that a run is reproducible whatever the batching).
    ``device`` is the model's; the generators, when given, must live there too.

    Prompts are left-padded to ``(batch, max_prompt_len)``; position ids skip the padding so a
    padded row computes exactly what it would alone. A row stops at EOS (kept in its output) or
    at its own ``max_tokens``; the batch stops when every row has stopped.
    """
    batch = len(prompts)
    width = max(len(p) for p in prompts)
    input_ids = torch.full((batch, width), pad_token_id, dtype=torch.long, device=device)
    attention_mask = torch.zeros((batch, width), dtype=torch.long, device=device)
    for row, prompt in enumerate(prompts):
        input_ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
        attention_mask[row, width - len(prompt) :] = 1

    outputs = [Generation([], [], "length") for _ in range(batch)]
    active = torch.tensor([m > 0 for m in max_tokens], device=device)
    past = None
    step_input = input_ids
    for step in range(max(max_tokens, default=0)):
        if not bool(active.any()):
            break
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)[:, -step_input.shape[1] :]
        result = model(
            input_ids=step_input,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past,
            use_cache=True,
        )
        past = result.past_key_values
        logprobs = processed_logprobs(result.logits[:, -1, :], settings)
        if settings.greedy:
            next_tokens = logprobs.argmax(dim=-1)
        else:
            next_tokens = _sample(logprobs.exp(), generator)
        chosen = logprobs.gather(-1, next_tokens[:, None]).squeeze(-1)
        # One conversion per step, not one tensor index per row and token.
        tokens, token_logprobs, still_active = next_tokens.tolist(), chosen.tolist(), active.tolist()
        for row in range(batch):
            if not still_active[row]:
                continue
            token = tokens[row]
            outputs[row].token_ids.append(token)
            outputs[row].log_probs.append(token_logprobs[row])
            if token in eos_token_ids:
                outputs[row].finish_reason = "stop"
                still_active[row] = False
            elif len(outputs[row].token_ids) >= max_tokens[row]:
                still_active[row] = False
        active = torch.tensor(still_active)
        # Finished rows keep decoding padding so the batch stays rectangular; it is never returned.
        next_tokens = torch.where(active, next_tokens, torch.full_like(next_tokens, pad_token_id))
        step_input = next_tokens[:, None]
        attention_mask = torch.cat([attention_mask, active.long()[:, None]], dim=-1)
    return outputs
