"""The shipped warm start (siri_verl/lab/toy_warmstart/, asset toy_warmstart_model): the weights
its provenance names, the toy reasoner's own tokenizer and shape, and a clear error when damaged."""

from __future__ import annotations

import json
import shutil

import pytest

from siri_verl.lab import toy_reasoner


def test_the_shipped_warm_start_is_the_build_its_provenance_names():
    path = toy_reasoner.ensure_toy_warmstart()
    provenance = json.loads((path / "PROVENANCE.json").read_text())
    assert provenance["build_cache_key"].startswith("toy-warmstart-")
    assert (path / "model.safetensors").stat().st_size > 1_000_000  # weights, not a Git LFS pointer


def test_the_shipped_warm_start_is_the_toy_reasoner_with_its_tokenizer():
    from transformers import AutoConfig, AutoTokenizer

    path = toy_reasoner.ensure_toy_warmstart()
    spec = toy_reasoner.ToyReasonerSpec()
    config = AutoConfig.from_pretrained(path)
    assert (config.hidden_size, config.num_hidden_layers, config.max_position_embeddings) == (
        spec.hidden_size, spec.num_hidden_layers, spec.max_position_embeddings,
    )  # fmt: skip
    shipped, built = AutoTokenizer.from_pretrained(path), toy_reasoner.build_tokenizer()
    assert shipped.get_vocab() == built.get_vocab()
    assert shipped.chat_template == built.chat_template


def test_damaged_shipped_weights_are_refused_naming_the_file(tmp_path, monkeypatch):
    damaged = tmp_path / "toy_warmstart"
    shutil.copytree(toy_reasoner.SHIPPED_WARMSTART, damaged)
    (damaged / "model.safetensors").write_text("version https://git-lfs.github.com/spec/v1\n")
    monkeypatch.setattr(toy_reasoner, "SHIPPED_WARMSTART", damaged)
    with pytest.raises(RuntimeError, match=r"toy_warmstart/model.safetensors: sha256 .* Git LFS pointer"):
        toy_reasoner.ensure_toy_warmstart()


def test_the_asset_is_the_shipped_build_and_the_recipe_build_has_its_own_name():
    from siri_verl.assets import asset_names, resolve_asset

    assert resolve_asset("toy_warmstart_model") == str(toy_reasoner.SHIPPED_WARMSTART)
    assert "toy_warmstart_build" in asset_names()
