"""SIRI: GRPO under a response-length cap L(t) that oscillates between compression and expansion.

The paper and its settings: docs/siri.md. Where each idea lives (paths under ``siri_verl/``):

=================================  ===============================================  ==============================================================
idea                               config key                                       code
=================================  ===============================================  ==============================================================
L(t), a pure function of the step  ``schedule.shape``, ``l_max``, ``l_min``,        ``siri/schedule.py:build_schedule``
                                   ``period``, ``stages``, ``granularity``
the run's schedule, read once      ``schedule``                                     ``siri/schedule.py:schedule_of``
verl truncates at L_max or above   ``data.max_response_length``                     ``checks.py:response_length_covers_schedule``
per-request cap max_tokens = L(t)  ``agent_loop=siri_length``                       ``siri/siri_length_agent_loop.py:SiriLengthAgentLoop.cap_for``
held-out rows get the full budget  ``siri_verl.uncapped_splits``                    ``siri/siri_length_agent_loop.py:SiriLengthAgentLoop.cap_for``
a capped response scores 0         ``reward.custom_reward_function.path``           ``siri/siri_reward.py:compute_score``
DAPO's overlong penalty vs L(t)    ``reward.custom_reward_function.reward_kwargs``  ``siri/overlong.py:overlong_penalty``
                                   ``.overlong_cache_len``
per-step ``siri/*`` metrics        (always, with ``siri_length``)                   ``siri/siri_tracking.py:siri_metrics``
SIRI-low / SIRI-high checkpoints   ``siri_verl.keep_phase_end_checkpoints``         ``siri/phase_checkpoints.py:keep_phase_end_checkpoint``
preview L(t) without training      ``python -m siri_verl.schedule recipe=NAME``     ``siri/preview.py:main``
the paper's table vs the recipes   ``python -m siri_verl.siri.paper``               ``siri/paper.py:main``
=================================  ===============================================  ==============================================================
"""
