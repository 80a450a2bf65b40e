"""Run the real verl trainer on a machine with no accelerator (``backend=cpu``)."""

import os


def register() -> None:
    """Register the CPU platform always; the ``hf`` rollout and CPU FSDP engines when it is selected.

    The rollout and engine modules are imported only in processes that run on this platform:
    importing verl's FSDP engine resolves verl's platform singleton, which must not happen
    before ``VERL_PLATFORM`` is known, and GPU jobs need neither.
    """
    from siri_verl.backends.cpu import platform

    if os.environ.get("VERL_PLATFORM", "").strip().lower() != platform.PLATFORM_NAME:
        return
    from siri_verl.backends.cpu import engines, patches, rollout

    rollout.register()
    engines.register()
    patches.apply()
