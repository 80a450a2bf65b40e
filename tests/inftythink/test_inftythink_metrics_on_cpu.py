"""InftyThink's per-step metrics (siri_verl/inftythink/inftythink_tracking.py): each stop reason gets its rate."""

from __future__ import annotations

import pytest

from siri_verl.inftythink.inftythink_tracking import inftythink_metrics
from siri_verl.inftythink.protocol import StopReason
from siri_verl.trainer import RolloutRow

STOP_RATE_METRICS = {
    StopReason.INVALID_FORMAT: "inftythink/invalid_format_rate",
    StopReason.MAX_SEGMENTS: "inftythink/stopped_by_max_segments_rate",
    StopReason.TOKEN_CAP: "inftythink/stopped_by_segment_cap_rate",
    StopReason.CONTEXT_FULL: "inftythink/stopped_by_context_full_rate",
}


def trajectory(stop: StopReason, segments: int = 2) -> list[RolloutRow]:
    """The rows the inftythink agent loop returns for one trajectory (the final row carries its fields)."""
    rows = [RolloutRow(10, 0.0, {"inftythink_segment_index": i}) for i in range(segments)]
    rows[-1].extra_fields.update(
        inftythink_num_segments=segments, inftythink_num_summaries=segments - 1, inftythink_summary_tokens=3,
        inftythink_stop_reason=stop.value, inftythink_total_tokens=10 * segments, inftythink_latency_s=0.5,
        inftythink_max_segments=8, inftythink_segment_cap=8192,
    )  # fmt: skip
    return rows


def test_every_stop_reason_but_conclusion_has_its_rate():
    assert set(STOP_RATE_METRICS) == set(StopReason) - {StopReason.CONCLUSION}


@pytest.mark.parametrize("stop", list(STOP_RATE_METRICS), ids=lambda stop: stop.value)
def test_a_stop_reason_is_counted_under_its_own_rate_only(stop):
    stops = [stop, stop, StopReason.CONCLUSION, StopReason.CONCLUSION]
    metrics = inftythink_metrics(None, 1, [row for s in stops for row in trajectory(s)])
    assert {STOP_RATE_METRICS[s]: metrics[STOP_RATE_METRICS[s]] for s in STOP_RATE_METRICS} == {
        metric: 0.5 if reason is stop else 0.0 for reason, metric in STOP_RATE_METRICS.items()
    }
