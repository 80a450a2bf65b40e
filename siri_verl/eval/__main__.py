"""``python -m siri_verl.eval model=PATH benchmarks=[aime24,...] [n=64 temperature=0.6 ...]``.

A Hydra app over ``conf/eval/eval.yaml`` (its own config directory, so that ``backend=`` is a
plain key here, not the training config's group); ``eval_protocol=siri|inftythink`` picks a paper's sampling
protocol, every key can be overridden. See ``siri_verl/eval/run.py`` for what it reports.
"""

import sys

import hydra
from omegaconf import DictConfig

from siri_verl.config import eval_conf_dir
from siri_verl.eval.run import run_eval
from siri_verl.jsonl import LogWriteError


@hydra.main(version_base=None, config_path=eval_conf_dir(), config_name="eval")
def main(cfg: DictConfig) -> None:
    try:
        run_eval(cfg)
    except LogWriteError as error:  # a full disk, say: the message names the file; no traceback
        print(f"\nsiri_verl.eval: stopped: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
