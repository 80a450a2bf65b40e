"""The trajectory-level reward of InftyThink+, in verl's custom reward signature.

verl scores only a trajectory's final segment (its ``extra_fields`` arrive as ``extra_info``)
and copies that reward to the earlier segments. The task reward is the answer check of the
final segment's conclusion; a trajectory that stopped for any other reason (invalid format,
φ reached, η hit without a summary) has no conclusion and scores 0. The variant then shapes
it: ``task`` (T) keeps it, ``task_eff`` (T+E) multiplies by ``1 - ((n-1)/φ)^2``.

``acc`` (what verl's ``val-core`` reports) is the trajectory's task outcome: correct AND
concluded. A trajectory stopped by φ or an invalid segment may still end in a ``\boxed{}``
the checker accepts; that verdict is kept as ``answer_acc`` and does not count as solved.

Rows that are not InftyThink trajectories (long-CoT validation, say) are scored as usual.
"""

from __future__ import annotations

from siri_verl.inftythink.shaping import trajectory_reward
from siri_verl.reward import compute_score as check_answer


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict:
    extra_info = extra_info or {}
    result = dict(check_answer(data_source, solution_str, ground_truth, extra_info))
    num_segments = extra_info.get("inftythink_num_segments")
    if num_segments is None:
        return result
    concluded = extra_info.get("inftythink_stop_reason") == "conclusion"
    task = float(result["score"]) if concluded else 0.0
    result["task_score"] = task
    result["answer_acc"] = bool(result["acc"])
    result["acc"] = bool(result["acc"]) and concluded
    result["num_segments"] = int(num_segments)
    # Tokens of the whole trajectory: validation logs them per benchmark beside accuracy.
    result["response_tokens"] = float(extra_info.get("response_tokens", 0))
    result["score"] = trajectory_reward(
        task, int(num_segments), int(extra_info["inftythink_max_segments"]), extra_info["inftythink_reward_variant"]
    )
    return result
