"""The ``verl.plugins`` entry point (``siri_verl.plugin``): ``import verl`` alone registers everything.

verl loads entry points at import time and logs a failing one only at debug level, so each
check runs in a fresh process that imports verl and never siri_verl, and inside a Ray worker
(Ray workers are fresh processes too, and get ``VERL_PLATFORM`` from the ``runtime_env``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Collects what ``import verl`` registered; run as a script and inside a Ray task.
FACTS = """
def registered_facts():
    import os
    import sys

    import verl  # noqa: F401  (loads the verl.plugins entry points)
    from verl.experimental.agent_loop import agent_loop
    from verl.experimental.reward_loop.reward_manager.registry import REWARD_MANAGER
    from verl.plugin.platform import PlatformRegistry
    from verl.trainer.ppo.v1 import trainer_base
    from verl.workers.engine.base import EngineRegistry
    from verl.workers.rollout import base as rollout_base
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    try:
        replica = RolloutReplicaRegistry.get("hf")
        replica = f"{replica.__module__}.{replica.__qualname__}"
    except ValueError:
        replica = None
    engines = EngineRegistry._engines
    return {
        "verl_platform": os.environ.get("VERL_PLATFORM"),
        "platforms": list(PlatformRegistry.registered_names()),
        "hf_replica": replica,
        "hf_adapter": rollout_base._ROLLOUT_REGISTRY.get(("hf", "async")),
        "lm_fsdp2_devices": sorted(engines.get("language_model", {}).get("fsdp2", {})),
        "lm_fsdp_devices": sorted(engines.get("language_model", {}).get("fsdp", {})),
        "value_fsdp2_devices": sorted(engines.get("value_model", {}).get("fsdp2", {})),
        "agent_loops": sorted(agent_loop._agent_loop_registry),
        "reward_managers": sorted(REWARD_MANAGER),
        "trainers": sorted(trainer_base.TRAINER_REGISTRY),
        "plugin_loaded": "siri_verl.plugin" in sys.modules,
    }
"""

DRIVER = (
    FACTS
    + """
import json
print("FACTS" + json.dumps(registered_facts()))
"""
)

# The driver runs WITHOUT VERL_PLATFORM; the Ray worker gets VERL_PLATFORM=cpu from runtime_env.
RAY_DRIVER = (
    FACTS
    + """
import json
import ray

print("FACTS" + json.dumps(registered_facts()))
ray.init(
    address="local",
    num_cpus=1,
    include_dashboard=False,
    log_to_driver=False,
    object_store_memory=80 * 1024 * 1024,
    runtime_env={"env_vars": {"VERL_PLATFORM": "cpu"}},
)
try:
    print("WORKER" + json.dumps(ray.get(ray.remote(num_cpus=1)(registered_facts).remote(), timeout=240)))
finally:
    ray.shutdown()
"""
)


def _env(verl_platform: str | None) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("VERL_PLATFORM", "RAY_ADDRESS")}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    if verl_platform is not None:
        env["VERL_PLATFORM"] = verl_platform
    return env


def _parse(stdout: str, tag: str) -> dict:
    line = next((line for line in stdout.splitlines() if line.startswith(tag)), None)
    assert line is not None, f"no {tag} line in:\n{stdout[-4000:]}"
    return json.loads(line[len(tag) :])


@pytest.fixture(scope="module")
def runs() -> dict:
    """Both fresh processes at once: ``import verl`` with VERL_PLATFORM=cpu, and the Ray run."""
    processes = {
        "cpu": subprocess.Popen(
            [sys.executable, "-c", DRIVER], env=_env("cpu"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ),
        "ray": subprocess.Popen(
            [sys.executable, "-c", RAY_DRIVER], env=_env(None), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ),
    }
    outputs = {}
    try:
        for name, process in processes.items():
            stdout, stderr = process.communicate(timeout=300)
            assert process.returncode == 0, f"{name} run failed:\n{stderr[-4000:]}"
            outputs[name] = stdout
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    return {
        "cpu": _parse(outputs["cpu"], "FACTS"),
        "unset": _parse(outputs["ray"], "FACTS"),
        "ray_worker": _parse(outputs["ray"], "WORKER"),
    }


def _assert_everything_registered(facts: dict) -> None:
    assert facts["verl_platform"] == "cpu"
    assert facts["plugin_loaded"]
    assert "cpu" in facts["platforms"]
    assert facts["hf_replica"] == "siri_verl.backends.cpu.rollout.HFRolloutReplica"
    assert facts["hf_adapter"] == "siri_verl.backends.cpu.rollout.HFServerAdapter"
    assert "cpu" in facts["lm_fsdp2_devices"]
    assert "cpu" in facts["lm_fsdp_devices"]
    assert "cpu" in facts["value_fsdp2_devices"]
    assert {"siri_length", "inftythink"} <= set(facts["agent_loops"])
    assert "siri_verl" in facts["reward_managers"]
    assert "siri_verl" in facts["trainers"]


def test_import_verl_alone_registers_everything_on_cpu_platform(runs):
    _assert_everything_registered(runs["cpu"])


def test_import_verl_in_a_ray_worker_registers_everything(runs):
    _assert_everything_registered(runs["ray_worker"])


def test_without_verl_platform_only_the_platform_is_registered(runs):
    """Documented design: hf rollout and CPU engines only in processes on the CPU platform;
    the platform itself, agent loops, the reward manager and the trainer mode everywhere."""
    facts = runs["unset"]
    assert facts["verl_platform"] is None
    assert facts["plugin_loaded"]
    assert "cpu" in facts["platforms"]
    assert facts["hf_replica"] is None
    assert facts["hf_adapter"] is None
    assert "cpu" not in facts["lm_fsdp2_devices"]
    assert "cpu" not in facts["value_fsdp2_devices"]
    assert {"siri_length", "inftythink"} <= set(facts["agent_loops"])
    assert "siri_verl" in facts["reward_managers"]
    assert "siri_verl" in facts["trainers"]


# ``import verl`` with the plugin installed, then what a user's plain verl would see (issue:
# installing the plugin must not change a user's plain verl).
PLAIN_VERL = """
import json, os, sys
import verl
from verl.plugin.platform import platform_manager

