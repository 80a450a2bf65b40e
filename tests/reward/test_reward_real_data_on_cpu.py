"""The checker against real benchmark gold answers (skipped without the benchmark files, see
conftest.py's ``shared_data``)."""

from __future__ import annotations

import pytest

from siri_verl.reward.agreement import DATA_ENV, benchmark_data_dir, run_agreement


def test_gold_correct_and_perturbed_wrong_on_real_data(shared_data):
    res = run_agreement(shared_data, num_workers=2)
    shown = "\n".join(map(str, res["disagreements"]))
    assert res["n"] > 1800
    assert res["correct_rate"] >= 0.995, shown
    assert res["wrong_rate"] >= 0.995, shown


def test_the_benchmark_data_is_named_never_guessed(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=f"pass --data-dir DIR .* or set {DATA_ENV}=DIR"):
        benchmark_data_dir()
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=f"benchmarks is not a directory \\({DATA_ENV}="):
        benchmark_data_dir()
    (tmp_path / "benchmarks").mkdir()
    assert benchmark_data_dir() == tmp_path and benchmark_data_dir(tmp_path) == tmp_path


def test_bench_reward_smoke():
    from siri_verl.bench.__main__ import COMMANDS
    from siri_verl.bench.reward_bench import make_items
    from siri_verl.reward import score_batch

    assert {"reward", "agreement"} <= set(COMMANDS)
    items = make_items(32, seed=1)
    assert 10_000 < sum(len(r) for _, r, _, _ in items) / 32 < 30_000
    reasons = [r["reason"] for r in score_batch(items, num_workers=2)]
    assert reasons.count("truncated") == 4 and reasons.count("no_answer") == 4
    assert reasons.count("correct") == 16 and reasons.count("wrong") == 8
