"""verl's FSDP training engines, registered for device ``cpu``.

verl registers ``FSDPEngineWithLMHead`` and ``FSDPEngineWithValueHead`` for ``cuda`` and
``npu`` only. The engines themselves are device-agnostic once the platform answers ``cpu``
and ``gloo``; FSDP2 (``fully_shard``) trains on a CPU device mesh, FSDP1 refuses CPU
parameters, so the ``backend=cpu`` preset selects ``strategy=fsdp2``.
"""

from verl.workers.engine.base import EngineRegistry
from verl.workers.engine.fsdp.transformer_impl import (
    FSDPEngineWithLMHead,
    FSDPEngineWithValueHead,
)

DEVICE = "cpu"


def register() -> None:
    for model_type, engine in (("language_model", FSDPEngineWithLMHead), ("value_model", FSDPEngineWithValueHead)):
        already = EngineRegistry._engines.get(model_type, {}).get("fsdp2", {})
        if DEVICE not in already:
            EngineRegistry.register(model_type=model_type, backend=["fsdp", "fsdp2"], device=DEVICE)(engine)