facts = {
    "platform_resolved": platform_manager._current_platform is not None,
    "siri_verl_modules": sorted(m for m in sys.modules if m.startswith("siri_verl")),
    "verl_trainer_loaded": "verl.trainer.ppo.v1.trainer_base" in sys.modules,
    "verl_engines_loaded": "verl.workers.engine" in sys.modules,
}
os.environ["VERL_PLATFORM"] = "amd"
facts["platform_after_import"] = type(platform_manager.get_platform()).__name__
print("FACTS" + json.dumps(facts))
"""

# What ``import verl`` alone may load of siri_verl: the entry point, its hook machinery and the
# CPU platform class (registered, not selected).
PLUGIN_MODULES_AT_IMPORT = [
    "siri_verl",
    "siri_verl.backends",
    "siri_verl.backends.cpu",
    "siri_verl.backends.cpu.platform",
    "siri_verl.backends.gpu_hf",
    "siri_verl.import_hooks",
    "siri_verl.plugin",
]


@pytest.fixture(scope="module")
def plain_verl() -> tuple[dict, str]:
    result = subprocess.run(
        [sys.executable, "-c", PLAIN_VERL], env=_env(None), capture_output=True, text=True, timeout=300, check=True
    )
    return _parse(result.stdout, "FACTS"), result.stderr


def test_import_verl_loads_only_the_plugin_and_resolves_no_platform(plain_verl):
    facts, _ = plain_verl
    assert facts["siri_verl_modules"] == PLUGIN_MODULES_AT_IMPORT
    assert not facts["platform_resolved"]
    assert not facts["verl_trainer_loaded"]
    assert not facts["verl_engines_loaded"]


def test_a_platform_chosen_after_import_verl_is_honoured(plain_verl):
    facts, _ = plain_verl
    assert facts["platform_after_import"] == "PlatformROCm"


def test_no_accelerator_warning_on_a_cpu_host(plain_verl):
    _, stderr = plain_verl
    assert "No supported accelerator detected" not in stderr


# A process whose first import is one of our own registering modules: verl's registry package
# is then imported from inside it, and its hook must wait until that module has finished.
OURS_FIRST = """
import json, sys, warnings
warnings.filterwarnings("error", message="siri_verl: registering")  # a failed registration warns
import {first}
import wave  # noqa: F401  (any import not done yet: the deferred registration runs at the next import)
from verl.trainer.ppo.v1 import trainer_base
from verl.workers.rollout.replica import RolloutReplicaRegistry
from siri_verl import import_hooks

replica = RolloutReplicaRegistry.get("hf")
print("FACTS" + json.dumps({{
    "trainers": sorted(trainer_base.TRAINER_REGISTRY),
    "hf_replica": f"{{replica.__module__}}.{{replica.__qualname__}}",
    "health_loaded": "siri_verl.health" in sys.modules,
    "pending": import_hooks.pending(),
}}))
"""


@pytest.mark.parametrize("first", ["siri_verl.health", "siri_verl.trainer", "siri_verl.backends.cpu.rollout"])
def test_registrations_wait_for_our_module_that_imported_verl(first):
    result = subprocess.run(
        [sys.executable, "-c", OURS_FIRST.format(first=first)], env=_env("cpu"), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-4000:]
    facts = _parse(result.stdout, "FACTS")
    assert "siri_verl" in facts["trainers"]
    assert facts["hf_replica"] == "siri_verl.backends.cpu.rollout.HFRolloutReplica"
    assert facts["health_loaded"]
    assert "(deferred)" not in facts["pending"]
