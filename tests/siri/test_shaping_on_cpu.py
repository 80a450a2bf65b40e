"""Reward shaping against the step's cap: SIRI's length-capped score, DAPO's overlong penalty."""

from __future__ import annotations

import pytest
from _reference import length_capped_score
from hypothesis import given, settings
from hypothesis import strategies as st

from siri_verl.siri import siri_reward
from siri_verl.siri.overlong import overlong_penalty


@pytest.mark.parametrize(
    "tokens, cap, finished, correct",
    [
        (100, 128, True, True),
        (128, 128, True, True),  # exactly at the cap still counts
        (128, 128, False, True),  # truncated at the cap
        (10, 128, False, True),  # unfinished for any other reason (max_model_len)
        (10, 128, True, False),
        (0, 1, True, True),
    ],
)
def test_siri_reward_is_the_papers_length_capped_score(tokens, cap, finished, correct):
    """The package scores from the ``siri_length`` loop's ``truncated`` flag (the loop never
    generates past L(t)); the paper's formula (tests/_reference.py) from lengths: the same score."""
    response = "<think>3+4</think> The answer is $\\boxed{7}$."
    extra_info = {"truncated": not finished, "response_tokens": tokens, "siri_cap": cap}
    scored = siri_reward.compute_score("math", response, "7" if correct else "8", extra_info)
    assert scored["score"] == length_capped_score(tokens, cap, finished, 1.0 if correct else 0.0)
    assert scored["response_tokens"] == float(tokens)


def test_the_papers_formula_scores_0_over_the_cap_and_rejects_bad_counts():
    assert length_capped_score(129, 128, True, 1.0) == 0.0  # a length the loop cannot produce
    for args in ((-1, 10, True, 1.0), (5, 0, True, 1.0)):
        with pytest.raises(ValueError):
            length_capped_score(*args)


def test_overlong_penalty_boundaries():
    cap, cache = 20480, 4096
    free = cap - cache
    assert overlong_penalty(0, cap, cache) == 0.0
    assert overlong_penalty(free, cap, cache) == 0.0  # last unpunished length
    assert overlong_penalty(free + 1, cap, cache) == pytest.approx(-1 / cache)
    assert overlong_penalty(free + cache // 2, cap, cache) == pytest.approx(-0.5)
    assert overlong_penalty(cap, cap, cache) == -1.0
    assert overlong_penalty(cap + 1, cap, cache) == -1.0
    assert overlong_penalty(10 * cap, cap, cache) == -1.0


def test_overlong_penalty_moving_cap():
    # the same response is free under a long cap and punished under a short one
    assert overlong_penalty(9000, 16384, 4096) == 0.0
    assert overlong_penalty(9000, 8192, 4096) == -1.0
    assert overlong_penalty(6144, 8192, 4096) == pytest.approx(-0.5)


def test_overlong_penalty_zero_cache_is_a_step():
    assert overlong_penalty(100, 100, 0) == 0.0
    assert overlong_penalty(101, 100, 0) == -1.0


@pytest.mark.parametrize("cache", [100, 101])
def test_overlong_penalty_validates_cache(cache):
    with pytest.raises(ValueError, match=r"cache_len \(\d+\) must be < cap \(100\)"):
        overlong_penalty(10, 100, cache)


def test_overlong_penalty_rejects_negative():
    with pytest.raises(ValueError):
        overlong_penalty(10, 100, -1)
    with pytest.raises(ValueError):
        overlong_penalty(-1, 100, 10)


@settings(max_examples=200, deadline=None)
@given(cap=st.integers(2, 50_000), data=st.data())
def test_overlong_penalty_monotone_in_range(cap, data):
    cache = data.draw(st.integers(0, cap - 1))
    n = data.draw(st.integers(0, 2 * cap))
    p, q = overlong_penalty(n, cap, cache), overlong_penalty(n + 1, cap, cache)
    assert -1.0 <= q <= p <= 0.0
