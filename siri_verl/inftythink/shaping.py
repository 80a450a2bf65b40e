"""InftyThink+ trajectory reward (docs/inftythink.md, "RL (stage 2)").

One scalar per trajectory, shared by all its segments. ``task_reward`` is R_task, the answer
checker's score of the LAST segment's conclusion (1.0 correct, 0.0 otherwise; 0.0 too when the
trajectory stopped without a conclusion). Variants, selected by ``inftythink.reward_variant``:

* ``"task"`` (the paper's "T"): ``R = R_task``.
* ``"task_eff"`` (the paper's "T+E"): ``R = R_task * R_eff`` with
  ``R_eff = 1 - ((n - 1) / phi) ** 2``, a quadratic penalty on the number of segments n
  (``phi = inftythink.max_segments``). R_eff is 1 for one segment and ``1 - ((phi-1)/phi)**2``
  (> 0) for phi segments, so a correct answer always beats a wrong one.
"""

from __future__ import annotations

from collections.abc import Callable

from siri_verl.errors import require_int

__all__ = ["REWARD_VARIANTS", "efficiency_factor", "trajectory_reward"]




def efficiency_factor(num_segments: int, max_segments: int) -> float:
    """R_eff = 1 - ((n - 1) / phi) ** 2 for ``1 <= n <= phi``."""
    max_segments = require_int("inftythink.max_segments", max_segments, minimum=1)
    num_segments = require_int("num_segments", num_segments, minimum=1)
    if num_segments > max_segments:
        raise ValueError(f"num_segments ({num_segments}) must be <= inftythink.max_segments ({max_segments})")
    return 1.0 - ((num_segments - 1) / max_segments) ** 2


# variant -> R(task_reward, num_segments, max_segments); arguments are validated by the caller.
REWARD_VARIANTS: dict[str, Callable[[float, int, int], float]] = {
    "task": lambda task, n, phi: task,
    "task_eff": lambda task, n, phi: task * efficiency_factor(n, phi),
}


def trajectory_reward(task_reward: float, num_segments: int, max_segments: int, variant: str) -> float:
    """The reward of one trajectory of ``num_segments`` segments under ``variant``."""
    if variant not in REWARD_VARIANTS:
        raise ValueError(f"inftythink.reward_variant must be one of {sorted(REWARD_VARIANTS)}, got {variant!r}")
    # Validate n and phi for every variant, so "task" catches the same bad inputs as "task_eff".
    efficiency_factor(num_segments, max_segments)
    return float(REWARD_VARIANTS[variant](float(task_reward), num_segments, max_segments))
