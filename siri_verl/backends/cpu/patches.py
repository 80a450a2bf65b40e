"""Every monkeypatch of verl in this project, and only on the CPU platform.

Each entry names the verl file and line it works around. ``tests/test_cpu_patches_on_cpu.py``
fails when verl changes under a patch, so a verl upgrade shows which patch to revisit.
"""

from __future__ import annotations

import functools
import importlib

# verl/utils/distributed.py:89 (0.9.1), initialize_global_process_group_ray:
#     backend = backend or f"cpu:gloo,{get_device_name()}:{get_nccl_backend()}"
# On the CPU platform that is "cpu:gloo,cpu:gloo", which torch rejects ("Duplicate device
# type cpu"). verl/workers/engine_workers.py:89 calls it without a backend, so default it to
# plain gloo. The checkpoint engine already passes backend="cpu:gloo" and is unaffected.
GLOO_PATCH_TARGETS = ("verl.utils.distributed", "verl.workers.engine_workers")
GLOO_BACKEND = "cpu:gloo"


def _default_backend_to_gloo(initialize):
    if getattr(initialize, "__siri_verl_patched__", False):
        return initialize

    @functools.wraps(initialize)
    def initialize_with_gloo(timeout_second=None, backend=None):
        return initialize(timeout_second=timeout_second, backend=backend or GLOO_BACKEND)

    initialize_with_gloo.__siri_verl_patched__ = True
    return initialize_with_gloo


def apply() -> None:
    for module_name in GLOO_PATCH_TARGETS:
        module = importlib.import_module(module_name)
        module.initialize_global_process_group_ray = _default_backend_to_gloo(module.initialize_global_process_group_ray)
