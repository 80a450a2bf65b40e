"""What the lab contributes to the project's registries: its named assets and the ``toy_rule``
generation backend.

Imported through the ``siri_verl.catalogues`` entry point (pyproject.toml, siri_verl/catalogues.py)
when a registry is first looked up, so ``${siri_verl_asset:toy_warmstart_model}`` in a recipe and
``--backend toy_rule`` on the cold-start command work while the plugin layer never imports the
lab. Each builder is imported when its asset is built, not before: listing the assets stays cheap.
"""

from __future__ import annotations

from siri_verl.assets import cache_root, register_asset
from siri_verl.generation_backends import register_backend


@register_asset("tiny_model")
def _tiny_model() -> str:
    """The 0.1M-parameter Qwen2 of the tiny recipes and the e2e tests, built offline."""
    from siri_verl.lab.tiny import ensure_tiny_model

    return str(ensure_tiny_model())


@register_asset("tiny_inftythink_model")
def _tiny_inftythink_model() -> str:
    """The tiny model warmed up in the InftyThink+ segment layout (the tiny-scale cold start)."""
    from siri_verl.lab.tiny import TinyModelSpec, ensure_tiny_model

    return str(ensure_tiny_model(TinyModelSpec(warmup_format="inftythink", warmup_steps=250)))


def _toy_split(split: str) -> str:
    from siri_verl.lab.toy_addition import write_parquet

    out_dir = cache_root() / "data" / "toy_addition"
    if not (out_dir / f"{split}.parquet").exists():
        write_parquet(out_dir)
    return str(out_dir / f"{split}.parquet")


register_asset("toy_train", "toy addition problems, training split (the tiny recipes)")(lambda: _toy_split("train"))
register_asset("toy_val", "toy addition problems, validation split")(lambda: _toy_split("val"))
# The benchmark name `python -m siri_verl.eval benchmarks=[toy]` has always used for toy_val.
register_asset("toy", "toy_val under its benchmark name")(lambda: _toy_split("val"))


# The toy-scale study (siri_verl/lab/running_sums.py, siri_verl/lab/toy_reasoner.py).


def _running_sums_file(key: str) -> str:
    """A file of the running-sums data set (RL parquet, SFT parquet or long traces), by key."""
    from siri_verl.lab.running_sums import ensure_dataset

    return str(ensure_dataset()[key])


for _key in (
    "running_sums_train",
    "running_sums_tune",
    "running_sums_test",
    "long_sums_train",
    "long_sums_test",
    "running_sums_sft",
    "long_sums_traces",
):
    register_asset(_key, f"toy study data: {_key.replace('_', ' ')}")(lambda key=_key: _running_sums_file(key))
del _key


@register_asset("toy_reasoner_base")
def _toy_reasoner_base() -> str:
    """The randomly initialised 1M Qwen2 with the character tokenizer."""
    from siri_verl.lab.toy_reasoner import ensure_toy_reasoner_base

    return str(ensure_toy_reasoner_base())


@register_asset("toy_warmstart_model")
def _toy_warmstart_model() -> str:
    """The toy study's starting policy: one build of recipe toy_warmstart, shipped in the package."""
    from siri_verl.lab.toy_reasoner import ensure_toy_warmstart

    return str(ensure_toy_warmstart())


@register_asset("toy_warmstart_build")
def _toy_warmstart_build() -> str:
    """A fresh build of the warm start: `python -m siri_verl.sft recipe=toy_warmstart`, cached."""
    from siri_verl.lab.toy_reasoner import build_toy_warmstart

    return str(build_toy_warmstart())


@register_asset("toy_inftythink_model")
def _toy_inftythink_model() -> str:
    """The toy InftyThink+ cold start (rule-summarised segments, then SFT from the warm start)."""
    from siri_verl.lab.toy_reasoner import ensure_toy_inftythink

    return str(ensure_toy_inftythink())


@register_asset("toy_longcot_model")
def _toy_longcot_model() -> str:
    """The long-CoT baseline's starting policy: the long traces unsegmented, SFT from the warm start."""
    from siri_verl.lab.toy_reasoner import ensure_toy_longcot

    return str(ensure_toy_longcot())


@register_backend("toy_rule")
def _toy_rule(model_path: str, seed: int = 0):
    """The toy study's rule-based cold-start summariser (siri_verl/lab/rule_summariser.py)."""
    from siri_verl.lab.rule_summariser import ToyRuleSummariser

    return ToyRuleSummariser(model_path, seed=seed)
