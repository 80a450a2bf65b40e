"""The headroom checks (siri_verl/lab/headroom.py) on known samples: each check passes and fails
where its criterion says, the verbose advantage is compared within a digit count, and the
command refuses reported seeds."""

from __future__ import annotations

import json

import pytest

from siri_verl.lab import headroom
from siri_verl.lab.headroom import Sample, checks, verbose_advantage


def _samples(spec: list[tuple[int, int, bool, bool]], copies: int = 1) -> list[Sample]:
    """(digits, tokens, correct, verbose) per problem, each problem ``copies`` samples."""
    return [Sample(p, d, t, c, v) for p, (d, t, c, v) in enumerate(spec) for _ in range(copies)]


def test_every_check_passes_on_a_task_with_room_and_fails_where_its_criterion_says():
    # 40 problems, 4 samples: half verbose (100 tokens, all right), half concise (50 tokens, half right)
    spec = [(5, 100 if i % 2 else 50, i % 4 != 0 if i % 2 else i % 4 == 0, bool(i % 2)) for i in range(40)]
    eval_samples = train_samples = _samples(spec, 4)
    concise = [48] * 40
    found = {c.name: c for c in checks(eval_samples, train_samples, concise, l_min=60, l_max=120, train_temperature=1)}
    assert [c.passed for c in found.values()] == [True, True, True, True], found
    assert "x1.56" in found["room to compress"].measured
    assert found["room to learn"].measured == "75.0 %"
    # no room: concise floor as long as what it writes; L_min above the median; L_max under p95
    tight = {c.name: c for c in checks(eval_samples, train_samples, [75] * 40, 110, 90, 1)}
    assert not tight["room to compress"].passed and not tight["the cap binds, then releases"].passed
    # at the ceiling: everything right, verbose no better
    solved = _samples([(5, 100, True, i % 2 == 1) for i in range(40)], 4)
    at_ceiling = {c.name: c for c in checks(solved, solved, concise, 60, 120, 1)}
    assert not at_ceiling["room to learn"].passed and not at_ceiling["extra reasoning can help"].passed


def test_the_verbose_advantage_is_within_a_digit_count():
    # Verbose responses are on long problems and fail more there, yet within each count they win:
    # a pooled comparison would say -40 points.
    spec = [(4, 40, True, False)] * 8 + [(4, 80, True, True)] * 2 + [(9, 60, False, False)] * 8 + [(9, 140, True, True)] * 2
    spec += [(9, 140, False, True)] * 8
    samples = _samples(spec)
    assert verbose_advantage(samples) == pytest.approx((10 * 0.0 + 18 * (0.2 - 0.0)) / 28)
    assert verbose_advantage(_samples([(4, 40, True, False)])) is None


def test_responses_cut_off_at_the_budget_count_as_neither_style():
    finished = [Sample(0, 5, 90, True, True), Sample(1, 5, 45, False, False)]
    loops = [Sample(2, 5, 160, False, True, finished=False)] * 5
    assert verbose_advantage(finished + loops) == verbose_advantage(finished) == 1.0


def test_reported_seeds_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="reported seeds"):
        headroom.main(["--seeds", "0", "100", "--out", str(tmp_path)])
    assert not (tmp_path / "headroom.json").exists()


def test_the_markdown_names_every_check_and_its_verdict():
    found = checks(_samples([(5, 50, True, False), (5, 90, False, True)], 2), _samples([(5, 50, True, False)], 2),
                   [48, 48], 60, 120, 1.0)  # fmt: skip
    text = headroom.headroom_markdown(found, {"model": "m", "problems": 2, "n": 2, "seeds": [100], "command": "c"})
    for check in found:
        assert f"| {check.name} |" in text
    assert "**failed**" in text and json.dumps(headroom.TUNING_SEEDS)  # tuning seeds are not reported seeds
    assert not set(headroom.TUNING_SEEDS) & {0, 1, 2}
