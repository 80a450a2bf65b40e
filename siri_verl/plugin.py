"""The ``verl.plugins`` entry point: every verl process (driver and Ray workers) imports it.

verl imports each entry point of the ``verl.plugins`` group at ``import verl`` time and logs
failures only at debug level, so ``tests/test_plugin_on_cpu.py`` checks in a fresh process
and inside a Ray worker that everything below is really registered.

What it registers, each in verl's own registry:

- the CPU platform, and on it the ``hf`` rollout backend and CPU FSDP engines (backends/cpu);
- the ``siri_length`` agent loop (siri/siri_length_agent_loop.py), SIRI's metrics (siri/siri_tracking.py)
  and its phase-end checkpoints (siri/phase_checkpoints.py);
- the ``inftythink`` agent loop (inftythink/inftythink_agent_loop.py) and its metrics (inftythink/inftythink_tracking.py);
- the ``siri_verl`` reward manager (reward/manager.py), which Ray's reward workers look up by name;
- the ``siri_verl`` trainer mode (trainer.py) and the length schedule's health metrics and
  check (health.py).
"""


def register_all() -> None:
    """Idempotent: the launcher calls it again once the backend's environment is exported."""
    from siri_verl.backends import cpu

    # The platform comes first: the imports below resolve verl's platform singleton.
    cpu.register()

    import siri_verl.health  # noqa: F401  (schedule health metrics, the all-truncated check)
    import siri_verl.inftythink.inftythink_agent_loop  # noqa: F401  (@register("inftythink"))
    import siri_verl.inftythink.inftythink_tracking  # noqa: F401  (InftyThink metrics)
    import siri_verl.reward.manager  # noqa: F401  (reward manager @register("siri_verl"))
    import siri_verl.siri.phase_checkpoints  # noqa: F401  (SIRI-low / SIRI-high checkpoints kept)
    import siri_verl.siri.siri_length_agent_loop  # noqa: F401  (@register("siri_length"))
    import siri_verl.siri.siri_tracking  # noqa: F401  (SIRI metrics)
    import siri_verl.trainer  # noqa: F401  (@register_trainer("siri_verl"))


register_all()
