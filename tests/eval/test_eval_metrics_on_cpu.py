"""avg@n, pass@k, token statistics and SIRI's ΔCRAcc against hand-computed and published figures."""

from __future__ import annotations

from math import comb

import pytest

from siri_verl.eval.metrics import (
    avg_at_n,
    delta_cr_acc,
    pass_at_k,
    pass_at_k_dataset,
    token_stats,
)


def test_avg_at_n_weighs_every_problem_equally():
    # Problem 1: 1 of 2 right (0.5); problem 2: 3 of 4 right (0.75); mean 0.625, not 4/6.
    assert avg_at_n([[True, False], [True, True, True, False]]) == pytest.approx(0.625)
    assert avg_at_n([[False] * 3]) == 0.0
    with pytest.raises(ValueError):
        avg_at_n([[]])


@pytest.mark.parametrize("n,c,k", [(5, 2, 1), (5, 2, 2), (5, 2, 3), (10, 3, 4), (64, 10, 8)])
def test_pass_at_k_matches_the_binomial_formula(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))


def test_pass_at_k_by_hand():
    # n=4, c=1, k=2: the 3 pairs without the right sample out of 6 -> 1 - 3/6.
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert pass_at_k(4, 0, 2) == 0.0
    assert pass_at_k(4, 3, 2) == 1.0  # only one wrong sample: every pair holds a right one
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)  # pass@1 is the hit rate
    assert pass_at_k(1000, 1, 1) == pytest.approx(0.001)  # stable where binomials are huge
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)


def test_pass_at_k_dataset_is_the_mean_over_problems():
    correct = [[True, False, False, False], [True, True, False, False]]
    # problem 1: 0.5; problem 2: 1 - C(2,2)/C(4,2) = 5/6
    assert pass_at_k_dataset(correct, 2) == pytest.approx((0.5 + 5 / 6) / 2)
    assert pass_at_k_dataset(correct, 1) == pytest.approx(avg_at_n(correct))


def test_token_stats():
    stats = token_stats([10, 20, 30, 100], max_tokens=100, latencies_s=[1.0, 3.0])
    assert stats == {"mean_tokens": 40.0, "median_tokens": 25.0, "truncation_rate": 0.25, "mean_latency_s": 2.0}
    assert token_stats([5, 6], truncated=[True, True])["truncation_rate"] == 1.0
    assert "truncation_rate" not in token_stats([5])


BENCHES = ("aime24", "aime25", "amc", "math500")
# SIRI Table 1 (DeepSeek-R1-Distill-Qwen-1.5B): acc % / tokens per benchmark, and the ΔCRAcc column.
BASE = [(28.2, 12333), (21.5, 12264), (61.8, 8449), (82.4, 4745)]
TABLE_1 = {
    "SIRI-low": ([(40.4, 7093), (29.6, 6509), (74.6, 4700), (87.7, 2881)], 0.47),
    "SIRI-high": ([(43.6, 10049), (32.2, 9739), (75.9, 7396), (88.4, 4633)], 0.38),
    "DeepScaleR-1.5B-Preview": ([(41.1, 8585), (29.0, 8348), (73.9, 5515), (87.6, 3054)], 0.39),
    "DAPO-DeepScaleR-16K": ([(42.8, 10453), (30.9, 10352), (74.6, 7339), (88.1, 4223)], 0.36),
    "AdaptThink": ([(31.0, 6679), (22.3, 6800), (63.3, 3498), (82.0, 1782)], 0.08),
}


def _maps(cells):
    return dict(zip(BENCHES, (a for a, _ in cells))), dict(zip(BENCHES, (t for _, t in cells)))


@pytest.mark.parametrize("method", sorted(TABLE_1))
def test_delta_cr_acc_reproduces_siri_table_1(method):
    cells, published = TABLE_1[method]
    acc, tokens = _maps(cells)
    base_acc, base_tokens = _maps(BASE)
    result = delta_cr_acc(acc, tokens, base_acc, base_tokens)
    assert result.value == pytest.approx(published, abs=0.01)


def test_delta_cr_acc_parts():
    # AdaptThink loses accuracy on MATH500: the loss counts as zero gain, but shows in rel_acc.
    acc, tokens = _maps(TABLE_1["AdaptThink"][0])
    result = delta_cr_acc(acc, tokens, *_maps(BASE))
    assert result.d_acc["math500"] == 0.0 and result.rel_acc["math500"] == pytest.approx(82.0 / 82.4 - 1)
    assert result.cr["aime24"] == pytest.approx(6679 / 12333)
    assert result.rel_tokens["aime24"] == pytest.approx(6679 / 12333 - 1)
    assert delta_cr_acc(*_maps(BASE), *_maps(BASE)).value == 0.0  # the base scores 0.00
    with pytest.raises(ValueError):
        delta_cr_acc({"aime24": 1.0}, {}, {"aime24": 1.0}, {"aime24": 1.0})
