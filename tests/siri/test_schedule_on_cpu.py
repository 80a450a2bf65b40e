"""Length schedules L(t): formulas, phases, rounding, presets, validation, purity."""

from __future__ import annotations

import dataclasses
import io
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siri_verl.siri.preview import phase_ends_of_rows, plot, schedule_rows, write_csv
from siri_verl.siri.schedule import (
    SCHEDULES,
    STAGE_PRESETS,
    THINKPRUNE_ROUND_STEPS,
    ConstantSchedule,
    CosineSchedule,
    Schedule,
    ScheduleConfigError,
    Stage,
    StagesSchedule,
    StairCosineSchedule,
    StairSchedule,
    build_schedule,
    register_schedule,
)

PAPER = {"l_max": 16384, "l_min": 8192, "period": 640}


def paper(shape: str, **over) -> Schedule:
    return build_schedule({"shape": shape, **PAPER, **over})


# ---------------------------------------------------------------------------------- formulas


def test_cosine_key_points():
    s = paper("cosine")
    assert [s.length(t) for t in (0, 160, 320, 480, 640)] == [16384, 12288, 8192, 12288, 16384]
    assert s.length(1280) == 16384 and s.length(1600) == 8192
    # a generic step against the paper's formula
    t = 100
    assert s.length(t) == math.floor(12288 + 4096 * math.cos(2 * math.pi * t / 640) + 0.5)


def test_stair_plateaus_and_offset():
    s = paper("stair")
    assert {s.length(t) for t in range(0, 320)} == {16384}
    assert {s.length(t) for t in range(320, 640)} == {8192}
    assert s.length(640) == 16384 and s.length(959) == 16384 and s.length(960) == 8192
    odd = StairSchedule(l_max=10, l_min=5, period=5)  # first half = 2p < T -> p in 0..2
    assert [odd.length(t) for t in range(6)] == [10, 10, 10, 5, 5, 10]


def test_stair_cosine_piece_boundaries():
    s = paper("stair_cosine")  # phi = pi/4, 3pi/4, 5pi/4, 7pi/4 at t = 80, 240, 400, 560
    assert s.length(0) == s.length(79) == 16384
    assert s.length(80) == 16384  # descent starts at cos(0)
    assert 8192 < s.length(81) < 16384
    assert s.length(160) == 12288  # descent midpoint, phi = pi/2
    assert 8192 < s.length(239) < 16384
    assert s.length(240) == s.length(399) == 8192
    assert s.length(400) == 8192  # ascent starts at cos(pi)
    assert s.length(480) == 12288
    assert 8192 < s.length(559) < 16384
    assert s.length(560) == s.length(639) == s.length(640) == 16384
    # descent formula at a generic point
    t = 100
    phi = 2 * math.pi * t / 640
    assert s.length(t) == math.floor(12288 + 4096 * math.cos(2 * (phi - math.pi / 4)) + 0.5)
    t = 500
    phi = 2 * math.pi * t / 640
    assert s.length(t) == math.floor(12288 + 4096 * math.cos(2 * (phi - 3 * math.pi / 4)) + 0.5)


def test_constant():
    s = build_schedule({"shape": "constant", "length": 4096})
    assert isinstance(s, ConstantSchedule)
    assert {s.length(t) for t in range(0, 50)} == {4096}
    assert {s.phase(t) for t in range(0, 50)} == {"hold"}
    assert s.max_length() == 4096 and s.phase_ends(100) == ([], [])


# ---------------------------------------------------------------------------------- phases


def test_cosine_phases_at_trough_and_peak():
    s = paper("cosine")
    assert s.phase(0) == "hold"
    assert s.phase(1) == "compress"
    assert s.phase(320) == "compress"  # the trough is the last compression step
    assert s.phase(321) == "expand"
    assert s.phase(640) == "expand"  # the peak is the last expansion step
    assert s.phase(641) == "compress"


def test_phase_ends_paper_numbers():
    troughs, peaks = paper("cosine").phase_ends(1920)
    assert troughs == [320, 960, 1600]  # SIRI-low = 1600
    assert peaks == [640, 1280, 1920]  # SIRI-high = 1920
    # stair's offset is chosen so its switch steps coincide with cosine's
    assert paper("stair").phase_ends(1920) == ([320, 960, 1600], [640, 1280, 1920])
    assert paper("stair_cosine").phase_ends(1920) == ([240, 880, 1520], [560, 1200, 1840])


