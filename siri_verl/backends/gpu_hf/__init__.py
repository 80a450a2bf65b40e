"""verl's trainer on CUDA GPUs without vLLM (``backend=gpu_hf``): the ``hf`` rollout served from a GPU.

verl's own CUDA platform, FSDP engines and NCCL run unchanged; only the rollout differs from
``backend=gpu``: this project's ``hf`` server (``siri_verl/backends/cpu/rollout.py``), launched by
the replica in ``replica.py`` on the GPU of its replica's first worker. For one workstation GPU
and small models (the toy study, a short experiment); at scale use ``backend=gpu`` (vLLM).

Selected with ``SIRI_VERL_BACKEND=gpu_hf``, which ``conf/backend/gpu_hf.yaml`` sets in the driver
(the launcher exports it) and in every Ray worker: verl picks its CUDA platform by itself, so
no ``VERL_PLATFORM`` is set, and the replica is imported only in processes that use it.
"""

import os

BACKEND_ENV = "SIRI_VERL_BACKEND"
BACKEND_NAME = "gpu_hf"


def is_selected() -> bool:
    """True in a process of a ``backend=gpu_hf`` job."""
    return os.environ.get(BACKEND_ENV, "").strip().lower() == BACKEND_NAME


def register() -> None:
    """Register rollout ``hf`` with the CUDA replica, in a process of a ``backend=gpu_hf`` job."""
    if not is_selected():
        return
    from siri_verl.backends.cpu import rollout
    from siri_verl.backends.gpu_hf.replica import CudaHFRolloutReplica

    rollout.register(CudaHFRolloutReplica)
