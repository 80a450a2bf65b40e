"""InftyThink+: reasoning in bounded segments, each ending in a summary the next one starts from.

The paper and its settings: docs/inftythink.md. Where each idea lives (paths under ``siri_verl/``):

====================================  ===============================================  ================================================================
idea                                  config key                                       code
====================================  ===============================================  ================================================================
segment prompts, parsing, stop rules  (fixed by the paper)                             ``inftythink/protocol.py:parse_segment``, ``next_action``
the ``inftythink`` section, checked   ``inftythink.*``                                 ``inftythink/settings.py:InftyThinkSettings``
one trajectory, a verl row a segment  ``agent_loop=inftythink``                        ``inftythink/inftythink_agent_loop.py:InftyThinkAgentLoop.run``
η per segment, φ segments at most     ``inftythink.segment_cap``, ``.max_segments``    ``inftythink/settings.py:InftyThinkSettings.at_step``
SIRI's schedule moving η or φ         ``inftythink.schedule_target``                   ``siri/schedule.py:schedule_of``, ``InftyThinkSettings.at_step``
task reward T, efficiency T+E         ``inftythink.reward_variant``                    ``inftythink/shaping.py:trajectory_reward``
the reward verl calls                 ``reward.custom_reward_function.path``           ``inftythink/inftythink_reward.py:compute_score``
per-step ``inftythink/*`` metrics     (always, with ``inftythink``)                    ``inftythink/inftythink_tracking.py:inftythink_metrics``
cold start: traces cut at η           ``python -m siri_verl.inftythink.coldstart``     ``inftythink/segmentation.py:segment_trace``
cold start: summaries, SFT data       ``python -m siri_verl.inftythink.coldstart``     ``inftythink/coldstart.py:run``
SFT on segments                       ``python -m siri_verl.sft``, ``data.custom_cls`` ``inftythink/sft_dataset.py:InftyThinkSFTDataset``
iterative inference (eval)            ``python -m siri_verl.eval mode=inftythink``     ``inftythink/inference.py:run_iterative_batch``
====================================  ===============================================  ================================================================
"""
