"""Every command answers ``--help`` with what it does, its arguments and an example.

Each command runs as a real subprocess (``python -m ...`` from an empty directory), all at once
in one fixture: the three Hydra apps compose their configs (verl's included) to print their
help, a few seconds each. The list of commands is checked against the package itself: every
module with an ``if __name__ == "__main__":`` block and every ``[project.scripts]`` entry is
either run here or named in NOT_COMMANDS with the reason.
"""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _repo import REPO
from omegaconf import OmegaConf

from siri_verl.app_help import recipe_summary
from siri_verl.bench.__main__ import COMMANDS as BENCH_COMMANDS
from siri_verl.config import conf_dir, recipe_names

# Every command, as the arguments after `python -m` (before --help).
HELP_COMMANDS: list[tuple[str, ...]] = [
    ("siri_verl",),
    ("siri_verl.eval",),
    ("siri_verl.sft",),
    ("siri_verl.schedule",),
    ("siri_verl.pareto",),
    ("siri_verl.data",),
    ("siri_verl.data", "prepare"),
    ("siri_verl.data", "list"),
    ("siri_verl.inftythink.coldstart",),
    ("siri_verl.bench",),
    *[("siri_verl.bench", name) for name in BENCH_COMMANDS],
    ("siri_verl.siri.paper",),
    ("siri_verl.verl_api",),
    ("siri_verl.assets",),
    ("siri_verl.lab.toy_study",),
    ("siri_verl.lab.headroom",),
    ("siri_verl.lab.response_styles",),
]

# Modules with a __main__ block that are not commands of this project.
NOT_COMMANDS: dict[str, str] = {}


def _module_of(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__main__" else parts)


def _run_help(command: tuple[str, ...], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *command, "--help"], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def helps(tmp_path_factory) -> dict[tuple[str, ...], subprocess.CompletedProcess]:
    cwd = tmp_path_factory.mktemp("help_cwd")
    with ThreadPoolExecutor(max_workers=len(HELP_COMMANDS)) as pool:
        results = dict(zip(HELP_COMMANDS, pool.map(lambda command: _run_help(command, cwd), HELP_COMMANDS)))
    assert not list(cwd.iterdir()), f"--help wrote files: {sorted(p.name for p in cwd.iterdir())}"
    return results


def test_every_command_is_covered():
    guard = re.compile(r"^if __name__ == .__main__.:", re.MULTILINE)
    mains = {_module_of(p) for p in (REPO / "siri_verl").rglob("*.py") if guard.search(p.read_text())}
    covered = {command[0] for command in HELP_COMMANDS}
    assert mains - covered - set(NOT_COMMANDS) == set(), "a module has a __main__ block but no --help test"
    assert set(NOT_COMMANDS) <= mains
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"].get("scripts", {})
    # siri-verl is the same function as `python -m siri_verl` (siri_verl/__main__.py calls it).
    assert scripts == {"siri-verl": "siri_verl.launch:main"}
    assert "from siri_verl.launch import main" in (REPO / "siri_verl" / "__main__.py").read_text()


def _description(text: str) -> str:
    """The first paragraph that is prose: not the usage, not a section header or list."""
    for paragraph in re.split(r"\n\s*\n", text):
        first = paragraph.strip().splitlines()[0] if paragraph.strip() else ""
        if first and not re.match(r"(usage:|==|options:|positional arguments:|\s)", first, re.IGNORECASE):
            return paragraph.strip()
    return ""


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=" ".join)
def test_help_says_what_it_does_its_arguments_and_an_example(helps, command):
    result = helps[command]
    name = " ".join(command)
    assert result.returncode == 0, f"python -m {name} --help exited {result.returncode}:\n{result.stderr[-3000:]}"
    text = result.stdout
    assert re.search(rf"^\s*usage: .*(-m |python -m ){re.escape(name)}\b", text, re.MULTILINE | re.IGNORECASE), (
        f"python -m {name} --help prints no usage line naming the command:\n{text[:2000]}"
    )
    description = _description(text)
    assert len(description.split()) >= 8, f"python -m {name} --help says too little about what it does: {description!r}"
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if re.match(r"\s*(== )?examples?\b", line, re.IGNORECASE)]
    assert starts, f"python -m {name} --help has no example section:\n{text[-2000:]}"
    examples = lines[starts[0] :]  # "example: python -m ..." may share the header line
    assert any(re.search(rf"-m {re.escape(name)}( |$)", line) for line in examples), (
        f"python -m {name} --help: no example runs the command:\n" + "\n".join(examples)
    )


def _section(text: str, title: str) -> list[str]:
    match = re.search(rf"^== {title}.*?==\n(.*?)(?:\n\n|\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no '== {title}' section in python -m siri_verl --help"
    return match.group(1).splitlines()


def test_training_help_names_the_app_and_lists_the_recipes_with_their_descriptions(helps):
    text = helps[("siri_verl",)].stdout
    assert text.startswith("siri_verl: ") and "launch" not in text.split("\n", 1)[0]
    listed: dict[str, str] = {}
    for line in _section(text, "Recipes"):
        if line.startswith("  ") and not line.startswith("   "):  # "  name   description..."
            name, _, description = line.strip().partition(" ")
            listed[name] = description.strip()
        else:  # a wrapped description goes on
            listed[name] += " " + line.strip()
    assert list(listed) == recipe_names(), "the help must list every shipped recipe, and nothing else"
    recipe_dir = Path(conf_dir()) / "recipe"
    for name, description in listed.items():
        assert description and not description.startswith("(no description"), f"recipes/{name}.yaml: no description"
        assert description == recipe_summary(recipe_dir / f"{name}.yaml")
    building_blocks = [p.stem for p in recipe_dir.glob("_*.yaml")]
    assert building_blocks and not [b for b in building_blocks if b in text], "a _ building block is listed"


def test_training_help_lists_this_apps_groups_only(helps):
    text = helps[("siri_verl",)].stdout
    groups = {line.split(":")[0].strip() for line in _section(text, "Config groups") if not line.startswith("    ")}
    primary = OmegaConf.load(Path(conf_dir()) / "config.yaml")
    chosen = {next(iter(item)) for item in primary.defaults if isinstance(item, dict) or OmegaConf.is_dict(item)}
    chosen = {key for key in chosen if not key.startswith("override ")}
    assert groups == chosen - {"recipe"}, "the groups listed are not the ones conf/config.yaml chooses"
    for other_app in ("eval", "sft", "eval_protocol", "sft/recipe"):
        assert not re.search(rf"^\s*{other_app}\b.*:", text, re.MULTILINE), f"the {other_app} group leaks into the help"


def test_recipe_summary_is_the_first_sentence_after_the_commands(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "# @package _global_\n# python -m siri_verl recipe=r\n# python -m siri_verl recipe=r base_model=x   # 2\n#\n"
        "# Plain GRPO, KL 0.001, lr 1e-6\n# on 8 GPUs. Second sentence.\n# UNSTATED: steps.\ndefaults: []\n"
    )
    assert recipe_summary(recipe) == "Plain GRPO, KL 0.001, lr 1e-6 on 8 GPUs."
    recipe.write_text("# @package _global_\n# python -m siri_verl recipe=r\ndefaults: []\n")
    assert recipe_summary(recipe) == ""
