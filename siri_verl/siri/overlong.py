"""Reward shaping against the step's response cap L(t) (docs/siri.md).

Pure functions of numbers; the correctness check itself (answer extraction, math equivalence)
lives in :mod:`siri_verl.reward`, whose result is passed in as ``base_score``.

* :func:`length_capped_score` is SIRI's (and ThinkPrune's) reward: a response that does not
  finish within the step's cap ``L(t)`` scores 0, whatever it says; otherwise the base score.
  The paper adds no other length penalty: this zero is the whole compression signal.
* :func:`overlong_penalty` is DAPO's soft overlong punishment, taken against the moving cap
  ``L(t)`` instead of a fixed maximum (DAPO: L_max 20480, L_cache 4096).
"""

from __future__ import annotations

from siri_verl.errors import require_int

__all__ = ["length_capped_score", "overlong_penalty"]




def length_capped_score(response_token_count: int, cap: int, finished: bool, base_score: float) -> float:
    """SIRI's length-capped reward.

    ``response_token_count``: tokens generated for the response (before any truncation).
    ``cap``: the step's cap ``L(t)`` in tokens.
    ``finished``: whether generation stopped on its own (EOS/stop string) rather than at the cap.
    ``base_score``: the score of the response as if uncapped (1.0 correct, 0.0 not).

    Returns 0.0 if the response is longer than ``cap`` or did not finish, else ``base_score``.
    A response of exactly ``cap`` tokens that finished keeps its score.
    """
    response_token_count = require_int("response_token_count", response_token_count, minimum=0)
    cap = require_int("cap", cap, minimum=1)
    if not finished or response_token_count > cap:
        return 0.0
    return float(base_score)


def overlong_penalty(response_len: int, cap: int, cache_len: int) -> float:
    """DAPO's soft overlong punishment against the step's cap.

    0 for ``response_len <= cap - cache_len``; linear from 0 down to -1 over
    ``(cap - cache_len, cap]`` (exactly -1 at ``cap``); -1 beyond ``cap``.
    Requires ``0 <= cache_len < cap``; ``cache_len == 0`` is a hard step at the cap.
    """
    response_len = require_int("response_len", response_len, minimum=0)
    cap = require_int("cap", cap, minimum=1)
    cache_len = require_int("cache_len", cache_len, minimum=0)
    if cache_len >= cap:
        raise ValueError(f"cache_len ({cache_len}) must be < cap ({cap})")
    if response_len > cap:
        return -1.0
    free = cap - cache_len
    if response_len <= free:
        return 0.0
    return -(response_len - free) / cache_len
