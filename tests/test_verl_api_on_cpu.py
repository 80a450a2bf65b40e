"""``siri_verl/verl_api.py``: every verl API we touch still exists in the pinned verl, as we rely on it.

This is the test that breaks, usefully, at the next verl upgrade: each failure names the verl
symbol, what changed, and the files of ours to revisit. It also fails when a module of
``siri_verl/`` reaches a verl symbol that has no row in the inventory (imports, attributes of
imported names, methods overridden in a subclass of a verl class, attributes of verl's base
classes used through ``self``).

Rule for what needs a row: EVERYTHING of verl that our code names, including verl's documented
extension points (``register`` decorators, registries, the platform base). A separate allowlist of
"public, stable" names would be a second list to keep in sync, and the 0.9.0 -> 0.9.1 upgrade
changed an agent-loop API we used, so every touched name gets its signature checked. A row's
``kind`` column records how stable verl means it to be. Public attributes of a class that has a
row are covered by it; private ones (``_name``) and overridden methods need their own row.

Nothing here runs verl: it imports verl's modules and reads their signatures and source.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import inspect
import re
import textwrap
import types
from functools import cache
from pathlib import Path

import pytest
import tomllib
import verl
from _repo import REPO
from omegaconf import OmegaConf

from siri_verl import verl_api
from siri_verl.verl_api import CONFIG_KEYS, TOUCHES, VERL_PACKAGES

SITE_PACKAGES = Path(verl.__file__).resolve().parents[1]
# Parameters that are not part of an API: the bound instance, and the tracing context Ray adds
# to the methods of a class once it has been made an actor class.
UNLISTED_PARAMETERS = {"self", "cls", "_ray_trace_ctx"}


# --- resolving a row --------------------------------------------------------------------------------


def resolve(symbol: str):
    """The object ``"module:Qualified.name"`` names (a module for ``"module"``)."""
    module_name, _, qualname = symbol.partition(":")
    target = importlib.import_module(module_name)
    for part in filter(None, qualname.split(".")):
        target = getattr(target, part)
    return target


def _module_of(symbol: str) -> types.ModuleType:
    return importlib.import_module(symbol.partition(":")[0])


def defining_file(symbol: str, target) -> Path:
    if inspect.ismodule(target):
        return Path(target.__file__)
    try:
        return Path(inspect.getsourcefile(inspect.unwrap(target)))
    except TypeError:  # a value (dict, None...) or a wrapper without source: its module's file
        return Path(_module_of(symbol).__file__)


def _verl_classes(cls: type) -> list[type]:
    return [klass for klass in cls.__mro__ if klass.__module__.split(".")[0] in VERL_PACKAGES]


def verl_source(symbol: str, target) -> str:
    """The source our ``contains`` lines are looked up in, indentation removed: a function's own,
    a class's with its verl bases', a module's, or (a value) its module's."""
    if inspect.isclass(target):
        pieces = [inspect.getsource(klass) for klass in _verl_classes(target)]
    elif inspect.isfunction(inspect.unwrap(target)) or inspect.ismethod(target):
        pieces = [inspect.getsource(inspect.unwrap(target))]
    else:
        module = target if inspect.ismodule(target) else _module_of(symbol)
        pieces = [Path(module.__file__).read_text(encoding="utf-8")]
    return "\n".join(line.strip() for piece in pieces for line in piece.splitlines())


def rendered_parameters(target) -> list[str]:
    """Parameter names as the table writes them: ``*args``, ``**kwargs``, no ``self``."""
    prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    return [
        prefix.get(parameter.kind, "") + name
        for name, parameter in inspect.signature(target).parameters.items()
        if name not in UNLISTED_PARAMETERS
    ]


@cache
def assigned_attributes(cls: type) -> frozenset[str]:
    """Names verl's classes in ``cls``'s MRO assign as ``self.<name>`` (in any method)."""
    names = set()
    for klass in _verl_classes(cls):
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(klass)))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                names.add(node.attr)
    return frozenset(names)


def verl_defines(cls: type, name: str) -> bool:
    """Whether verl's part of ``cls`` defines ``name`` (on a class or as ``self.<name>``)."""
    return any(name in vars(klass) for klass in _verl_classes(cls)) or name in assigned_attributes(cls)


