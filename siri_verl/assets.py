"""Named build artefacts that configs can point at: ``${siri_verl_asset:NAME}``.

An asset is built on first use and cached (see ``siri_verl.models.tiny.cache_root``), so a
config can name "the tiny model" or "the toy training set" without a path that exists yet.
Resolution happens on the driver, before the config is handed to verl.
"""

from __future__ import annotations

from typing import Callable

from omegaconf import OmegaConf

RESOLVER_NAME = "siri_verl_asset"

_ASSETS: dict[str, Callable[[], str]] = {}


def register_asset(name: str, description: str | None = None):
    """Register ``build`` (returns the asset's path) as ``name``; ``description`` (default: the
    builder's docstring) is what ``python -m siri_verl.assets --help`` lists."""

    def decorator(build: Callable[[], str]) -> Callable[[], str]:
        if description:
            build.__doc__ = description
        _ASSETS[name] = build
        return build

    return decorator


def resolve_asset(name: str) -> str:
    if name not in _ASSETS:
        raise KeyError(f"unknown asset ${{{RESOLVER_NAME}:{name}}}; known assets: {sorted(_ASSETS)}")
    return _ASSETS[name]()


def is_asset(name: str) -> bool:
    return name in _ASSETS


def asset_or_path(name: str) -> str:
    """An asset name (``tiny_model``) built and resolved to its path; anything else (a path, a
    Hugging Face id) as given. The one lookup the commands that take a model use."""
    return resolve_asset(name) if is_asset(name) else name


@register_asset("tiny_model")
def _tiny_model() -> str:
    """The 0.1M-parameter Qwen2 of the tiny recipes and the e2e tests, built offline."""
    from siri_verl.models.tiny import ensure_tiny_model

    return str(ensure_tiny_model())


@register_asset("tiny_inftythink_model")
def _tiny_inftythink_model() -> str:
    """The tiny model warmed up in the InftyThink+ segment layout (the tiny-scale cold start)."""
    from siri_verl.models.tiny import TinyModelSpec, ensure_tiny_model

    return str(ensure_tiny_model(TinyModelSpec(warmup_format="inftythink", warmup_steps=250)))


@register_asset("r1_distill_tokenizer")
def _r1_distill_tokenizer() -> str:
    """A tokenizer directory with DeepSeek-R1-Distill-Qwen's contract (siri_verl/models/r1_distill.py)."""
    from siri_verl.models.r1_distill import ensure_r1_distill_tokenizer

    return str(ensure_r1_distill_tokenizer())


def _toy_split(split: str) -> str:
    from siri_verl.data.toy import write_parquet
    from siri_verl.models.tiny import cache_root

    out_dir = cache_root() / "data" / "toy_addition"
    if not (out_dir / f"{split}.parquet").exists():
        write_parquet(out_dir)
    return str(out_dir / f"{split}.parquet")


register_asset("toy_train", "toy addition problems, training split (the tiny recipes)")(lambda: _toy_split("train"))
register_asset("toy_val", "toy addition problems, validation split")(lambda: _toy_split("val"))
# The benchmark name `python -m siri_verl.eval benchmarks=[toy]` has always used for toy_val.
register_asset("toy", "toy_val under its benchmark name")(lambda: _toy_split("val"))


# The toy-scale study (siri_verl/data/running_sums.py, siri_verl/models/toy_reasoner.py).


def _running_sums_file(key: str) -> str:
    """A file of the running-sums data set (RL parquet, SFT parquet or long traces), by key."""
    from siri_verl.data.running_sums import ensure_dataset

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
    from siri_verl.models.toy_reasoner import ensure_toy_reasoner_base

    return str(ensure_toy_reasoner_base())


@register_asset("toy_warmstart_model")
def _toy_warmstart_model() -> str:
    """The toy study's starting policy: `python -m siri_verl.sft recipe=toy_warmstart`, cached."""
    from siri_verl.models.toy_reasoner import ensure_toy_warmstart

    return str(ensure_toy_warmstart())


@register_asset("toy_inftythink_model")
def _toy_inftythink_model() -> str:
    """The toy InftyThink+ cold start (rule-summarised segments, then SFT from the warm start)."""
    from siri_verl.models.toy_reasoner import ensure_toy_inftythink

    return str(ensure_toy_inftythink())


@register_asset("toy_longcot_model")
def _toy_longcot_model() -> str:
    """The long-CoT baseline's starting policy: the long traces unsegmented, SFT from the warm start."""
    from siri_verl.models.toy_reasoner import ensure_toy_longcot

    return str(ensure_toy_longcot())


def register_resolver() -> None:
    if not OmegaConf.has_resolver(RESOLVER_NAME):
        OmegaConf.register_new_resolver(RESOLVER_NAME, resolve_asset)


def main(argv: list[str] | None = None) -> int:
    """``python -m siri_verl.assets NAME ...``: build each named asset (or find it in the cache)
    and print its path, e.g. the toy study's models before a timed run."""
    import argparse

    def summary(name: str) -> str:
        doc = (_ASSETS[name].__doc__ or "").strip().splitlines()
        return doc[0] if doc else ""

    width = max(map(len, _ASSETS)) + 2
    parser = argparse.ArgumentParser(
        prog="python -m siri_verl.assets",
        description="Build named assets (models, tokenizers, toy data) into the cache (SIRI_VERL_CACHE, "
        "default ~/.cache/siri_verl) and print NAME<tab>PATH for each; a cached asset is not rebuilt.",
        epilog="assets:\n"
        + "\n".join(f"  {name:<{width}}{summary(name)}" for name in sorted(_ASSETS))
        + "\n\nexample: python -m siri_verl.assets toy_warmstart_model toy_inftythink_model toy_longcot_model",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="+", choices=sorted(_ASSETS), metavar="NAME", help="one or more assets below")
    for name in parser.parse_args(argv).names:
        print(f"{name}\t{resolve_asset(name)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
