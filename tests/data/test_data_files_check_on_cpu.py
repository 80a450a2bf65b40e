"""The compose-time check that ``data.train_files`` / ``data.val_files`` exist, before Ray starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from siri_verl import assets
from siri_verl.checks import ConfigError, data_files_exist, run_checks
from siri_verl.config import compose_recipe


def test_a_missing_prepared_data_set_names_the_key_the_file_and_the_prepare_command(tmp_path):
    (tmp_path / "aime24.parquet").touch()  # prepared; the others are not
    cfg = compose_recipe("siri_low", [f"siri_verl.data_dir={tmp_path}"])
    with pytest.raises(ConfigError) as raised:
        run_checks(cfg, {**cfg.hydra.runtime.choices, "backend": "cpu"})  # the GPU check is not this test's
    message = str(raised.value)
    assert f"data.train_files: {tmp_path}/deepscaler.parquet not found" in message
    assert f"data.val_files: {tmp_path}/math500.parquet not found" in message
    assert "aime24.parquet" not in message
    assert f"python -m siri_verl.data prepare deepscaler aime25 amc math500 --out {tmp_path}" in message


def test_assets_are_not_built_and_remote_paths_are_left_to_verl(tmp_path, monkeypatch):
    assets.asset_names()  # the catalogues register first, then toy_val is replaced below
    monkeypatch.setitem(assets._ASSETS._entries, "toy_val", lambda: pytest.fail("the check built an asset"))
    (tmp_path / "here.parquet").touch()
    cfg = compose_recipe(
        "tiny",
        [
            "data.train_files='hdfs://namenode/train.parquet'",
            f"data.val_files=['s3://bucket/val.parquet','${{siri_verl_asset:toy_val}}','{tmp_path}/here.parquet',"
            f"'{tmp_path}/gone.parquet','~/nowhere.parquet']",
        ],
    )
    with pytest.raises(ConfigError) as raised:
        data_files_exist(cfg, {})
    lines = str(raised.value).splitlines()[1:]
    assert [line.strip() for line in lines] == [
        f"data.val_files: {tmp_path}/gone.parquet not found",
        "data.val_files: ~/nowhere.parquet not found (verl does not expand ~)",
    ]
    data_files_exist(compose_recipe("tiny", [f"data.train_files={tmp_path}/here.parquet"]), {})  # one string, there


def test_the_launcher_stops_before_ray_starts(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "siri_verl", "recipe=tiny", f"data.train_files={tmp_path}/train.parquet"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"data.train_files: {tmp_path}/train.parquet not found" in result.stderr
    assert "Traceback" not in result.stderr and "ray" not in (result.stdout + result.stderr).lower()