# --- checking what a row relies on ------------------------------------------------------------------


def _names(listing: str) -> list[str]:
    return [name.strip() for name in listing.split(",") if name.strip()]


def relies_on_problems(relies_on: str, target) -> list[str]:
    """What differs between the row's ``relies_on`` and the installed verl (empty: nothing)."""
    parameters = re.fullmatch(r"\((.*)\)", relies_on)
    if parameters:
        expected = _names(parameters.group(1))
        actual = rendered_parameters(target)
        if expected and expected[-1] == "...":
            missing = [name for name in expected[:-1] if name not in actual]
            return [f"parameters {missing} are gone; now {actual}"] if missing else []
        return [] if actual == expected else [f"parameters are now {actual}, the table relies on {expected}"]
    if relies_on.startswith("self."):
        if not inspect.isclass(target):
            return [f"is no longer a class ({type(target).__name__})"]
        missing = [name for name in _names(relies_on.replace("self.", "")) if not verl_defines(target, name)]
        return [f"no longer has attributes {missing}"] if missing else []
    if relies_on.startswith("abstract:"):
        expected = set(_names(relies_on.removeprefix("abstract:")))
        actual = set(getattr(target, "__abstractmethods__", ()))
        added, removed = sorted(actual - expected), sorted(expected - actual)
        return [f"abstract methods added {added}, removed {removed}"] if added or removed else []
    if relies_on.startswith("files:"):
        folder = Path(target.__file__).parent
        missing = [name for name in _names(relies_on.removeprefix("files:")) if not (folder / name).is_file()]
        return [f"no longer ships {missing}"] if missing else []
    kinds = {"dict": lambda value: isinstance(value, dict), "module": inspect.ismodule, "class": inspect.isclass}
    if relies_on in kinds:
        return [] if kinds[relies_on](target) else [f"is no longer a {relies_on} ({type(target).__name__})"]
    assert relies_on == "exists", f"unknown relies_on form {relies_on!r} (forms: siri_verl/verl_api.py docstring)"
    return []


def _revisit(row) -> str:
    guard = f"; in depth: {row.guard}" if row.guard else ""
    return f"revisit {', '.join(row.used_by)} (we touch it because: {row.why}){guard}"


def test_the_installed_verl_is_the_pinned_one():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = project["dependencies"] + [
        req for extra in project["optional-dependencies"].values() for req in extra
    ]
    pins = {match.group(1) for req in requirements if (match := re.fullmatch(r"verl(?:\[[^\]]*\])?==(\S+)", req))}
    assert len(pins) == 1, f"pyproject.toml pins verl at {sorted(pins)}: one version, everywhere"
    installed = importlib.metadata.version("verl")
    assert installed == verl.__version__ == pins.pop(), (
        f"verl {installed} is installed but pyproject.toml pins another: reinstall (make test), or, upgrading, "
        "update the pin and go through tests/test_verl_api_on_cpu.py's failures"
    )


@pytest.mark.parametrize("row", TOUCHES, ids=[row.symbol for row in TOUCHES])
def test_each_touched_verl_symbol_is_still_what_we_rely_on(row):
    if row.needs and importlib.util.find_spec(row.needs) is None:
        pytest.skip(f"{row.needs} is not installed here; {row.guard} checks this row with {row.needs} faked")
    try:
        target = resolve(row.symbol)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"{row.symbol} is gone from verl {verl.__version__} ({error}): {_revisit(row)}")
    where = defining_file(row.symbol, target).resolve()
    assert where.is_relative_to(SITE_PACKAGES) and where.relative_to(SITE_PACKAGES).as_posix() == row.source, (
        f"{row.symbol} is now defined in {where}, not {row.source}: update the row, and {_revisit(row)}"
    )
    problems = relies_on_problems(row.relies_on, target)
    assert not problems, f"{row.symbol} ({row.source}) {'; '.join(problems)}: {_revisit(row)}"
    source, position = verl_source(row.symbol, target) if row.contains else "", 0
    for line in row.contains:
        found = source.find(line, position)
        assert found >= 0, (
            f"{row.symbol} ({row.source}) no longer contains `{line}`"
            f"{' after the lines listed before it' if position else ''}: {_revisit(row)}"
        )
        position = found + len(line)