def test_phase_ends_not_moved_by_rounding():
    coarse = paper("cosine", granularity=1024)
    assert coarse.phase_ends(1920) == ([320, 960, 1600], [640, 1280, 1920])
    assert coarse.length(300) == coarse.length(320) == 8192  # rounding plateau around the trough


def test_stair_phases():
    s = paper("stair")
    assert s.phase(319) == "hold" and s.phase(320) == "compress" and s.phase(321) == "hold"
    assert s.phase(639) == "hold" and s.phase(640) == "expand" and s.phase(641) == "hold"


def test_stair_cosine_phases():
    s = paper("stair_cosine")
    assert [s.phase(t) for t in (79, 80, 81, 239, 240, 241)] == ["hold", "hold", "compress", "compress", "compress", "hold"]
    assert [s.phase(t) for t in (399, 400, 401, 559, 560, 561)] == ["hold", "hold", "expand", "expand", "expand", "hold"]


def test_phase_ends_truncated_run():
    s = paper("cosine")
    assert s.phase_ends(1000) == ([320, 960], [640])
    assert s.phase_ends(320) == ([320], [])
    assert s.phase_ends(319) == ([], [])
    assert s.phase_ends(0) == ([], [])


def test_odd_period_flat_bottom():
    s = CosineSchedule(l_max=100, l_min=50, period=5)
    assert s.raw(2) == s.raw(3)  # symmetric evaluation: bit-equal
    assert [s.phase(t) for t in range(1, 6)] == ["compress", "compress", "hold", "expand", "expand"]
    assert s.phase_ends(10) == ([2, 7], [5, 10])


# ---------------------------------------------------------------------------------- rounding


def test_granularity_round_half_up():
    s = CosineSchedule(l_max=16384, l_min=8192, period=640, granularity=1000)
    assert s.length(0) == 16000  # 16384 -> nearest multiple 16000
    assert s.length(160) == 12000  # 12288 -> 12000
    assert s.length(320) == 8192  # 8192 -> 8000 is below l_min: clamped back
    assert s.max_length() == 16000 and s.min_length() == 8192
    assert CosineSchedule(l_max=16600, l_min=8192, period=640, granularity=1000).length(0) == 16600  # 17000 clamped
    # exact halves round up
    half = ConstantSchedule(cap=1500, granularity=1000)
    assert half.length(0) == 1500  # 2000 clamps back to the only value, 1500
    s = CosineSchedule(l_max=3000, l_min=0 + 1000, period=4, granularity=1000)
    assert s.length(1) == 2000  # mid exactly 2000
    s = CosineSchedule(l_max=12, l_min=1, period=4)  # mid 6.5 at t = 1 and t = 3 (cos noise)
    assert s.length(1) == s.length(3) == 7


def test_max_length_below_l_max_when_rounded_down():
    s = CosineSchedule(l_max=15800, l_min=8192, period=640, granularity=1024)
    assert s.max_length() == 15360 == max(s.length(t) for t in range(641))


# ---------------------------------------------------------------------------------- presets


def test_presets():
    ds = build_schedule({"shape": "stages", "preset": "deepscaler", "stages": [], "granularity": 1})
    assert [ds.length(t) for t in (0, 1039, 1040, 1519, 1520, 5000)] == [8192, 8192, 16384, 16384, 24576, 24576]
    assert ds.max_length() == 24576
    assert ds.phase_ends(2000) == ([], [1040, 1520])
    assert ds.phase(1040) == "expand" and ds.phase(1041) == "hold"

    dapo = build_schedule({"shape": "stages", "preset": "dapo_deepscaler_16k"})
    assert [dapo.length(t) for t in (0, 319, 320, 10_000)] == [8192, 8192, 16384, 16384]

    tp = build_schedule({"shape": "stages", "preset": "thinkprune"})
    n = THINKPRUNE_ROUND_STEPS
    assert [tp.length(t) for t in (0, n - 1, n, 2 * n - 1, 2 * n)] == [4096, 4096, 3072, 3072, 2048]
    assert tp.phase_ends(3 * n) == ([n, 2 * n], [])
    tp100 = build_schedule({"shape": "stages", "preset": "thinkprune", "period": 100})
    assert [tp100.length(t) for t in (99, 100, 200)] == [4096, 3072, 2048]
    assert tp100.max_length() == 4096
    assert set(STAGE_PRESETS) == {"deepscaler", "thinkprune", "dapo_deepscaler_16k"}


