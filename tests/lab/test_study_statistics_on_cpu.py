"""The toy study's statistics over seeds (siri_verl/lab/study_statistics.py), on values whose
intervals are known by hand."""

from __future__ import annotations

import math

import pytest

from siri_verl.lab.study_statistics import difference_interval, interval, mean_cell


def test_interval_is_a_t_interval_over_seeds():
    mean, half = interval([0.5, 0.6, 0.7])
    assert mean == pytest.approx(0.6)
    assert half == pytest.approx(4.302652729911275 * 0.1 / math.sqrt(3))  # t(0.975, 2) * s / sqrt(n)
    assert interval([0.4]) == (0.4, 0.0)


def test_difference_interval_is_welchs():
    # equal sizes and variances: Welch's dof is 2 (n - 1) = 4, the standard error sqrt(2 s^2 / n)
    diff, low, high = difference_interval([0.7, 0.8, 0.9], [0.5, 0.6, 0.7])
    half = 2.7764451051977987 * math.sqrt(2 * 0.01 / 3)  # t(0.975, 4)
    assert diff == pytest.approx(0.2) and (low, high) == (pytest.approx(0.2 - half), pytest.approx(0.2 + half))
    # unequal variances: dof from the Welch-Satterthwaite formula (2.0 here), not n_a + n_b - 2
    diff, low, high = difference_interval([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert diff == pytest.approx(2.0) and high - diff == pytest.approx(4.302652729911275 * math.sqrt(1 / 3))


def test_a_difference_needs_two_seeds_a_side_and_equal_values_give_no_width():
    diff, low, high = difference_interval([0.5], [0.4, 0.6])
    assert diff == pytest.approx(0.0) and math.isnan(low) and math.isnan(high)
    assert difference_interval([0.5, 0.5], [0.25, 0.25]) == (0.25, 0.25, 0.25)


def test_a_cell_reads_mean_and_half_width_or_says_one_seed():
    assert mean_cell([]) == "-"
    assert mean_cell([0.42], scale=100) == "42.0 (1 seed)"
    assert mean_cell([40.0, 40.0], digits=0) == "40 ± 0"
    assert mean_cell([0.5, 0.6, 0.7], scale=100) == f"60.0 ± {100 * 4.302652729911275 * 0.1 / math.sqrt(3):.1f}"
