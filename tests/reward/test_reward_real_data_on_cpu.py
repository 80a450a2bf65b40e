"""The checker against real benchmark gold answers (skipped without ../shared/data)."""

from __future__ import annotations

import pytest

from siri_verl.reward.agreement import run_agreement, shared_data_dir


def test_gold_correct_and_perturbed_wrong_on_real_data():
    if not (shared_data_dir() / "benchmarks").is_dir():
        pytest.skip(f"shared benchmark data not found at {shared_data_dir()} (set SIRI_VERL_SHARED_DATA)")
    res = run_agreement(num_workers=2)
    shown = "\n".join(map(str, res["disagreements"]))
    assert res["n"] > 1800
    assert res["correct_rate"] >= 0.995, shown
    assert res["wrong_rate"] >= 0.995, shown


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
