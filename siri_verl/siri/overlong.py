"""DAPO's soft overlong punishment against the step's response cap L(t) (docs/siri.md).

A pure function of numbers, optional in SIRI's reward (``siri_verl/siri/siri_reward.py``:
``overlong_cache_len > 0``), taken against the moving cap ``L(t)`` instead of a fixed maximum
(DAPO: L_max 20480, L_cache 4096). SIRI's own signal is not here: a response that does not
finish within ``L(t)`` scores 0 (the agent loop marks it ``truncated``, ``siri_verl.reward``
scores it), and the paper adds no other length penalty.
"""

from __future__ import annotations

from siri_verl.errors import require_int

__all__ = ["overlong_penalty"]


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
