"""The ``verl.plugins`` entry point: every verl process (driver and Ray workers) imports it.

It imports nothing heavy and resolves nothing: ``import verl`` costs what it costs without
siri-verl, a process on a CPU-only host is not told verl falls back to 'nvidia', and a
platform chosen after ``import verl`` (``VERL_PLATFORM``, another plugin's) is still honoured.
Each registration below runs when verl's module that holds the registry has been imported
(``siri_verl/import_hooks.py``), so it happens in exactly the processes that can look it up:

| verl module imported | what is registered there | our module |
|---|---|---|
| (at once) | the ``cpu`` platform class (not selected) | backends/cpu/platform.py |
| ``verl.experimental.agent_loop`` | agent loops ``siri_length``, ``inftythink`` | siri/siri_length_agent_loop.py, inftythink/inftythink_agent_loop.py |
| ``verl.experimental.reward_loop.reward_manager`` | reward manager ``siri_verl`` | reward/manager.py |
| ``verl.trainer.ppo.v1`` | trainer mode ``siri_verl``, SIRI/InftyThink metrics, SIRI's phase-end checkpoints, schedule health | trainer.py, siri/siri_tracking.py, siri/phase_checkpoints.py, inftythink/inftythink_tracking.py, health.py |
| ``verl.workers.rollout`` | rollout ``hf`` (``VERL_PLATFORM=cpu`` only) | backends/cpu/rollout.py |
| ``verl.workers.rollout`` | rollout ``hf`` on CUDA (``SIRI_VERL_BACKEND=gpu_hf`` only) | backends/gpu_hf/replica.py |
| ``verl.workers.engine`` | FSDP engines for device ``cpu`` (CPU only) | backends/cpu/engines.py |
| ``verl.utils.distributed``, ``verl.workers.engine_workers`` | the gloo patches (CPU only) | backends/cpu/patches.py |

``tests/test_plugin_on_cpu.py`` checks in fresh processes and inside a Ray worker that each is
registered once its registry is imported, and that ``import verl`` alone loads none of them.
"""

from __future__ import annotations

import importlib

# Importing it registers (does not select) the ``cpu`` platform class; torch and
# verl.plugin.platform, all it imports, are loaded by ``import verl`` already.
from siri_verl.backends import gpu_hf
from siri_verl.backends.cpu import platform
from siri_verl.import_hooks import NotYet, initializing, when_imported

# verl module -> the modules whose import registers something in it (decorators at module level).
REGISTERING_MODULES: dict[str, tuple[str, ...]] = {
    "verl.experimental.agent_loop": (
        "siri_verl.siri.siri_length_agent_loop",
        "siri_verl.inftythink.inftythink_agent_loop",
    ),
    "verl.experimental.reward_loop.reward_manager": ("siri_verl.reward.manager",),
    "verl.trainer.ppo.v1": (
        "siri_verl.trainer",
        "siri_verl.health",
        "siri_verl.siri.siri_tracking",
        "siri_verl.siri.phase_checkpoints",
        "siri_verl.inftythink.inftythink_tracking",
    ),
}

# Per backend, in its processes only: verl module -> the function (module:function) that registers.
BACKEND_REGISTRATIONS: dict[str, dict[str, str]] = {
    "cpu": {
        "verl.workers.rollout": "siri_verl.backends.cpu.rollout:register",
        "verl.workers.engine": "siri_verl.backends.cpu.engines:register",
        "verl.utils.distributed": "siri_verl.backends.cpu.patches:patch_distributed",
        "verl.workers.engine_workers": "siri_verl.backends.cpu.patches:patch_engine_workers",
    },
    "gpu_hf": {"verl.workers.rollout": "siri_verl.backends.gpu_hf:register"},
}
# How a process knows it belongs to a backend's job (its environment, set for every Ray worker).
BACKEND_SELECTED = {"cpu": platform.is_selected, "gpu_hf": gpu_hf.is_selected}

_registered: set[str] = set()


def _importer(module_names: tuple[str, ...]):
    def import_registering_modules(_verl_module) -> None:
        # One of them may be what imported verl's module: it finishes first (import_hooks.NotYet).
        if busy := initializing(module_names):
            raise NotYet(busy)
        for name in module_names:
            importlib.import_module(name)

    import_registering_modules.__qualname__ = f"import {', '.join(module_names)}"
    return import_registering_modules


def _caller(target: str):
    def call(_verl_module) -> None:
        module_name, _, function = target.partition(":")
        if busy := initializing((module_name,)):
            raise NotYet(busy)
        getattr(importlib.import_module(module_name), function)()

    call.__qualname__ = target
    return call


def register_all() -> None:
    """Idempotent: the launcher calls it again once the backend's environment is exported,
    which is when ``VERL_PLATFORM=cpu`` (or ``SIRI_VERL_BACKEND``) first becomes known in the driver."""
    for verl_module, modules in REGISTERING_MODULES.items():
        if verl_module not in _registered:
            when_imported(verl_module, _importer(modules))
            _registered.add(verl_module)
    for backend, registrations in BACKEND_REGISTRATIONS.items():
        if not BACKEND_SELECTED[backend]():
            continue
        for verl_module, target in registrations.items():
            if target not in _registered:
                when_imported(verl_module, _caller(target))
                _registered.add(target)


register_all()
