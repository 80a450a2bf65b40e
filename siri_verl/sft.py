"""``python -m siri_verl.sft recipe=NAME [key=value ...]``: verl's SFT trainer (the cold start).

A Hydra app over ``conf/sft/`` (verl's ``sft_trainer_engine`` + a recipe). On GPUs launch it
with ``torchrun --nproc_per_node=N``, as verl's own SFT trainer; with ``trainer.device=cpu`` it
runs as one process on the CPU platform (``backends/cpu``). The run is tracked in MLflow like a
training run; ``checkpoint.save_contents`` with ``hf_model`` leaves an HF directory that the RL
recipes take as ``inftythink.coldstart_model``.
"""

from __future__ import annotations

import os
import socket

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from siri_verl import assets, tracking
from siri_verl.config import conf_dir


def _single_process_world() -> None:
    """Without torchrun: a world of one process on loopback."""
    defaults = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"}
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    if "MASTER_PORT" not in os.environ:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            os.environ["MASTER_PORT"] = str(probe.getsockname()[1])


def run(cfg: DictConfig) -> None:
    from siri_verl.launch import use_platform_from_env

    if cfg.trainer.device == "cpu":
        os.environ["VERL_PLATFORM"] = "cpu"
        _single_process_world()
    use_platform_from_env()
    choices = dict(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}
    mlflow_run = tracking.open_training_run(cfg, choices) if int(os.environ.get("RANK", "0")) == 0 else None
    if mlflow_run is not None:
        os.environ.update(mlflow_run.env)
    OmegaConf.resolve(cfg)

    from verl.trainer.sft_trainer import run_sft

    succeeded = False
    try:
        run_sft(cfg)
        succeeded = True
    finally:
        if mlflow_run is not None:
            tracking.close_training_run(mlflow_run, succeeded)


assets.register_resolver()


@hydra.main(version_base=None, config_path=os.path.join(conf_dir(), "sft"), config_name="sft")
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