def test_custom_stages():
    s = build_schedule({"shape": "stages", "stages": [{"start_step": 0, "length": 100}, {"start_step": 10, "length": 50}]})
    assert isinstance(s, StagesSchedule)
    assert s.stages == (Stage(0, 100), Stage(10, 50))
    assert [s.length(t) for t in (0, 9, 10, 11)] == [100, 100, 50, 50]
    assert s.phase_ends(20) == ([10], [])


# ---------------------------------------------------------------------------------- purity / resume


def one_shot_phase(shape: str, k: int) -> str:
    """phase(k) of a run that evaluated every step 0..k in order."""
    s = paper(shape)
    phase = "hold"
    for t in range(k + 1):
        s.length(t)
        phase = s.phase(t)
    return phase


@pytest.mark.parametrize("shape", ["cosine", "stair", "stair_cosine"])
def test_resume_and_no_state(shape):
    steps = sorted(set(range(0, 1930, 7)) | {1, 319, 320, 321, 1600, 1920})
    reference = {t: paper(shape).length(t) for t in steps}
    for k in (1, 320, 1600, 1920):  # a "resumed" run: a fresh object whose first call is step k
        assert paper(shape).length(k) == reference[k]
        assert paper(shape).phase(k) == one_shot_phase(shape, k)
    one = paper(shape)
    shuffled = steps[:]
    random.Random(0).shuffle(shuffled)
    assert {t: one.length(t) for t in shuffled} == reference
    assert {t: one.phase(t) for t in reversed(steps)} == {t: paper(shape).phase(t) for t in steps}


def test_frozen_and_numpy_like_steps():
    s = paper("cosine")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.l_max = 1  # type: ignore[misc]
    assert s(320) == s.length(320) == 8192

    class Idx:
        def __index__(self):
            return 320

    assert s.length(Idx()) == 8192
    with pytest.raises(ValueError):
        s.length(-1)
    with pytest.raises(TypeError):
        s.length(1.5)


# ---------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "cfg, message",
    [
        ({"shape": "cosine", "l_max": 16384, "l_min": 20000, "period": 640}, "schedule.l_min (20000) must be <= schedule.l_max (16384)"),
        ({"shape": "cosine", "l_max": 16384, "l_min": 8192, "period": 0}, "schedule.period must be >= 1, got"),
        ({"shape": "stair", "l_max": 16384, "l_min": 8192, "period": -5}, "schedule.period must be >= 1, got"),
        ({"shape": "cosine", "l_max": 16384, "l_min": 8192, "period": 6.5}, "schedule.period must be an int"),
        ({"shape": "cosine", "l_max": 16384, "l_min": 0, "period": 640}, "schedule.l_min must be >= 1, got 0"),
        ({"shape": "cosine", "l_max": 1.5e4, "l_min": 8192, "period": 640}, "schedule.l_max must be an int, got 15000.0"),
        ({"shape": "cosine", "l_min": 8192, "period": 640}, "schedule.l_max is required for shape 'cosine'"),
        ({"shape": "cosine", **PAPER, "granularity": 0}, "schedule.granularity must be >= 1, got 0"),
        ({"shape": "cosine", **PAPER, "length": 5}, "schedule.length is not used by shape 'cosine'"),
        ({"shape": "constant", "length": 0}, "schedule.length must be >= 1, got 0"),
        ({"shape": "constant"}, "schedule.length is required"),
        ({"shape": "nope"}, "schedule.shape 'nope' is not a known shape; known: constant, cosine, stages, stair, stair_cosine"),
        ({}, "schedule.shape is required"),
        ({"shape": "stages", "stages": []}, "schedule.stages must not be empty"),
        ({"shape": "stages", "stages": [{"start_step": 5, "length": 10}]}, "schedule.stages[0].start_step must be 0, got 5"),
        (
            {"shape": "stages", "stages": [{"start_step": 0, "length": 1}, {"start_step": 300, "length": 2}, {"start_step": 100, "length": 3}]},
            "schedule.stages[2].start_step (100) must be greater than schedule.stages[1].start_step (300)",
        ),
        (
            {"shape": "stages", "stages": [{"start_step": 0, "length": 1}, {"start_step": 0, "length": 2}]},
            "schedule.stages[1].start_step (0) must be greater than schedule.stages[0].start_step (0)",
        ),
        ({"shape": "stages", "stages": [{"start_step": 0, "length": -1}]}, "schedule.stages[0].length must be >= 1, got -1"),
        ({"shape": "stages", "stages": [{"start_step": 0, "lenght": 1}]}, "schedule.stages[0] must have exactly the keys"),
        ({"shape": "stages", "preset": "nope"}, "schedule.preset 'nope' is not a known preset; known: dapo_deepscaler_16k, deepscaler, thinkprune"),
        (
            {"shape": "stages", "preset": "deepscaler", "stages": [{"start_step": 0, "length": 1}]},
            "set either schedule.preset ('deepscaler') or schedule.stages",
        ),
        ({"shape": "stages", "preset": "deepscaler", "period": 10}, "schedule.period is not used by schedule.preset 'deepscaler'"),
        ({"shape": "stages", "preset": "thinkprune", "period": 0}, "schedule.period must be >= 1, got"),
    ],
)
def test_validation_names_the_key(cfg, message):
    with pytest.raises(ScheduleConfigError) as info:
        build_schedule(cfg)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_direct_construction_validates():
    with pytest.raises(ScheduleConfigError, match=r"schedule\.l_min \(3\) must be <= schedule\.l_max \(2\)"):
        StairCosineSchedule(l_max=2, l_min=3, period=8)


