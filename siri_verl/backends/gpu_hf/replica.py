"""The ``hf`` rollout replica on CUDA: one server per replica, on the GPU of the replica's first worker.

As verl's vLLM replica does (``verl/workers/rollout/vllm_rollout/vllm_async_server.py``,
``launch_servers``), the server actor asks Ray for no GPU: it runs on its worker's node with
Ray's ``CUDA_VISIBLE_DEVICES`` override switched off (the platform's ``ray_noset_envvars``) and
that variable set to the worker's GPU, so it shares that GPU with the FSDP worker (as vLLM does
in verl's hybrid engine) and sees it as device 0. The model is held in the rollout's dtype
(``actor_rollout_ref.rollout.dtype``); the worker side (``HFServerAdapter``) is the CPU backend's.
"""

from __future__ import annotations

from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
from verl.plugin.platform import get_platform
from verl.utils.device import get_device_name, get_resource_name
from verl.utils.torch_dtypes import PrecisionType

from siri_verl.backends.cpu.rollout import HFRolloutReplica
from siri_verl.backends.gpu_hf import BACKEND_ENV, BACKEND_NAME


def _node_and_accelerator(worker) -> tuple[str, str]:
    """Run inside a worker actor: its Ray node id and the id of the accelerator Ray gave it."""
    context = ray.get_runtime_context()
    return context.get_node_id(), context.get_accelerator_ids()[get_resource_name()][0]


def server_placement_for(node_id: str, accelerator_id: str, dtype: str) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """What ``HFRolloutReplica.server_placement`` returns for a server on ``accelerator_id`` of ``node_id``."""
    platform = get_platform()
    env_vars = {
        **{name: "1" for name in platform.ray_noset_envvars()},
        platform.visible_devices_envvar(): accelerator_id,
        BACKEND_ENV: BACKEND_NAME,
    }
    actor_options = {"scheduling_strategy": NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)}
    server_kwargs = {"device": f"{get_device_name()}:0", "dtype": PrecisionType.to_dtype(dtype)}
    return env_vars, actor_options, server_kwargs


class CudaHFRolloutReplica(HFRolloutReplica):
    """``HFRolloutReplica`` whose server runs on the GPU of the replica's first worker."""

    async def server_placement(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        if not self.workers:
            raise RuntimeError(
                "rollout hf on backend=gpu_hf runs in verl's hybrid mode only (the server shares its "
                "worker's GPU); this replica has no workers"
            )
        node_id, accelerator_id = await self.workers[0].__ray_call__.remote(_node_and_accelerator)
        return server_placement_for(node_id, str(accelerator_id), str(self.config.dtype))

    def rollout_worker_use_gpu(self) -> bool:
        return True
