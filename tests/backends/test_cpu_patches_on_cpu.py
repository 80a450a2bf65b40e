"""``siri_verl/backends/cpu/patches.py``: fails when verl changes under the monkeypatch.

The patch defaults ``initialize_global_process_group_ray``'s backend to ``"cpu:gloo"`` because
verl's default, ``f"cpu:gloo,{get_device_name()}:{get_nccl_backend()}"``, is
``"cpu:gloo,cpu:gloo"`` on the CPU platform, which torch rejects. If a test here fails after a
verl upgrade, revisit the patch (it may be obsolete, or need to move).
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import verl
import verl.utils.distributed as verl_distributed

from siri_verl.backends.cpu import patches

VERL_ROOT = Path(verl.__file__).parent
FUNCTION = "initialize_global_process_group_ray"


def _unpatched():
    function = verl_distributed.initialize_global_process_group_ray
    return getattr(function, "__wrapped__", function)


def _calls_in(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == FUNCTION)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == FUNCTION)
        )
    ]


def _passes_backend(call: ast.Call) -> bool:
    return any(keyword.arg == "backend" for keyword in call.keywords) or len(call.args) >= 2


def test_verl_default_backend_is_still_the_duplicate_cpu_string():
    source = inspect.getsource(_unpatched())
    assert 'backend = backend or f"cpu:gloo,{get_device_name()}:{get_nccl_backend()}"' in source


def test_verl_signature_is_unchanged():
    parameters = inspect.signature(_unpatched()).parameters
    assert [(name, p.default, p.kind) for name, p in parameters.items()] == [
        ("timeout_second", None, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("backend", None, inspect.Parameter.POSITIONAL_OR_KEYWORD),
    ]


def test_engine_workers_imports_it_by_name_and_calls_it_without_backend():
    tree = ast.parse((VERL_ROOT / "workers" / "engine_workers.py").read_text(encoding="utf-8"))
    imports = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module == "verl.utils.distributed"
        and any(alias.name == FUNCTION and alias.asname is None for alias in node.names)
    ]
    assert imports, "engine_workers no longer does `from verl.utils.distributed import initialize_global_process_group_ray`"
    calls = _calls_in(tree)
    assert calls, "engine_workers no longer calls initialize_global_process_group_ray"
    assert not any(_passes_backend(call) for call in calls), "engine_workers now passes a backend: the patch may be obsolete"


def test_every_verl_caller_without_backend_is_a_patch_target():
    """A module that binds the function by name and relies on the default backend must be
    patched itself (patching verl.utils.distributed does not reach names already imported)."""
    uncovered = []
    for path in VERL_ROOT.rglob("*.py"):
        text = path.read_text(encoding="utf-8", errors="ignore")
        if FUNCTION not in text:
            continue
        module = ".".join(("verl",) + path.relative_to(VERL_ROOT).with_suffix("").parts)
        calls = [call for call in _calls_in(ast.parse(text)) if not _passes_backend(call)]
        if calls and module not in patches.GLOO_PATCH_TARGETS:
            uncovered.append(f"{module}:{calls[0].lineno}")
    assert not uncovered, f"verl calls {FUNCTION} without a backend in unpatched modules: {uncovered}"


def test_wrapper_defaults_backend_and_is_idempotent_fake():
    """Uses a fake in place of verl's function to see what the wrapper passes on."""
    seen = []

    def fake_initialize(timeout_second=None, backend=None):
        seen.append((timeout_second, backend))

    wrapped = patches._default_backend_to_gloo(fake_initialize)
    assert patches._default_backend_to_gloo(wrapped) is wrapped
    assert wrapped.__wrapped__ is fake_initialize
    wrapped()
    wrapped(timeout_second=5)
    wrapped(backend="nccl")
    assert seen == [(None, "cpu:gloo"), (5, "cpu:gloo"), (None, "nccl")]


