"""One evaluation of the toy study: a model on an arm's benchmark under the study's protocol.

Shared by the study (siri_verl/lab/toy_study.py, each arm's checkpoint) and the headroom checks
(siri_verl/lab/headroom.py, the warm start on the tune split at two temperatures).
"""

from __future__ import annotations

from pathlib import Path

from siri_verl.lab.study_arms import ETA, Arm

# Samples per eval backend call: every sample of a benchmark (200 problems x 4) in two calls.
EVAL_BATCH = 512


def evaluate(
    arm: Arm,
    model: str,
    seed: int,
    out_dir: Path,
    limit: int | None,
    n: int,
    tags: dict,
    run_name: str | None = None,
    extra: tuple[str, ...] = (),
) -> None:
    """One eval of ``model`` on the arm's benchmark under the study's protocol (``extra``: eval
    overrides on top, e.g. another temperature), in this process (``siri_verl.eval``'s own code);
    a finished eval (its ``summary.json``) is not run again."""
    if (out_dir / "summary.json").exists():
        return
    from hydra import compose, initialize_config_dir

    from siri_verl import assets
    from siri_verl.config import eval_conf_dir
    from siri_verl.eval.run import run_eval

    assets.register_resolver()
    overrides = [
        "eval_protocol=toy", f"model={model}", f"benchmarks=[{arm.benchmark}]", "backend=cpu", f"mode={arm.mode}",
        f"seed={seed}", f"n={n}", f"max_tokens={arm.max_tokens}", f"out_dir={out_dir}",
        f"inftythink.segment_cap={ETA}", "inftythink.max_segments=6",
        # One forward per token for all of a benchmark's samples: per-call overhead, not FLOPs,
        # bounds a 1M model on CPU (32 at a time took ~20x longer). Not part of the protocol.
        f"chunk={EVAL_BATCH}", f"+backend_options.batch_size={EVAL_BATCH}",
        f"limit={limit if limit else 'null'}", f"mlflow.run_name='{run_name or f'{arm.name} seed {seed}'}'",
        *[f"mlflow.{key}={value}" for key, value in tags.items()],
        *extra,
    ]  # fmt: skip
    with initialize_config_dir(config_dir=eval_conf_dir(), version_base=None):
        cfg = compose("eval", overrides=overrides)
    run_eval(cfg)