def test_none_values_are_unset():
    s = build_schedule({"shape": "cosine", **PAPER, "length": None, "stages": None, "preset": None, "granularity": None})
    assert s.granularity == 1


# ---------------------------------------------------------------------------------- registry


def test_register_new_shape():
    @register_schedule("test_linear_decay")
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class LinearDecay(Schedule):
        start: int
        end: int
        steps: int

        def raw(self, t):
            return self.start + (self.end - self.start) * min(t, self.steps) / self.steps

        def bounds(self):
            return (min(self.start, self.end), max(self.start, self.end))

    try:
        s = build_schedule({"shape": "test_linear_decay", "start": 100, "end": 50, "steps": 10, "granularity": 10})
        assert [s.length(t) for t in (0, 5, 10, 20)] == [100, 80, 50, 50]  # 75 rounds half up to 80
        assert s.phase_ends(20) == ([10], [])
        with pytest.raises(ScheduleConfigError, match="schedule.steps is required"):
            build_schedule({"shape": "test_linear_decay", "start": 100, "end": 50})
        with pytest.raises(ValueError, match="already registered"):
            register_schedule("cosine")(LinearDecay)
    finally:
        SCHEDULES.pop("test_linear_decay", None)


# ---------------------------------------------------------------------------------- property


periodic_cfg = st.builds(
    lambda shape, lo, extra, period, g: {"shape": shape, "l_min": lo, "l_max": lo + extra, "period": period, "granularity": g},
    st.sampled_from(["cosine", "stair", "stair_cosine"]),
    st.integers(1, 40_000),
    st.integers(0, 40_000),
    st.integers(1, 5000),
    st.integers(1, 2048),
)


@settings(max_examples=150, deadline=None)
@given(cfg=periodic_cfg, ts=st.lists(st.integers(0, 10**7), min_size=1, max_size=20))
def test_property_bounded_integer(cfg, ts):
    s = build_schedule(cfg)
    for t in ts:
        value = s.length(t)
        assert type(value) is int
        assert cfg["l_min"] <= value <= cfg["l_max"]
        assert value <= s.max_length()
        assert s.phase(t) in ("compress", "expand", "hold")


@settings(max_examples=60, deadline=None)
@given(
    starts=st.lists(st.integers(1, 10_000), max_size=5, unique=True),
    lengths=st.lists(st.integers(1, 65_536), min_size=6, max_size=6),
    t=st.integers(0, 20_000),
)
def test_property_stages(starts, lengths, t):
    stages = [{"start_step": s, "length": l} for s, l in zip([0] + sorted(starts), lengths)]
    s = build_schedule({"shape": "stages", "stages": stages})
    value = s.length(t)
    assert type(value) is int
    assert value == [st["length"] for st in stages if st["start_step"] <= t][-1]
    assert min(x["length"] for x in stages) <= value <= s.max_length() == max(x["length"] for x in stages)


# ---------------------------------------------------------------------------------- preview


def test_preview_rows_csv_plot(tmp_path):
    s = paper("cosine")
    rows = schedule_rows(s, 1920)
    assert rows[0] == (1, 16384, "compress")
    assert rows[319] == (320, 8192, "compress") and rows[320][2] == "expand"
    assert rows[-1] == (1920, 16384, "expand")
    assert phase_ends_of_rows(rows) == s.phase_ends(1920)
    buf = io.StringIO()
    write_csv(rows[:2], buf)
    assert buf.getvalue() == "step,max_response_length,phase\n1,16384,compress\n2,16383,compress\n"
    png = tmp_path / "cosine.png"
    plot(rows, str(png), "cosine")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        schedule_rows(s, 0)
