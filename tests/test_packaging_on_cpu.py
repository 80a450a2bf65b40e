"""The wheel carries every package, every config and its data, so a non-editable install runs anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import tomllib
from _repo import REPO


def test_every_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "siri_verl").rglob("__init__.py")}
    assert found | {"siri_verl._conf"} == listed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO), "-w", str(out)],
        check=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("siri_verl-*.whl")
    return built


def test_wheel_ships_configs_and_recipes(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for config in [*(REPO / "conf").rglob("*.yaml"), *(REPO / "recipes").glob("*.yaml")]:
        relative = config.relative_to(REPO / "conf") if config.is_relative_to(REPO / "conf") else Path("recipe") / config.name
        assert f"siri_verl/_conf/{relative.as_posix()}" in names, relative
    # the toy study's shipped warm start (siri_verl/lab/toy_reasoner.py: ensure_toy_warmstart)
    for shipped in (REPO / "siri_verl" / "lab" / "toy_warmstart").iterdir():
        assert f"siri_verl/lab/toy_warmstart/{shipped.name}" in names, shipped.name
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "siri_verl = siri_verl.plugin" in entry_points
    # the catalogues the asset and generation-backend registries load (siri_verl/catalogues.py)
    assert "lab = siri_verl.lab.catalogue" in entry_points and "r1_distill = siri_verl.models.r1_distill" in entry_points


def test_the_installed_wheel_runs_from_another_directory(wheel, tmp_path):
    """A fresh virtual environment with only the wheel of siri-verl (its dependencies seen from
    this one's site-packages, without its editable install), used from a directory that is not
    the checkout: the papers' points and a recipe come from the package."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True).strip())
    # A path in a .pth is added without processing that directory's own .pth files: the
    # dependencies are seen, the checkout's editable install of siri_verl is not.
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
                   check=True, timeout=300)  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")}

    def run(*args: str) -> str:
        result = subprocess.run([python, *args], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    where = run("-c", "import siri_verl; print(siri_verl.__file__)")
    assert where.startswith(str(site)), where
    run("-m", "siri_verl.pareto", "--experiment", "eval", "--benchmark", "aime24", "--paper")
    table = (elsewhere / "pareto_aime24.md").read_text()
    assert "## Published points" in table and "base (SIRI, DeepSeek-R1-Distill-Qwen-1.5B)" in table, table
    composed = run("-m", "siri_verl", "recipe=siri_low", "--cfg", "job")
    assert "total_training_steps: 1600" in composed and "ppo_max_token_len_per_gpu: 40960" in composed
