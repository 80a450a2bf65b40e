"""Which reward function scores each agent loop's rows, and with which reward manager.

An agent loop decides what its rows mean (one response; or a trajectory of segments whose
final row carries the trajectory's fields), so the reward that reads them belongs to the loop:
``conf/agent_loop/<group option>.yaml`` sets ``reward.custom_reward_function`` and
``reward.reward_manager`` beside ``default_agent_loop``, and every recipe gets its reward by
choosing its agent loop. This table is the pairing those files must follow;
``tests/reward/test_reward_path_on_cpu.py`` checks every shipped recipe's composed config against it.
"""

from __future__ import annotations

from siri_verl.reward.manager import MANAGER_NAME

# verl's ``actor_rollout_ref.rollout.agent.default_agent_loop`` -> the module whose
# ``compute_score`` (verl's custom reward signature) scores its rows.
REWARD_MODULE_OF_AGENT_LOOP: dict[str, str] = {
    # SIRI: the answer check, 0 over the step's cap L(t), optional overlong punishment.
    "siri_length": "siri_verl.siri.siri_reward",
    # InftyThink+: the trajectory's task reward (T or T+E) from the final segment's conclusion.
    "inftythink": "siri_verl.inftythink.inftythink_reward",
    # verl's own single-turn loop: the plain answer check.
    "single_turn_agent": "siri_verl.reward",
}
REWARD_FUNCTION_NAME = "compute_score"
# Every loop's rows go through the manager that scores the final row as generated
# (siri_verl/reward/manager.py); for one-row loops it is verl's naive manager.
REWARD_MANAGER_NAME = MANAGER_NAME


def reward_path(agent_loop: str) -> str:
    """``reward.custom_reward_function.path`` for ``agent_loop``, in verl's ``pkg://`` form."""
    if agent_loop not in REWARD_MODULE_OF_AGENT_LOOP:
        raise KeyError(
            f"no reward paired with agent loop {agent_loop!r} in siri_verl/reward/routing.py "
            f"(known: {sorted(REWARD_MODULE_OF_AGENT_LOOP)})"
        )
    return f"pkg://{REWARD_MODULE_OF_AGENT_LOOP[agent_loop]}"
