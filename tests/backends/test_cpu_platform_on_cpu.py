"""``PlatformCPU``: verl's platform interface on the host CPU, chosen only with ``VERL_PLATFORM=cpu``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from verl.plugin.platform import PlatformRegistry

from siri_verl.backends.cpu.platform import PLATFORM_NAME, PlatformCPU, is_selected

# What verl calls on ``get_torch_device()`` (checked against verl's source below as well).
DEVICE_MODULE_CALLS = [
    "is_available",
    "current_device",
    "device_count",
    "set_device",
    "synchronize",
    "current_stream",
    "stream",
    "Stream",
    "Event",
    "empty_cache",
    "ipc_collect",
    "mem_get_info",
    "memory_allocated",
    "memory_reserved",
    "max_memory_allocated",
    "max_memory_reserved",
    "reset_peak_memory_stats",
    "set_per_process_memory_fraction",
    "get_rng_state",
    "set_rng_state",
    "manual_seed",
    "manual_seed_all",
    "get_device_name",
]


@pytest.fixture(scope="module")
def platform() -> PlatformCPU:
    return PlatformCPU()


def test_registered_in_verl_platform_registry():
    assert PLATFORM_NAME == "cpu"
    assert PlatformRegistry.get("cpu") is PlatformCPU


def test_identity(platform):
    assert platform.device_name == "cpu"
    assert platform.vendor_name == "cpu"
    assert platform.communication_backend_name() == "gloo"
    assert platform.ray_resource_name() == "GPU"
    assert platform.ray_resource_options(2) == {"num_gpus": 2}
    assert platform.ray_noset_envvars() == []
    assert platform.is_available() is True
    assert platform.device_count() == 1
    assert platform.is_ipc_supported() is False
    assert platform.get_device_capability() == (None, None)
    assert platform.cudart() is None


def test_never_auto_detected(platform):
    assert platform.is_platform_available() is False
    assert platform.is_platform_available(use_smi_check=True) is False


def test_is_selected_reads_verl_platform(monkeypatch):
    monkeypatch.setenv("VERL_PLATFORM", " CPU ")
    assert is_selected()
    monkeypatch.setenv("VERL_PLATFORM", "nvidia")
    assert not is_selected()
    monkeypatch.delenv("VERL_PLATFORM")
    assert not is_selected()


def test_device_module_has_the_calls_verl_makes(platform):
    module = platform.device_module
    missing = [name for name in DEVICE_MODULE_CALLS if not callable(getattr(module, name, None))]
    assert not missing, f"device module lacks {missing}"


def test_device_module_covers_every_call_in_verl_source(platform):
    """Every ``get_torch_device().NAME`` in the installed verl exists here: fails when a verl
    upgrade starts calling something new on the device module."""
    import verl

    pattern = re.compile(r"get_torch_device\(\)\.([A-Za-z_]\w*)")
    used = set()
    for path in Path(verl.__file__).parent.rglob("*.py"):
        used.update(pattern.findall(path.read_text(encoding="utf-8", errors="ignore")))
    assert {"empty_cache", "mem_get_info", "synchronize"} <= used  # the scan finds verl's calls
    missing = sorted(name for name in used if not hasattr(platform.device_module, name))
    assert not missing, f"verl calls get_torch_device().{missing} which the cpu device module lacks"


def test_device_module_calls_behave(platform):
    module = platform.device_module
    assert module.is_available() is True
    assert module.device_count() == 1
    assert module.empty_cache() is None
    assert module.synchronize() is None
    assert module.set_device(0) is None
    assert module.ipc_collect() is None
    assert module.reset_peak_memory_stats() is None
    assert module.set_per_process_memory_fraction(0.5) is None
    free, total = module.mem_get_info()
    assert 0 < free <= total
    assert len(module.mem_get_info(0)) == 2
    for name in ("memory_allocated", "memory_reserved", "max_memory_allocated", "max_memory_reserved"):
        assert getattr(module, name)() == 0
        assert getattr(module, name)(0) == 0
    assert module.get_device_name() == "cpu"
    assert module.get_device_name(0) == "cpu"
    with module.stream(module.current_stream()):
        pass
    module.Stream()
    module.Event()


def test_device_module_rng_state_round_trips(platform):
    module = platform.device_module
    saved = module.get_rng_state()
    try:
        module.manual_seed(3)
        first = torch.rand(3)
        module.manual_seed_all(3)
        assert torch.equal(torch.rand(3), first)
        state = module.get_rng_state()
        expected = torch.rand(3)
        module.set_rng_state(state)
        assert torch.equal(torch.rand(3), expected)
        platform.manual_seed(5)
        second = torch.rand(2)
        platform.manual_seed_all(5)
        assert torch.equal(torch.rand(2), second)
    finally:
        module.set_rng_state(saved)


def test_current_device_is_usable_as_a_torch_device(platform):
    for device in (platform.current_device(), platform.device_module.current_device()):
        assert torch.device(device) == torch.device("cpu")
        tensor = torch.ones(2).to(device)
        assert tensor.device.type == "cpu"
        assert torch.zeros(1, device=device).device.type == "cpu"


def test_platform_calls_are_no_ops(platform):
    assert platform.set_device(0) is None
    assert platform.synchronize() is None
    assert platform.synchronize(0) is None
    assert platform.empty_cache() is None
    assert platform.set_allocator_settings("expandable_segments:True") is None
    assert platform.profiler_start() is None
    assert platform.profiler_stop() is None
    with platform.nvtx_range("step"):
        pass


SELECTION_PROBE = """
import json
import verl
from verl.plugin.platform import get_platform
from verl.utils.device import get_device_name, get_nccl_backend, get_resource_name, get_torch_device
print("PROBE" + json.dumps({
    "device_name": get_device_name(),
    "nccl_backend": get_nccl_backend(),
    "resource": get_resource_name(),
    "platform_class": type(get_platform()).__name__,
    "has_empty_cache": hasattr(get_torch_device(), "empty_cache"),
}))
"""


def _start_probe(verl_platform: str | None) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if key != "VERL_PLATFORM"}
    if verl_platform is not None:
        env["VERL_PLATFORM"] = verl_platform
    return subprocess.Popen(
        [sys.executable, "-c", SELECTION_PROBE], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _probe_result(process: subprocess.Popen) -> dict:
    try:
        stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    assert process.returncode == 0, stderr[-4000:]
    line = next(line for line in stdout.splitlines() if line.startswith("PROBE"))
    return json.loads(line[len("PROBE") :])


@pytest.fixture(scope="module")
def selection_probes() -> dict:
    """Both fresh processes at once (each mostly waits on ``import verl``)."""
    processes = {"cpu": _start_probe("cpu"), "unset": _start_probe(None)}
    try:
        return {name: _probe_result(process) for name, process in processes.items()}
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()


def test_verl_platform_cpu_selects_this_platform_in_a_fresh_process(selection_probes):
    assert selection_probes["cpu"] == {
        "device_name": "cpu",
        "nccl_backend": "gloo",
        "resource": "GPU",
        "platform_class": "PlatformCPU",
        "has_empty_cache": True,
    }


def test_without_verl_platform_cpu_is_not_chosen_in_a_fresh_process(selection_probes):
    facts = selection_probes["unset"]
    assert facts["platform_class"] != "PlatformCPU"
    assert facts["device_name"] != "cpu"
    assert facts["nccl_backend"] != "gloo"
