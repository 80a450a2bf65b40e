"""An HF-transformers rollout backend for verl, registered as rollout ``hf``.

Three pieces, mirroring verl's vLLM backend:

- ``HFRolloutServer``: a Ray actor per replica that holds a copy of the policy and serves
  verl's token-in-token-out ``generate``. Concurrent requests are queued and decoded together
  (one batched forward per token), grouped by their sampling settings.
- ``HFRolloutReplica``: the ``RolloutReplica`` verl's ``LLMServerManager`` creates
  (``RolloutReplicaRegistry``); it launches the server.
- ``HFServerAdapter``: the worker-side ``BaseRollout`` (``_ROLLOUT_REGISTRY``) living in each
  FSDP actor process; after every optimiser step it pushes the actor's full weights to the
  server through Ray's object store.

It exists so that the real verl trainer runs on a machine with no accelerator (``backend=cpu``)
or on GPUs without vLLM (``backend=gpu_hf``, whose replica in ``siri_verl/backends/gpu_hf``
places the server on its worker's GPU); at scale use ``rollout.name=vllm``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections import defaultdict
from typing import Any, Generator

import ray
import torch
from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutReplica, TokenOutput

from siri_verl.backends.cpu.hf_sampler import generate_batch, load_model
from siri_verl.generation import SamplingSettings
from siri_verl.request_budget import eos_token_ids

logger = logging.getLogger(__name__)

ROLLOUT_NAME = "hf"


def server_actor_name(replica_rank: int, kind: str = "", suffix: str = "") -> str:
    """The server actor's Ray name; ``kind`` is "" for the policy, "reward_" or "teacher_"."""
    return f"{ROLLOUT_NAME}_server_{kind}{replica_rank}{suffix}"


