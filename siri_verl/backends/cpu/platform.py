"""A CPU device platform for verl, registered as ``cpu`` in ``PlatformRegistry``.

verl 0.9.1 has no CPU platform: with no accelerator it falls back to ``nvidia``. This one is
selected explicitly with ``VERL_PLATFORM=cpu`` (the ``backend=cpu`` preset sets it in the
driver and in every Ray worker); it is never auto-detected, so installing the plugin changes
nothing on a GPU cluster.

Worker slots are Ray *logical* GPUs (``ray_init.num_gpus``): verl's resource pools ask Ray
for ``GPU`` bundles, and on CPU those bundles are only bookkeeping.
"""

from __future__ import annotations

import os
import types
from contextlib import contextmanager
from typing import Any

import torch
from verl.plugin.platform import PlatformBase, PlatformRegistry

PLATFORM_NAME = "cpu"


def _cpu_device_module() -> types.SimpleNamespace:
    """``torch.cpu`` plus the memory and RNG calls verl makes on ``get_torch_device()``.

    ``torch.cpu`` lacks ``empty_cache``, ``mem_get_info``, ``memory_allocated``...; on CPU they
    are no-ops or report host memory.
    """
    import psutil

    def mem_get_info(device=None):
        memory = psutil.virtual_memory()
        return memory.available, memory.total

    zero = lambda *args, **kwargs: 0  # noqa: E731
    noop = lambda *args, **kwargs: None  # noqa: E731
    return types.SimpleNamespace(
        is_available=lambda: True,
        current_device=lambda: "cpu",
        device_count=lambda: 1,
        set_device=noop,
        synchronize=noop,
        current_stream=torch.cpu.current_stream,
        stream=torch.cpu.stream,
        Stream=torch.cpu.Stream,
        Event=torch.cpu.Event,
        empty_cache=noop,
        ipc_collect=noop,
        mem_get_info=mem_get_info,
        memory_allocated=zero,
        memory_reserved=zero,
        max_memory_allocated=zero,
        max_memory_reserved=zero,
        reset_peak_memory_stats=noop,
        set_per_process_memory_fraction=noop,
        get_rng_state=torch.get_rng_state,
        set_rng_state=torch.set_rng_state,
        manual_seed=torch.manual_seed,
        manual_seed_all=torch.manual_seed,
        get_device_name=lambda *args: "cpu",
    )


@PlatformRegistry.register(platform=PLATFORM_NAME)
class PlatformCPU(PlatformBase):
    """verl's platform interface on the host CPU: gloo collectives, no-op memory management."""

    def __init__(self) -> None:
        self._device_module = _cpu_device_module()

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> Any:
        return self._device_module

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        # Only chosen through VERL_PLATFORM=cpu: auto-detection must keep picking GPUs.
        return False

    def current_device(self) -> str:
        # verl passes this straight to `.to(...)` and `torch.device(...)`: an int would mean an
        # accelerator index, so answer with the device itself (as torch.cpu.current_device does).
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        pass

    def synchronize(self, device_index: int | None = None) -> None:
        pass

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        pass

    def empty_cache(self) -> None:
        pass

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        # Ray still assigns logical GPU ids through this variable; nothing reads it on CPU.
        return "CUDA_VISIBLE_DEVICES"

    def ray_resource_name(self) -> str:
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        pass

    def profiler_stop(self) -> None:
        pass

    def cudart(self) -> Any:
        return None


def is_selected() -> bool:
    """True in a process that runs verl on this platform."""
    return os.environ.get("VERL_PLATFORM", "").strip().lower() == PLATFORM_NAME
