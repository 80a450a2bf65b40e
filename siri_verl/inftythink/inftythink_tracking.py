"""InftyThink's per-step metrics, hooked into the ``siri_verl`` trainer (console and MLflow).

Per trajectory (its final row carries the trajectory's fields):
``inftythink/segments/{mean,max}``, ``inftythink/trajectory_tokens/mean``,
``inftythink/summary_tokens/mean`` (per summary), ``inftythink/invalid_format_rate``,
``inftythink/stopped_by_max_segments_rate`` (φ), ``inftythink/stopped_by_segment_cap_rate`` (η),
``inftythink/stopped_by_context_full_rate`` (the history filled ``rollout.max_model_len``),
``inftythink/latency_s/mean``; per row: ``inftythink/segment_tokens/mean``.
"""

from __future__ import annotations

import numpy as np

from siri_verl.inftythink.protocol import StopReason
from siri_verl.trainer import RolloutRow, metric_collector


def _rate(values: list[bool]) -> float:
    return float(np.mean(values)) if values else 0.0


@metric_collector
def inftythink_metrics(config, global_step: int, rows: list[RolloutRow]) -> dict:
    segments = [row for row in rows if "inftythink_segment_index" in row.extra_fields]
    finals = [row.extra_fields for row in segments if "inftythink_num_segments" in row.extra_fields]
    if not finals:
        return {}
    num_segments = [f["inftythink_num_segments"] for f in finals]
    summaries = sum(f["inftythink_num_summaries"] for f in finals)
    stops = [f["inftythink_stop_reason"] for f in finals]
    return {
        "inftythink/segments/mean": float(np.mean(num_segments)),
        "inftythink/segments/max": float(np.max(num_segments)),
        "inftythink/trajectory_tokens/mean": float(np.mean([f["inftythink_total_tokens"] for f in finals])),
        "inftythink/segment_tokens/mean": float(np.mean([row.response_length for row in segments])),
        "inftythink/summary_tokens/mean": sum(f["inftythink_summary_tokens"] for f in finals) / summaries if summaries else 0.0,
        "inftythink/invalid_format_rate": _rate([stop == StopReason.INVALID_FORMAT for stop in stops]),
        "inftythink/stopped_by_max_segments_rate": _rate([stop == StopReason.MAX_SEGMENTS for stop in stops]),
        "inftythink/stopped_by_segment_cap_rate": _rate([stop == StopReason.TOKEN_CAP for stop in stops]),
        "inftythink/stopped_by_context_full_rate": _rate([stop == StopReason.CONTEXT_FULL for stop in stops]),
        "inftythink/latency_s/mean": float(np.mean([f["inftythink_latency_s"] for f in finals])),
        "inftythink/max_segments": float(finals[0]["inftythink_max_segments"]),
        "inftythink/segment_cap": float(finals[0]["inftythink_segment_cap"]),
    }
