"""Named build artefacts that configs can point at: ``${siri_verl_asset:NAME}``.

An asset is built on first use and cached under :func:`cache_root`, so a config can name "the
tiny model" or "the toy training set" without a path that exists yet. Resolution happens on the
driver, before the config is handed to verl.

This module is the registry only: it builds nothing itself and imports no builder. The modules
that register assets (``@register_asset``) are catalogues, listed as entry points of the group
``siri_verl.catalogues`` in pyproject.toml (siri_verl/catalogues.py loads them on the first
lookup): the R1-Distill tokenizer contract (siri_verl/models/r1_distill.py) and the lab's
models and data (siri_verl/lab/catalogue.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

from omegaconf import OmegaConf

from siri_verl.catalogues import Registry

RESOLVER_NAME = "siri_verl_asset"

_ASSETS: Registry[Callable[[], str]] = Registry("asset")


def cache_root() -> Path:
    """Where built assets live: ``SIRI_VERL_CACHE``, default ``~/.cache/siri_verl``."""
    return Path(os.environ.get("SIRI_VERL_CACHE", Path.home() / ".cache" / "siri_verl"))


def publish_atomically(target: Path, write: Callable[[Path], None]) -> Path:
    """Fill a fresh temporary directory with ``write(staging)``, then rename it to ``target``.

    An interrupted or failed build never leaves a half-written directory behind that later runs
    would trust; if another process published ``target`` first, its copy is kept.
    """
    staging = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        write(staging)
        try:
            staging.rename(target)
        except OSError:  # another process finished the same build first
            if not target.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def register_asset(name: str, description: str | None = None):
    """Register ``build`` (returns the asset's path) as ``name``; ``description`` (default: the
    builder's docstring) is what ``python -m siri_verl.assets --help`` lists."""

    def decorator(build: Callable[[], str]) -> Callable[[], str]:
        if description:
            build.__doc__ = description
        return _ASSETS.register(name)(build)

    return decorator


def asset_names() -> list[str]:
    """Every registered asset, the catalogues' included."""
    return _ASSETS.names()


def resolve_asset(name: str) -> str:
    return _ASSETS.get(name, known_as=f"${{{RESOLVER_NAME}:{name}}}")()


def is_asset(name: str) -> bool:
    return name in _ASSETS


def asset_or_path(name: str) -> str:
    """An asset name (``tiny_model``) built and resolved to its path; anything else (a path, a
    Hugging Face id) as given. The one lookup the commands that take a model use."""
    return resolve_asset(name) if is_asset(name) else name


def register_resolver() -> None:
    if not OmegaConf.has_resolver(RESOLVER_NAME):
        OmegaConf.register_new_resolver(RESOLVER_NAME, resolve_asset)


def main(argv: list[str] | None = None) -> int:
    """``python -m siri_verl.assets NAME ...``: build each named asset (or find it in the cache)
    and print its path, e.g. the toy study's models before a timed run."""
    import argparse

    def summary(name: str) -> str:
        doc = (_ASSETS.get(name).__doc__ or "").strip().splitlines()
        return doc[0] if doc else ""

    names = asset_names()
    width = max(map(len, names)) + 2
    parser = argparse.ArgumentParser(
        prog="python -m siri_verl.assets",
        description="Build named assets (models, tokenizers, toy data) into the cache (SIRI_VERL_CACHE, "
        "default ~/.cache/siri_verl) and print NAME<tab>PATH for each; a cached asset is not rebuilt.",
        epilog="assets:\n"
        + "\n".join(f"  {name:<{width}}{summary(name)}" for name in names)
        + "\n\nexample: python -m siri_verl.assets toy_warmstart_model toy_inftythink_model toy_longcot_model",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="+", choices=names, metavar="NAME", help="one or more assets below")
    for name in parser.parse_args(argv).names:
        print(f"{name}\t{resolve_asset(name)}", flush=True)
    return 0


if __name__ == "__main__":
    # Run as `python -m siri_verl.assets`, this file is `__main__`, while the catalogues register
    # into `siri_verl.assets`: list and build from that module's registry.
    from siri_verl import assets

    raise SystemExit(assets.main())