class HFRolloutServer:
    """Serves ``generate`` for one rollout replica from an in-process HF model."""

    def __init__(
        self,
        config,
        model_config,
        replica_rank: int,
        max_batch_size: int | None = None,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """``device`` and ``dtype`` place the model: fp32 on the CPU (this backend); the CUDA replica
        (siri_verl/backends/gpu_hf.py) passes its worker's GPU and the rollout's dtype."""
        from transformers import AutoTokenizer

        self.config = config
        self.model_config = model_config
        self.replica_rank = replica_rank
        # Requests decoded together (as before). One batch of all 128 of a toy step was not faster
        # in the overhead bench (results/overhead.md): finished rows keep decoding padding to the
        # batch's longest, which a wide batch pays for more rows.
        self.max_batch_size = int(max_batch_size or 64)
        self.device = torch.device(device)
        self.dtype = dtype
        torch.set_num_threads(max(1, int(os.environ.get("SIRI_VERL_ROLLOUT_THREADS", "1"))))
        # verl hands replicas the model section as a DictConfig, and workers an HFModelConfig.
        path = model_config.get("local_path") or model_config.get("path")
        self.model = load_model(path).to(device=self.device, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(model_config.get("local_tokenizer_path") or path)
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.eos_token_ids = eos_token_ids(tokenizer, self.model.generation_config)
        self.global_steps: int | None = None
        self.seed = int(getattr(config, "seed", 0))
        # prompt -> requests seen in step _occurrences_step: the n samples of one prompt get
        # streams 0..n-1.
        self._occurrences: dict[tuple[int, ...], int] = defaultdict(int)
        self._occurrences_step: int | None = None
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._weights_lock: asyncio.Lock | None = None

    async def _ensure_worker(self) -> None:
        # The queue and its task belong to one event loop (a Ray actor keeps one for life).
        if self._worker is None or self._worker.get_loop() is not asyncio.get_running_loop():
            self._queue = asyncio.Queue()
            self._weights_lock = asyncio.Lock()
            self._worker = asyncio.get_running_loop().create_task(self._serve_batches())

    def _max_tokens(self, prompt_ids: list[int], sampling_params: dict) -> int:
        room = self.config.prompt_length + self.config.response_length - len(prompt_ids)
        requested = sampling_params.get("max_tokens", sampling_params.get("max_new_tokens"))
        if requested is not None and int(requested) < 1:
            raise ValueError(f"max_tokens must be at least 1, got {requested}")
        limit = min(self.config.response_length, room) if requested is None else min(int(requested), room)
        if limit < 1:
            raise ValueError(
                f"prompt of {len(prompt_ids)} tokens leaves no room to generate within "
                f"rollout.prompt_length + rollout.response_length = {self.config.prompt_length + self.config.response_length}"
            )
        return limit

    async def generate(self, prompt_ids: list[int], sampling_params: dict[str, Any], request_id: str, **_) -> TokenOutput:
        """verl's token-in-token-out call. Honours ``max_tokens`` and the sampling settings."""
        await self._ensure_worker()
        future = asyncio.get_running_loop().create_future()
        request = (
            list(prompt_ids),
            self._max_tokens(prompt_ids, sampling_params),
            SamplingSettings.from_request(sampling_params),
            self._request_stream(prompt_ids),
        )
        await self._queue.put((request, future))
        return await future

    def _request_stream(self, prompt_ids: list[int]) -> torch.Generator:
        """The request's own random stream, from the seed, the replica, the global step, the
        prompt and how many requests for that prompt came before it in this step.

        What a request samples then depends on nothing else: not on how requests were batched
        or on the order they arrived in (the n samples of a prompt are interchangeable), so a
        run is reproducible from its seed. Called in arrival order, on the server's event loop.
        """
        if self._occurrences_step != self.global_steps:  # a new step: earlier counts are done with
            self._occurrences.clear()
            self._occurrences_step = self.global_steps
        prompt = tuple(prompt_ids)
        index = self._occurrences[prompt]
        self._occurrences[prompt] += 1
        digest = hashlib.blake2b(repr((self.seed, self.replica_rank, self.global_steps, prompt, index)).encode(), digest_size=8)
        return torch.Generator(self.device).manual_seed(int.from_bytes(digest.digest(), "little") >> 1)

    async def _serve_batches(self) -> None:
        while True:
            pending = [await self._queue.get()]
            # Let the other coroutines of this agent-loop wave enqueue before decoding.
            await asyncio.sleep(0.005)
            while not self._queue.empty() and len(pending) < self.max_batch_size:
                pending.append(self._queue.get_nowait())
            groups: dict[SamplingSettings, list] = defaultdict(list)
            for item in pending:
                groups[item[0][2]].append(item)
            async with self._weights_lock:
                for settings, items in groups.items():
                    await self._decode_group(settings, items)

    async def _decode_group(self, settings: SamplingSettings, items: list) -> None:
        prompts = [request[0] for request, _ in items]
        max_tokens = [request[1] for request, _ in items]
        streams = [request[3] for request, _ in items]
        try:
            generations = await asyncio.to_thread(
                generate_batch, self.model, prompts, max_tokens, settings, self.eos_token_ids, self.pad_token_id,
                streams, self.device,
            )  # fmt: skip
        except Exception as error:  # deliver the failure to every waiting request, keep serving
            for _, future in items:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), generation in zip(items, generations):
            if not future.done():
                future.set_result(
                    TokenOutput(
                        token_ids=generation.token_ids,
                        log_probs=generation.log_probs,
                        stop_reason="completed",
                        extra_fields={"global_steps": self.global_steps, "finish_reason": generation.finish_reason},
                    )
                )

    async def update_weights(self, named_tensors: dict[str, torch.Tensor], global_steps: int | None = None) -> None:
        """Load the actor's full weights; waits for the batch in flight to finish first."""
        await self._ensure_worker()
        async with self._weights_lock:
            state = {name: tensor.to(self.dtype) for name, tensor in named_tensors.items()}
            known = self.model.state_dict()
            unknown = sorted(set(state) - set(known))
            if unknown:
                raise KeyError(f"weights not in the rollout model: {unknown[:5]}")
            self.model.load_state_dict(state, strict=False)
            if self.model.config.tie_word_embeddings:
                self.model.tie_weights()
            if global_steps is not None:
                self.global_steps = global_steps

    async def set_global_steps(self, global_steps: int) -> None:
        self.global_steps = global_steps

    # The lifecycle calls verl makes on every backend. Weights stay resident on CPU, there is
    # no KV cache between requests and no request is ever parked, so they have nothing to do.
    async def wake_up(self, tags: list[str] | None = None) -> None: ...
    async def sleep(self) -> None: ...
    async def clear_kv_cache(self) -> None: ...
    async def release_kv_cache(self) -> None: ...
    async def resume_kv_cache(self) -> None: ...
    async def abort_all_requests(self, reset_prefix_cache: bool = True, reject_request: bool = False) -> dict:
        return {}
    async def resume_generation(self) -> None: ...
    async def wait_for_requests_to_drain(self) -> None: ...
    async def start_profile(self, **kwargs) -> None: ...
    async def stop_profile(self) -> None: ...


class HFRolloutReplica(RolloutReplica):
    """One HF server per replica; the replica's workers only push weights to it."""

    async def launch_servers(self) -> None:
        server_cls = ray.remote(HFRolloutServer)
        kind = "reward_" if self.is_reward_model else "teacher_" if self.is_teacher_model else ""
        name = server_actor_name(self.replica_rank, kind, self.name_suffix)
        env_vars, actor_options, server_kwargs = await self.server_placement()
        server = server_cls.options(
            name=name,
            num_cpus=0,  # a CPU reservation here can starve the trainer's actors on 2 cores
            max_concurrency=self.max_concurrency,
            runtime_env={"env_vars": env_vars},
            **actor_options,
        ).remote(self.config, self.model_config, self.replica_rank, **server_kwargs)
        self.servers = [server]
        self._server_handle = server
        self._server_address = name

    async def server_placement(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        """The server actor's environment, its extra Ray options, and ``HFRolloutServer``'s keyword
        arguments: on the CPU platform, anywhere, on device cpu in fp32."""
        return {"VERL_PLATFORM": os.environ.get("VERL_PLATFORM", "cpu")}, {}, {}

    def rollout_worker_use_gpu(self) -> bool:
        return False


class HFServerAdapter(BaseRollout):
    """Worker-side rollout: sends the FSDP actor's weights to its replica's server.

    Every rank walks the weight generator (gathering a sharded tensor is collective), but only
    the first rank of each replica sends.
    """

    def __init__(self, config, model_config, device_mesh, replica_rank: int = -1) -> None:
        super().__init__(config, model_config, device_mesh)
        rank = int(os.environ.get("RANK", "0"))
        replica_world = (
            self.config.tensor_model_parallel_size * self.config.data_parallel_size * self.config.pipeline_model_parallel_size
        )
        self.replica_rank = rank // replica_world if replica_rank == -1 else replica_rank
        self.is_sender = rank % replica_world == 0
        self._server = None

    def _server_handle(self):
        if self._server is None:
            self._server = ray.get_actor(server_actor_name(self.replica_rank))
        return self._server

    async def resume(self, tags: list[str]) -> None: ...

    async def release(self) -> None: ...

    async def update_weights(
        self,
        weights: Generator[tuple[str, torch.Tensor], None, None],
        wire_format: str = "named_tensors",
        global_steps: int | None = None,
        **kwargs,
    ) -> None:
        if wire_format != "named_tensors":
            raise NotImplementedError(f"the hf rollout takes full tensors only, not {wire_format!r}")
        state = {}
        for name, tensor in weights:
            if hasattr(tensor, "full_tensor"):
                tensor = tensor.full_tensor()
            state[name] = tensor.detach().to("cpu", copy=True)
        if self.is_sender:
            await self._server_handle().update_weights.remote(state, global_steps)


def register(replica_class: type[RolloutReplica] = HFRolloutReplica) -> None:
    """Make ``rollout.name=hf`` resolvable in this process (the replica and the worker side).

    ``replica_class`` launches the server: the CPU one here, or the CUDA one of ``backends/gpu_hf.py``.
    """
    from verl.workers.rollout import base as rollout_base
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    RolloutReplicaRegistry.register(ROLLOUT_NAME, lambda: replica_class)
    rollout_base._ROLLOUT_REGISTRY[(ROLLOUT_NAME, "async")] = f"{__name__}.HFServerAdapter"