PATCH_PROBE = """
import json
import torch.distributed as dist

import verl  # the plugin applies the patch on VERL_PLATFORM=cpu
import verl.utils.distributed as distributed
import verl.workers.engine_workers as engine_workers
from siri_verl.backends.cpu import patches

facts = {}
patched = engine_workers.initialize_global_process_group_ray
facts["patched"] = [
    getattr(distributed.initialize_global_process_group_ray, "__siri_verl_patched__", False),
    getattr(patched, "__siri_verl_patched__", False),
]
patches.apply()  # again: must not wrap twice
facts["idempotent"] = engine_workers.initialize_global_process_group_ray is patched
facts["wraps_original"] = not getattr(patched.__wrapped__, "__siri_verl_patched__", False)

# Spy on torch's init to see the backend each version asks for (the spy initialises nothing).
real_init = dist.init_process_group
requested = []
dist.init_process_group = lambda *args, **kwargs: requested.append(kwargs.get("backend"))
patched(timeout_second=None)
patched.__wrapped__(timeout_second=None)
patched(timeout_second=None, backend="gloo")
dist.init_process_group = real_init
facts["requested"] = requested

# And for real: a gloo world of size 1 through the patched default.
patched(timeout_second=60)
facts["backend"] = dist.get_backend()
tensor = __import__("torch").ones(2)
dist.all_reduce(tensor)
facts["all_reduce"] = tensor.tolist()
dist.destroy_process_group()
facts["destroyed"] = not dist.is_initialized()

# Why the patch exists: torch refuses verl's default on this platform.
try:
    patched.__wrapped__(timeout_second=60)
    facts["duplicate_rejected"] = False
    dist.destroy_process_group()
except Exception as error:
    facts["duplicate_rejected"] = "duplicate" in str(error).lower()
print("PROBE" + json.dumps(facts))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_patched_default_backend_is_gloo_on_a_world_of_one():
    """In a fresh VERL_PLATFORM=cpu process: the plugin patched both modules, the default backend
    becomes "cpu:gloo" (unpatched it is "cpu:gloo,cpu:gloo"), and a one-rank gloo group works."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MASTER_", "DIST_INIT"))}
    env.update(
        VERL_PLATFORM="cpu", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), RANK="0", WORLD_SIZE="1", LOCAL_RANK="0"
    )
    result = subprocess.run([sys.executable, "-c", PATCH_PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    facts = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("PROBE"))[len("PROBE") :])
    assert facts["patched"] == [True, True]
    assert facts["idempotent"] and facts["wraps_original"]
    assert facts["requested"] == ["cpu:gloo", "cpu:gloo,cpu:gloo", "gloo"]
    assert facts["backend"] in ("gloo", "cpu:gloo")  # torch reports the device-qualified form
    assert facts["all_reduce"] == [1.0, 1.0]
    assert facts["destroyed"]
    assert facts["duplicate_rejected"], "torch now accepts 'cpu:gloo,cpu:gloo': the patch may be obsolete"


def test_verl_sft_process_group_init_still_needs_the_cpu_replacement():
    """Guard for patches.initialize_global_process_group_gloo (verl/utils/distributed.py:62)."""
    import verl.trainer.sft_trainer as sft_trainer
    import verl.utils.distributed as distributed

    from siri_verl.backends.cpu import patches

    original = distributed.initialize_global_process_group
    if getattr(original, "__siri_verl_patched__", False):
        pytest.skip("patched in this process already; the subprocess tests cover the patched state")
    source = inspect.getsource(original)
    assert 'f"cpu:gloo,{get_device_name()}:{get_nccl_backend()}"' in source
    assert list(inspect.signature(original).parameters) == ["timeout_second"]
    # sft_trainer imports it at call time, so replacing the module attribute reaches it.
    assert "from verl.utils.distributed import initialize_global_process_group" in inspect.getsource(sft_trainer.run_sft)
    assert list(inspect.signature(patches.initialize_global_process_group_gloo).parameters) == ["timeout_second"]