def _private(symbol: str) -> bool:
    name = symbol.rpartition(":")[2].rpartition(".")[2]
    return name.startswith("_") and not name.endswith("__")


def test_each_row_is_well_formed_and_names_files_that_exist():
    missing = [
        (row.symbol, path)
        for row in TOUCHES
        for path in (*row.used_by, *([row.guard] if row.guard else []))
        if not (REPO / path).is_file()
    ]
    missing += [(key.key, path) for key in CONFIG_KEYS for path in key.used_by if not (REPO / path).is_file()]
    assert not missing, f"siri_verl/verl_api.py names files that do not exist: {missing}"
    symbols = [row.symbol for row in TOUCHES]
    assert len(symbols) == len(set(symbols)), "a symbol has two rows in siri_verl/verl_api.py"
    kinds = {verl_api.EXTENSION_POINT, verl_api.PUBLIC, verl_api.INTERNAL, verl_api.PRIVATE}
    assert {row.kind for row in TOUCHES} <= kinds
    misfiled = [row.symbol for row in TOUCHES if _private(row.symbol) and row.kind != verl_api.PRIVATE]
    assert not misfiled, f"underscored names are kind=PRIVATE: {misfiled}"


def _config_has(config: dict, key: str) -> bool:
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.parametrize("entry", CONFIG_KEYS, ids=[entry.key for entry in CONFIG_KEYS])
def test_each_config_key_we_read_is_still_in_verls_config(entry):
    config = OmegaConf.to_container(OmegaConf.load(SITE_PACKAGES / entry.source), resolve=False)
    assert _config_has(config, entry.key), (
        f"verl's {entry.source} has no key {entry.key} any more: revisit {', '.join(entry.used_by)}"
    )


def test_the_table_prints_as_markdown():
    table = verl_api.markdown()
    assert all(f"| {row.symbol} |" in table for row in TOUCHES)


# --- every verl symbol siri_verl reaches has a row ---------------------------------------------------


def _is_module(dotted: str) -> bool:
    package, *rest = dotted.split(".")
    root = SITE_PACKAGES / package / Path(*rest) if rest else SITE_PACKAGES / package
    return root.with_suffix(".py").is_file() or (root / "__init__.py").is_file()


def _is_verl(dotted: str) -> bool:
    return dotted.split(".")[0] in VERL_PACKAGES


