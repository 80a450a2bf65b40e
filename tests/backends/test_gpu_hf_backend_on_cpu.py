"""backend=gpu_hf: composes and passes the compose-time checks for the toy recipes, registers the
CUDA hf replica only in its own jobs, places the server on the worker's GPU as verl's vLLM replica
does, and the hf server honours the device and dtype it is given.

No GPU here: the pre-flight is expected to refuse (checked for its message), the placement is
checked as the pure function the replica calls on verl's real CUDA platform object, and the
server's dtype on the CPU. The run on a GPU is scripts/gpu_check.py's (results/gpu_check.md).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf

from siri_verl import checks
from siri_verl.backends.cpu import rollout
from siri_verl.config import compose_recipe
from siri_verl.lab.tiny import TinyModelSpec, ensure_tiny_model

TOY_RECIPES = ("toy_demo", "toy_inftythink_task")


@pytest.mark.parametrize("recipe", TOY_RECIPES)
def test_toy_recipe_composes_on_gpu_hf_and_passes_every_check_but_the_gpu_preflight(recipe):
    cfg = compose_recipe(recipe, ["backend=gpu_hf"])
    choices = dict(cfg.hydra.runtime.choices)
    assert choices["backend"] == "gpu_hf"  # the command line wins over the recipe's `override /backend: cpu`
    for check in checks._CHECKS:
        if check is not checks.gpu_backend_needs_gpus:
            check(cfg, choices)
    assert cfg.trainer.device == "cuda"
    assert cfg.actor_rollout_ref.rollout.name == "hf" and cfg.actor_rollout_ref.rollout.dtype == "bfloat16"
    env = cfg.ray_kwargs.ray_init.runtime_env.env_vars
    assert env.SIRI_VERL_BACKEND == "gpu_hf" and "VERL_PLATFORM" not in env  # verl's own CUDA platform
    assert cfg.actor_rollout_ref.model.override_config.attn_implementation == "sdpa"


def test_gpu_hf_preflight_asks_for_a_gpu_but_not_for_vllm():
    cfg = compose_recipe("toy_demo", ["backend=gpu_hf"])
    with pytest.raises(checks.ConfigError) as refused:
        checks.gpu_backend_needs_gpus(cfg, dict(cfg.hydra.runtime.choices))
    message = str(refused.value)
    assert "backend=gpu_hf" in message and "1 CUDA GPU(s)" in message
    assert "vLLM" not in message


# verl's platform singleton resolves once per process: check the registration and the placement
# in a fresh one, as a Ray worker of a gpu_hf job (SIRI_VERL_BACKEND=gpu_hf) starts.
_WORKER = """
import json, sys
import verl  # loads the siri_verl plugin entry point
from verl.workers.rollout import base
from verl.workers.rollout.replica import RolloutReplicaRegistry
from siri_verl.backends.gpu_hf.replica import CudaHFRolloutReplica, server_placement_for
env, options, kwargs = server_placement_for("ab" * 28, "3", "bf16")
print("RESULT " + json.dumps({
    "replica": RolloutReplicaRegistry.get("hf").__name__,
    "adapter": base._ROLLOUT_REGISTRY[("hf", "async")],
    "env": env,
    "node": options["scheduling_strategy"].node_id, "soft": options["scheduling_strategy"].soft,
    "device": kwargs["device"], "dtype": str(kwargs["dtype"]),
}))
"""


def _registration(env_value: str | None) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("VERL_PLATFORM", "SIRI_VERL_BACKEND")}
    if env_value is not None:
        env["SIRI_VERL_BACKEND"] = env_value
    result = subprocess.run([sys.executable, "-c", _WORKER], env=env, capture_output=True, text=True, timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


def test_a_gpu_hf_worker_gets_the_cuda_replica_placed_on_its_workers_gpu():
    found = _registration("gpu_hf")
    assert found["replica"] == "CudaHFRolloutReplica"
    assert found["adapter"] == "siri_verl.backends.cpu.rollout.HFServerAdapter"
    # verl's CUDA platform's own variables: Ray must not reset CUDA_VISIBLE_DEVICES, which names the worker's GPU.
    assert found["env"] == {
        "RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES": "1",
        "CUDA_VISIBLE_DEVICES": "3",
        "SIRI_VERL_BACKEND": "gpu_hf",
    }
    assert found["node"] == "ab" * 28 and found["soft"] is False
    assert found["device"] == "cuda:0" and found["dtype"] == "torch.bfloat16"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return ensure_tiny_model(TinyModelSpec(warmup_steps=0), root=tmp_path_factory.mktemp("tiny_random"))


def test_the_hf_server_holds_its_model_and_takes_weights_in_the_dtype_it_is_given(model_dir):
    from transformers import AutoModelForCausalLM

    threads = torch.get_num_threads()
    config = OmegaConf.create({"prompt_length": 32, "response_length": 6, "seed": 0})
    try:
        server = rollout.HFRolloutServer(
            config, OmegaConf.create({"path": str(model_dir)}), replica_rank=0, device="cpu", dtype=torch.bfloat16
        )
    finally:
        torch.set_num_threads(threads)
    assert {p.dtype for p in server.model.parameters()} == {torch.bfloat16}
    actor = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)

    async def scenario():
        await server.update_weights(dict(actor.state_dict()), global_steps=1)
        return await server.generate([0, 5, 9], {"temperature": 1.0, "max_tokens": 4}, request_id="r")

    output = asyncio.run(scenario())
    assert {p.dtype for p in server.model.parameters()} == {torch.bfloat16}
    assert 1 <= len(output.token_ids) <= 4 and len(output.log_probs) == len(output.token_ids)
