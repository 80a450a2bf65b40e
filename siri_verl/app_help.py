"""What ``python -m siri_verl --help`` lists: the recipes, each with its own one-line description,
and the config groups a user picks from.

Every recipe opens with the command that runs it, a blank comment line, then what it is::

    # @package _global_
    # python -m siri_verl recipe=siri_high
    #
    # SIRI-high (Table 1): cosine schedule, L_max 16384, ...; the row is the last checkpoint, ...
    # The same run also keeps SIRI-low ...

:func:`recipe_summary` returns the first sentence of that description, so the help never drifts
from the recipes. The help text itself is ``conf/hydra/help/siri_verl.yaml``; it calls
:func:`help_section` through the ``siri_verl_help`` resolver, which :func:`register_resolver`
registers (the training app does so on import, as it does for ``siri_verl_asset``).

Hidden from the help: recipes starting with ``_`` (building blocks that the recipes include, not
runs) and the directories under ``conf/`` that are other apps' primary configs (``eval/`` for
``python -m siri_verl.eval``, ``sft/`` for ``python -m siri_verl.sft``): Hydra lists them as
groups of this app only because they sit under its config directory.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from omegaconf import OmegaConf

from siri_verl.config import conf_dir, recipe_names

RESOLVER = "siri_verl_help"

# Directories under conf/ that are not groups of the training app: the primary configs of
# `python -m siri_verl.eval` (siri_verl.config.eval_conf_dir()) and `python -m siri_verl.sft`,
# Hydra's own `hydra/` groups, and the recipes (listed on their own, with descriptions).
NOT_TRAINING_GROUPS = ("eval", "sft", "hydra", "recipe")

WIDTH = 100
# A sentence ends at a full stop followed by white space (decimals such as 0.001 do not).
_SENTENCE_END = re.compile(r"(?<=\.)\s")


def _wrap(text: str, **indents: str) -> list[str]:
    # Never inside a word: recipe descriptions hold keys and overrides (clip-higher, schedule.stages=...).
    return textwrap.wrap(text, WIDTH, break_long_words=False, break_on_hyphens=False, **indents)


def recipe_summary(path: str | Path) -> str:
    """The first sentence of a recipe's description ("" when its header has none).

    The description is the comment paragraph after the command lines: comment lines up to the
    first blank ``#`` line end the commands, the next comment lines up to a blank ``#`` line or the
    first non-comment line are the description.
    """
    paragraphs: list[list[str]] = [[]]
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line[1:].strip()
        if text.startswith("@package"):
            continue
        if text:
            paragraphs[-1].append(text)
        elif paragraphs[-1]:
            paragraphs.append([])
    if len(paragraphs) < 2 or not paragraphs[1]:  # no command paragraph, or nothing after it
        return ""
    description = " ".join(paragraphs[1])
    return _SENTENCE_END.split(description, maxsplit=1)[0].strip()


def recipe_summaries() -> dict[str, str]:
    """``{recipe: first sentence of its description}`` for every shipped recipe."""
    recipe_dir = Path(conf_dir()) / "recipe"
    return {name: recipe_summary(recipe_dir / f"{name}.yaml") for name in recipe_names()}


def recipes_section() -> str:
    """One entry per recipe: its name, then its description wrapped under it."""
    summaries = recipe_summaries()
    width = max(map(len, summaries)) + 4
    lines = []
    for name, summary in summaries.items():
        text = summary or f"(no description: recipes/{name}.yaml has none after its command line)"
        lines += _wrap(text, initial_indent=f"  {name}".ljust(width), subsequent_indent=" " * width)
    return "\n".join(lines)


def training_groups() -> dict[str, list[str]]:
    """``{group: options}`` of the training app, without building blocks or other apps' configs."""
    root = Path(conf_dir())
    groups: dict[str, list[str]] = {}
    for directory in sorted(p for p in root.rglob("*") if p.is_dir()):
        group = directory.relative_to(root).as_posix()
        if group.split("/")[0] in NOT_TRAINING_GROUPS or "__pycache__" in group:
            continue
        options = sorted(p.stem for p in directory.glob("*.yaml") if not p.stem.startswith("_"))
        if options:
            groups[group] = options
    return groups


def groups_section() -> str:
    lines = []
    for group, options in training_groups().items():
        lines += _wrap(", ".join(options), initial_indent=f"  {group}: ", subsequent_indent="    ")
    return "\n".join(lines)


SECTIONS = {"recipes": recipes_section, "groups": groups_section}


def help_section(name: str) -> str:
    """``${siri_verl_help:recipes}`` or ``${siri_verl_help:groups}`` in a help template.

    Hydra fills the template with :class:`string.Template`, so a ``$`` is doubled here.
    """
    if name not in SECTIONS:
        raise KeyError(f"${{{RESOLVER}:{name}}}: unknown help section; known: {', '.join(SECTIONS)}")
    return SECTIONS[name]().replace("$", "$$")


def register_resolver() -> None:
    OmegaConf.register_new_resolver(RESOLVER, help_section, replace=True)