def verl_references(path: Path) -> list[tuple[str, int, str]]:
    """``(symbol, line, how)`` for each verl symbol the module at ``path`` reaches: imported names,
    attributes of imported names, and, in a subclass of a verl class, the methods it overrides and
    the attributes of verl's classes it uses through ``self``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound: dict[str, str] = {}  # local name -> verl symbol
    references = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and _is_verl(node.module):
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                symbol = dotted if _is_module(dotted) else f"{node.module}:{alias.name}"
                bound[alias.asname or alias.name] = symbol
                references.append((symbol, node.lineno, "import"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_verl(alias.name):
                    bound[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0]
                    )
                    references.append((alias.name, node.lineno, "import"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
            if not node.attr.startswith("__"):
                base = bound[node.value.id]
                references.append(
                    (f"{base}.{node.attr}" if ":" in base else f"{base}:{node.attr}", node.lineno, "attribute")
                )
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                if isinstance(base, ast.Name) and ":" in bound.get(base.id, ""):
                    references += _subclass_references(node, bound[base.id])
    return references


def _subclass_references(our_class: ast.ClassDef, base_symbol: str) -> list[tuple[str, int, str]]:
    base = resolve(base_symbol)
    references = []
    for item in our_class.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and verl_defines(base, item.name):
            references.append((f"{base_symbol}.{item.name}", item.lineno, "override"))
    for node in ast.walk(our_class):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            if verl_defines(base, node.attr) and not node.attr.startswith("__"):
                references.append((f"{base_symbol}.{node.attr}", node.lineno, "self"))
    return references


def _checkable_rows() -> list:
    """Rows whose module imports here (not those that need vllm or sglang where they are missing)."""
    return [row for row in TOUCHES if not row.needs or importlib.util.find_spec(row.needs) is not None]


@cache
def _rows_by_object() -> dict[int, list]:
    by_object: dict[int, list] = {}
    for row in _checkable_rows():
        try:
            by_object.setdefault(id(inspect.unwrap(resolve(row.symbol))), []).append(row)
        except (ImportError, AttributeError):
            pass  # reported by the per-row test
    return by_object


def _listed_attributes(cls: type) -> set[str]:
    """Attributes that rows for ``cls`` or its verl bases list as ``self.<name>``/``abstract:``."""
    classes = set(_verl_classes(cls))
    listed = set()
    for row in _checkable_rows():
        if row.relies_on.startswith(("self.", "abstract:")):
            try:
                if resolve(row.symbol) in classes:
                    listed |= set(_names(row.relies_on.removeprefix("abstract:").replace("self.", "")))
            except (ImportError, AttributeError):
                pass
    return listed


def is_covered(symbol: str, how: str) -> bool:
    """Whether the inventory lists ``symbol``, reached as ``how`` (see :func:`verl_references`)."""
    listed = {row.symbol for row in TOUCHES}
    if symbol in listed or any(row.startswith((f"{symbol}.", f"{symbol}:")) for row in listed):
        return True  # listed, or one of its members is (a module or class we use through that member)
    try:
        target = resolve(symbol)
    except (ImportError, AttributeError):
        target = None  # e.g. an instance attribute: only the owner's listing can cover it
    if callable(target) and id(inspect.unwrap(target)) in _rows_by_object():
        return True  # the same function, listed under the path that defines it
    module, _, qualname = symbol.partition(":")
    owner, _, name = qualname.rpartition(".")
    if not owner:
        return False  # a module-level name needs its own row
    owner_symbol = f"{module}:{owner}"
    owner_target = resolve(owner_symbol)
    if inspect.isclass(owner_target) and name in _listed_attributes(owner_target):
        return True
    # A public attribute of a class that has a row is covered by it; private names, overridden
    # methods and attributes reached through self need their own listing.
    return how == "attribute" and not name.startswith("_") and is_covered(owner_symbol, "import")


def test_every_verl_symbol_siri_verl_reaches_has_a_row():
    uncovered = [
        f"{path.relative_to(REPO)}:{line} {how} {symbol}"
        for path in sorted((REPO / "siri_verl").rglob("*.py"))
        if path.name != "verl_api.py"
        for symbol, line, how in verl_references(path)
        if not is_covered(symbol, how)
    ]
    assert not uncovered, (
        "these verl symbols are reached by siri_verl but have no row in siri_verl/verl_api.py; add a Touch "
        "(symbol, verl file, what we rely on, why, our files), or use an API that is listed:\n  "
        + "\n  ".join(uncovered)
    )


def test_the_coverage_scan_sees_each_kind_of_reference(tmp_path):
    """Guard for the scanner: a module that reaches verl in every way is reported in every way."""
    module = tmp_path / "reaches_verl.py"
    module.write_text(
        "from verl.workers.rollout import base as rollout_base\n"
        "from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync\n"
        "rollout_base._ROLLOUT_REGISTRY['x'] = 'y'\n"
        "class Mine(PPOTrainerSync):\n"
        "    def _update_actor(self, batch, metrics):\n"
        "        return self._save_checkpoint() or self.mine\n"
    )
    found = {(symbol, how) for symbol, _, how in verl_references(module)}
    trainer = "verl.trainer.ppo.v1.trainer_sync:PPOTrainerSync"
    assert found == {
        ("verl.workers.rollout.base", "import"),
        (trainer, "import"),
        ("verl.workers.rollout.base:_ROLLOUT_REGISTRY", "attribute"),
        (f"{trainer}._update_actor", "override"),
        (f"{trainer}._save_checkpoint", "self"),
    }
    assert not is_covered(f"{trainer}._fit_not_listed", "self")
    assert not is_covered("verl.workers.rollout.base:_not_listed", "attribute")
