"""``python -m siri_verl.eval model=PATH benchmarks=[aime24,...] [n=64 temperature=0.6 ...]``.

A Hydra app over ``conf/eval/eval.yaml`` (its own config directory, so that ``backend=`` is a
plain key here, not the training config's group); ``eval_protocol=siri|inftythink`` picks a paper's sampling
protocol, every key can be overridden. See ``siri_verl/eval/run.py`` for what it reports.
"""

import hydra
from omegaconf import DictConfig

from siri_verl.config import eval_conf_dir
from siri_verl.eval.run import run_eval


@hydra.main(version_base=None, config_path=eval_conf_dir(), config_name="eval")
def main(cfg: DictConfig) -> None:
    run_eval(cfg)


if __name__ == "__main__":
    main()
