"""The task runner ``python -m siri_verl`` hands to verl's ``run_ppo`` (its ``task_runner_class``).

verl's ``TaskRunnerV1`` (the Ray actor that drives training) unchanged, except that its stdout
goes to the file ``siri_verl.console.verl_prints`` names (:func:`siri_verl.console.verl_prints_path`,
resolved by the launcher): verl prints the whole resolved config there at start (some 950 lines
for the tiny recipe) and its validation dicts, and with ``console`` in ``trainer.logger`` its
metric line, in which case nothing is routed. Its stderr (logging, the progress bar) and the
trainer's compact lines (``siri_verl/console.py``) stay on the console.

Imported only once the platform is set (``launch.run``): importing verl's ``main_ppo`` reads it.
"""

from __future__ import annotations

import ray
from verl.trainer.main_ppo import TaskRunnerV1

from siri_verl.console import verl_prints_to
from siri_verl.project_settings import SiriVerlSettings


@ray.remote
class TaskRunner(TaskRunnerV1.__ray_actor_class__):
    """verl's ``TaskRunnerV1`` with its stdout routed to ``siri_verl.console.verl_prints``."""

    def run(self, config):
        path = SiriVerlSettings.of(config).console.verl_prints
        with verl_prints_to(path):
            return super().run(config)
