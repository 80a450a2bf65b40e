"""The toy reasoner's SFT builds (siri_verl/lab/toy_reasoner.py) through the real SFT path.

``test_sft_build_publishes_the_final_hf_model_once`` is the one smoke test of
``python -m siri_verl.sft recipe=toy_warmstart`` in the default suite (2 steps on a tiny data set,
about 30 s). The full builds (the warm start and the InftyThink+ cold start, minutes each) run
only with ``SIRI_VERL_SLOW_TESTS=1``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from siri_verl.lab import running_sums as rs
from siri_verl.lab import toy_reasoner

SLOW = pytest.mark.skipif(
    os.environ.get("SIRI_VERL_SLOW_TESTS") != "1", reason="builds a model for minutes; set SIRI_VERL_SLOW_TESTS=1"
)


@pytest.fixture(scope="module")
def tiny_sft_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    spec = rs.RunningSumsSpec(train_size=8, tune_size=4, test_size=4, sft_size=32, long_train_size=4,
                              long_test_size=4, long_traces_size=4)  # fmt: skip
    return root, toy_reasoner.ensure_toy_reasoner_base(root=root), rs.ensure_dataset(spec, root)


def test_sft_build_publishes_the_final_hf_model_once(tiny_sft_inputs, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root, base, data = tiny_sft_inputs
    inputs = {"model.path": base, "data.train_files": data["running_sums_sft"]}
    settings = {"data.train_batch_size": "8", "data.micro_batch_size_per_gpu": "8", "trainer.total_training_steps": "2"}
    target = toy_reasoner.run_sft_build("toy-warmstart", "toy_warmstart", inputs, settings, root)
    log = (target / "build" / "sft.log").read_text()
    assert "train/loss" in log and "global_step_2" in log
    assert not (target / "build" / "checkpoints").exists()  # only the HF model is kept
    assert json.loads((target / "siri_verl_spec.json").read_text())["from"] == "global_step_2"
    model = AutoModelForCausalLM.from_pretrained(target)
    assert AutoTokenizer.from_pretrained(target)("S3+5=8", add_special_tokens=False)["input_ids"] == (
        AutoTokenizer.from_pretrained(base)("S3+5=8", add_special_tokens=False)["input_ids"]
    )
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in AutoModelForCausalLM.from_pretrained(base).parameters()
    )

    # Cached: the same build does not run again.
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("rebuilt a cached model"))
    assert toy_reasoner.run_sft_build("toy-warmstart", "toy_warmstart", inputs, settings, root) == target
    # The key is the content of the inputs, not their paths: a copy of the same rows is the same build.
    copy = root / "copy.parquet"
    copy.write_bytes(data["running_sums_sft"].read_bytes())
    moved = {**inputs, "data.train_files": copy}
    assert toy_reasoner.run_sft_build("toy-warmstart", "toy_warmstart", moved, settings, root) == target


def test_a_failed_sft_build_publishes_nothing_and_names_its_log(tiny_sft_inputs, tmp_path, monkeypatch):
    root, base, data = tiny_sft_inputs
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(RuntimeError, match=r"building toy-warmstart failed \(exit 1\).*log: .*\.failed\.log"):
        toy_reasoner.run_sft_build("toy-warmstart", "toy_warmstart", {"model.path": base}, root=tmp_path)
    models = tmp_path / "models"
    assert [p.suffix for p in models.iterdir()] == [".log"]  # no model directory, no staging left


def test_a_build_runs_on_every_core_and_in_its_own_mlflow_run_whatever_its_caller_set():
    # `make demo` resolves its warm start after the CPU backend exported its thread caps for Ray
    # (OMP_NUM_THREADS=1 then): built under that cap, the warm start was another (worse) model than
    # `siri_verl.assets` builds
    caller = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TQ_NUM_THREADS": "1", "MLFLOW_RUN_ID": "r",
              "MLFLOW_TRACKING_URI": "sqlite:///x.db", "SIRI_VERL_PARENT_RUN_ID": "p", "SIRI_VERL_CACHE": "/c", "PATH": "/bin"}  # fmt: skip
    assert toy_reasoner.build_environment(caller) == {"SIRI_VERL_CACHE": "/c", "PATH": "/bin"}


@SLOW
def test_warm_start_and_cold_start_models_answer(tmp_path):
    """The full builds from the default data, then greedy answers on held-out problems."""
    from siri_verl.generation import SamplingSettings
    from siri_verl.generation_backends import make_backend
    from siri_verl.reward import compute_score

    warm = toy_reasoner.build_toy_warmstart()
    backend = make_backend("cpu", str(warm), batch_size=50)
    problems = rs.sample_problems("test", 50, (3, 8), seed=0)
    tokenizer = backend.tokenizer
    rendered = [
        tokenizer.apply_chat_template([{"role": "user", "content": p.question}], add_generation_prompt=True, tokenize=False)
        for p in problems
    ]
    prompts = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in rendered]
    completions = backend.generate(prompts, 192, SamplingSettings(temperature=0.0))
    accuracy = sum(compute_score(rs.DATA_SOURCE, c.text, p.answer)["acc"] for p, c in zip(problems, completions)) / 50
    assert accuracy >= 0.6
    assert (toy_reasoner.ensure_toy_inftythink() / "config.json").exists()
