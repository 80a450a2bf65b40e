"""Every monkeypatch of verl in this project, and only on the CPU platform.

Each entry names the verl file and line it works around. ``tests/backends/test_cpu_patches_on_cpu.py``
fails when verl changes under a patch, so a verl upgrade shows which patch to revisit.
"""

from __future__ import annotations

import functools
import importlib
import os
from datetime import timedelta

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


# verl/utils/distributed.py:62 (0.9.1), initialize_global_process_group (the torchrun path of
# verl/trainer/sft_trainer.py:455, imported at call time):
#     backend = f"cpu:gloo,{get_device_name()}:{get_nccl_backend()}"
# Same duplicate on CPU, and no backend argument to pass, so the CPU version initialises plain
# gloo itself and returns what verl's does: (local_rank, rank, world_size).
def initialize_global_process_group_gloo(timeout_second: int = 36000) -> tuple[int, int, int]:
    import torch.distributed

    torch.distributed.init_process_group(
        backend=GLOO_BACKEND, timeout=timedelta(seconds=timeout_second), init_method=os.environ.get("DIST_INIT_METHOD")
    )
    return int(os.environ["LOCAL_RANK"]), int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])


initialize_global_process_group_gloo.__siri_verl_patched__ = True


def patch_distributed() -> None:
    """Both patches in ``verl.utils.distributed`` (run once it is imported: siri_verl/plugin.py)."""
    module = importlib.import_module("verl.utils.distributed")
    module.initialize_global_process_group_ray = _default_backend_to_gloo(module.initialize_global_process_group_ray)
    module.initialize_global_process_group = initialize_global_process_group_gloo


def patch_engine_workers() -> None:
    """``verl.workers.engine_workers`` imported ``initialize_global_process_group_ray`` by name."""
    module = importlib.import_module("verl.workers.engine_workers")
    module.initialize_global_process_group_ray = _default_backend_to_gloo(module.initialize_global_process_group_ray)


def apply() -> None:
    """Every patch now (imports both modules); idempotent."""
    patch_distributed()
    patch_engine_workers()
