"""SIRI's length-capped reward, in verl's custom reward signature.

The reward is 1 for a correct answer and 0 otherwise, and 0 for every response cut at L(t),
even one whose correct ``\boxed{}`` came before the cap (docs/siri.md, "The reward at the cap",
says why this is the paper's reading). The ``siri_length`` agent loop generates at most L(t)
tokens and marks a response that reached the cap without ending as ``truncated``; the answer
checker (``siri_verl.reward``) scores those 0 (reason ``truncated``).

Optionally (``reward.custom_reward_function.reward_kwargs.overlong_cache_len > 0``) DAPO's soft
overlong punishment is added, computed against the step's cap L(t) rather than a fixed length.

Every result also carries ``response_tokens``, so verl's validation logs mean tokens per
benchmark (``val-aux/<benchmark>/response_tokens/mean@N``) beside accuracy: the Pareto points
along training.
"""

from __future__ import annotations

from siri_verl.reward import compute_score as check_answer
from siri_verl.siri.overlong import overlong_penalty


def compute_score(data_source, solution_str, ground_truth, extra_info=None, overlong_cache_len: int = 0, **kwargs) -> dict:
    extra_info = extra_info or {}
    result = dict(check_answer(data_source, solution_str, ground_truth, extra_info, **kwargs))
    tokens = extra_info.get("response_tokens")
    if tokens is not None:
        result["response_tokens"] = float(tokens)
    cap = extra_info.get("siri_cap")
    if overlong_cache_len and cap is not None and tokens is not None:
        penalty = overlong_penalty(int(tokens), int(cap), int(overlong_cache_len))
        result["overlong_penalty"] = penalty
        result["score"] = float(result["score"]) + penalty
    return result
