"""The wheel carries every package and every config, so a non-editable install runs anywhere."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import tomllib
from _repo import REPO


def test_every_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "siri_verl").rglob("__init__.py")}
    assert found | {"siri_verl._conf"} == listed


def test_wheel_ships_configs_and_recipes(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO), "-w", str(tmp_path)],
        check=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("siri_verl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for config in [*(REPO / "conf").rglob("*.yaml"), *(REPO / "recipes").glob("*.yaml")]:
        relative = config.relative_to(REPO / "conf") if config.is_relative_to(REPO / "conf") else Path("recipe") / config.name
        assert f"siri_verl/_conf/{relative.as_posix()}" in names, relative
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "siri_verl = siri_verl.plugin" in entry_points
    # the catalogues the asset and generation-backend registries load (siri_verl/catalogues.py)
    assert "lab = siri_verl.lab.catalogue" in entry_points and "r1_distill = siri_verl.models.r1_distill" in entry_points
