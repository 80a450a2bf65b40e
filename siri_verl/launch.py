"""``python -m siri_verl [recipe=NAME] [key=value ...]``: compose, check, and run verl's trainer.

The Hydra app composes verl's ``ppo_trainer`` with this project's ``conf/`` and a recipe, then:

1. runs the compose-time checks (``siri_verl.checks``): a bad key fails here, in seconds;
2. exports the backend's environment (``ray_kwargs.ray_init.runtime_env.env_vars``) to this
   driver too, so the driver and every Ray worker pick the same verl platform;
3. resolves every interpolation here, where Hydra's runtime exists (verl resolves again in
   its TaskRunner actor, where ``${hydra:...}`` would fail);
4. opens the MLflow run on the driver, so its id is known for the summary and for sweeps,
   lets verl's tracker attach to it in the TaskRunner (``MLFLOW_RUN_ID``), and calls verl's
   ``run_ppo`` with verl's V1 TaskRunner, whose prints go to a file unless verl's console logger
   is asked for (``siri_verl/task_runner.py``, ``siri_verl/console.py``);
5. shuts Ray down, so a ``-m`` sweep starts each job on a fresh cluster, and prints a summary.

A run stopped by a step hook (``siri_verl.health.action=stop``) exits with status 3 and the
reason; a configuration error with status 2.
"""

from __future__ import annotations

import json
import os
import sys
import time

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from siri_verl import app_help, assets, console, tracking
from siri_verl.checks import ConfigError, run_checks
from siri_verl.config import conf_dir
from siri_verl.errors import TrainingStopped
from siri_verl.project_settings import VERL_PRINTS_KEY, SiriVerlSettings


def export_backend_env(cfg: DictConfig) -> dict[str, str]:
    env = OmegaConf.select(cfg, "ray_kwargs.ray_init.runtime_env.env_vars", default=None)
    # backend=gpu sets no env_vars: nothing to export (to_container refuses None or a plain dict).
    env = {} if env is None else OmegaConf.to_container(env, resolve=True)
    env = {str(k): str(v) for k, v in env.items()}
    os.environ.update(env)
    return env


def use_platform_from_env() -> None:
    """Point verl at ``VERL_PLATFORM`` in this driver and register what that backend needs.

    Composing the config already imported verl (its configs are ``pkg://verl...``), and with it
    this project's plugin, before the backend's environment was known.
    """
    from verl.plugin.platform import PlatformRegistry, platform_manager, set_platform

    from siri_verl.plugin import register_all

    register_all()
    wanted = os.environ.get("VERL_PLATFORM", "").strip().lower()
    current = platform_manager._current_platform
    if wanted and current is not None and PlatformRegistry.get(wanted) is not type(current):
        set_platform(PlatformRegistry.get(wanted)())


def add_runtime_env(cfg: DictConfig, env: dict[str, str]) -> None:
    with open_dict(cfg):
        runtime_env = cfg.ray_kwargs.ray_init.setdefault("runtime_env", {})
        env_vars = runtime_env.setdefault("env_vars", {})
        for key, value in env.items():
            env_vars[key] = value


def run(cfg: DictConfig) -> dict:
    """Run one training job from a composed config; returns the summary."""
    choices = dict(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}
    run_checks(cfg, choices)
    export_backend_env(cfg)
    use_platform_from_env()

    # verl reads the platform at import time (constants_ppo), so import it only now.
    import ray
    from verl.trainer.main_ppo import run_ppo
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config
    from verl.utils.device import auto_set_device

    OmegaConf.resolve(cfg)
    output_dir = HydraConfig.get().runtime.output_dir if HydraConfig.initialized() else os.getcwd()
    verl_prints = console.verl_prints_path(cfg, output_dir)
    OmegaConf.update(cfg, VERL_PRINTS_KEY, verl_prints, force_add=True)
    settings = SiriVerlSettings.of(cfg)
    auto_set_device(cfg)
    with console.verl_prints_to(verl_prints):  # its "checks passed" line and warnings: the prints file
        validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))

    mlflow_run = tracking.open_training_run(cfg, choices)
    if mlflow_run is not None:
        add_runtime_env(cfg, mlflow_run.env)
        os.environ.update(mlflow_run.env)

    from siri_verl.task_runner import TaskRunner

    steps = OmegaConf.select(cfg, "trainer.total_training_steps")
    print(f"siri_verl: training {cfg.trainer.experiment_name}" + (f" for {steps} steps" if steps else ""), flush=True)
    if verl_prints is not None:
        print(f"  verl's own prints (its config, validation dicts): {verl_prints}", flush=True)
    started = time.time()
    succeeded = False
    try:
        with console.verl_prints_to(verl_prints, keep=console.is_console_line):  # start-up prints: the file
            run_ppo(cfg, task_runner_class=TaskRunner)
        succeeded = True
    finally:
        if settings.shutdown_ray and ray.is_initialized():
            ray.shutdown()
        if mlflow_run is not None:
            tracking.close_training_run(mlflow_run, succeeded)
    summary = tracking.training_summary(cfg, mlflow_run, time.time() - started)
    tracking.record_finished_run(cfg, mlflow_run, summary, choices)  # description, view, Pareto point
    if HydraConfig.initialized():
        # Machine-readable record of a finished job (studies and sweeps read it; its presence
        # marks the job as done).
        with open(os.path.join(output_dir, "summary.json"), "w", encoding="utf-8") as sink:
            json.dump(summary, sink, indent=2)
    if settings.summary:
        print(tracking.format_summary(summary), flush=True)
    return summary


assets.register_resolver()
app_help.register_resolver()  # ${siri_verl_help:...} in `--help` (conf/hydra/help/siri_verl.yaml)


@hydra.main(version_base=None, config_path=conf_dir(), config_name="config")
def main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except ConfigError as error:
        print(f"\nsiri_verl: configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    except TrainingStopped as stopped:
        # Raised in verl's TaskRunner actor, it arrives wrapped in Ray's RayTaskError (an instance
        # of both): its ``cause`` is the trainer's exception, whose message is the reason.
        print(f"\nsiri_verl: training stopped: {getattr(stopped, 'cause', stopped)}", file=sys.stderr)
        sys.exit(3)
