"""The InftyThink+ segment protocol: prompts, parsing of one segment's output, stop rules.

Pure Python and model-free, so that the verl agent loop, the iterative evaluation mode and the
cold-start data builder all share one definition of the layout (docs/inftythink.md).

Layout (DeepSeek-R1-Distill chat style)::

    segment 1:  user = q   assistant = <think>\\n  r_1 \\n</think><summary>\\n s_1 \\n</summary>
    segment i:  user = q   assistant = <history>\\n s_{i-1} \\n</history>\\n<think>\\n  r_i ...
    last:       ... r_n \\n</think>\\n\\n conclusion with \\boxed{answer}

Prompt / generation boundary. :func:`build_segment_messages` returns the chat messages plus an
*assistant prefix*: the text after the assistant role marker that the model did not write and
that carries no loss. The prefix ALWAYS ends with the opening ``<think>\\n`` (segment 1's prefix
is exactly ``"<think>\\n"``), because for segments i > 1 the history must come before the think
opener, so the opener cannot be left to the chat template's generation prompt. R1-Distill's
template itself ends its generation prompt with ``<think>\\n``; :func:`join_prompt` removes that
trailing opener before appending the prefix, so the opener appears exactly once whatever the
template does. The model's output therefore starts inside the think block; :func:`parse_segment`
also accepts an output that repeats the opener once at its start.

Parsing (:func:`parse_segment`) is strict on structure, lenient on content:

* ``summary``: exactly one ``</think>``, then (whitespace only) one ``<summary>`` ... one
  ``</summary>`` with non-empty content, then whitespace only.
* ``conclusion``: exactly one ``</think>``, followed by non-empty text that contains no summary
  tag. The parser does not require ``\\boxed{}``: a conclusion without one is well-formed but
  the answer checker scores it 0.
* ``invalid`` otherwise, with the reason in ``Segment.error``: no ``</think>``, several
  ``</think>``, a ``<think>`` opened inside the block (nested) or after it, summary tags inside
  the think block, text between ``</think>`` and ``<summary>`` (this covers "a boxed conclusion
  AND a summary": ambiguous, so rejected), text after ``</summary>``, an unclosed, repeated or
  empty summary, an empty conclusion, or any ``<history>`` tag (the history is prompt-only; a
  model writing one is hallucinating the next prompt).

An empty think block is allowed (R1-style models sometimes write ``<think>\\n\\n</think>``).
Stop strings: the engine must keep the stop string in the output (vLLM
``include_stop_str_in_output=True``) if ``</summary>`` is used as one, otherwise every summary
reads as unclosed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from siri_verl.errors import require_int

__all__ = [
    "DEFAULT_TAGS",
    "GenerationResult",
    "IterativeState",
    "Segment",
    "SEGMENT_KINDS",
    "SegmentRecord",
    "StopReason",
    "Tags",
    "TrajectoryResult",
    "build_segment_messages",
    "join_prompt",
    "next_action",
    "parse_segment",
    "render_conclusion_segment",
    "render_summary_segment",
]


@dataclass(frozen=True)
class Tags:
    """The tag strings of the layout. Override them (all together) to match another tokenizer's
    or dataset's spelling; every function here takes a ``tags`` argument."""

    think_open: str = "<think>"
    think_close: str = "</think>"
    summary_open: str = "<summary>"
    summary_close: str = "</summary>"
    history_open: str = "<history>"
    history_close: str = "</history>"

    def __post_init__(self) -> None:
        # Empty tags would make every str.find succeed at 0 and the parser meaningless.
        for name, value in vars(self).items():
            if not isinstance(value, str) or not value:
                raise ValueError(f"Tags.{name} must be a non-empty string, got {value!r}")


DEFAULT_TAGS = Tags()


# ---------------------------------------------------------------------------------------------
# Prompts and targets
# ---------------------------------------------------------------------------------------------


def build_segment_messages(
    question: str, previous_summary: str | None, tags: Tags = DEFAULT_TAGS
) -> tuple[list[dict], str]:
    """The chat messages and the assistant prefix for one segment.

    ``previous_summary`` is ``None`` for segment 1, else ``s_{i-1}`` (the ``.summary`` of the
    previous :class:`Segment`, already stripped). Returns ``([{"role": "user", "content":
    question}], prefix)`` with prefix ``"<think>\\n"`` for segment 1 and
    ``"<history>\\n{s}\\n</history>\\n<think>\\n"`` after it (see the module docstring for why the
    prefix always holds the think opener).
    """
    if not isinstance(question, str):
        raise TypeError(f"question must be a str, got {type(question).__name__}")
    messages = [{"role": "user", "content": question}]
    if previous_summary is None:
        return messages, f"{tags.think_open}\n"
    if not isinstance(previous_summary, str) or not previous_summary.strip():
        raise ValueError("previous_summary must be a non-empty string or None (segment 1)")
    history = f"{tags.history_open}\n{previous_summary.strip()}\n{tags.history_close}\n"
    return messages, f"{history}{tags.think_open}\n"


def join_prompt(generation_prompt: str, assistant_prefix: str, tags: Tags = DEFAULT_TAGS) -> str:
    """Append the assistant prefix to a rendered chat prompt (``add_generation_prompt=True``).

    If the template already opened the think block (R1-Distill ends with ``<think>\\n``), that
    trailing opener is dropped first, so the prompt holds the opener once, after the history.
    """
    head = generation_prompt.rstrip()
    if head.endswith(tags.think_open):
        generation_prompt = head[: -len(tags.think_open)]
    return generation_prompt + assistant_prefix


def render_summary_segment(reasoning: str, summary: str, tags: Tags = DEFAULT_TAGS) -> str:
    """The model-written part of a "go on" segment (the SFT target after the prefix)."""
    return f"{reasoning.strip()}\n{tags.think_close}{tags.summary_open}\n{summary.strip()}\n{tags.summary_close}"


def render_conclusion_segment(reasoning: str, conclusion: str, tags: Tags = DEFAULT_TAGS) -> str:
    """The model-written part of the final segment: reasoning, ``</think>``, the conclusion."""
    return f"{reasoning.strip()}\n{tags.think_close}\n\n{conclusion.strip()}"


# ---------------------------------------------------------------------------------------------
# Parsing one segment's output
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One parsed segment output.

    ``kind``: ``"summary"`` (go on), ``"conclusion"`` (final answer written) or ``"invalid"``.
    ``think``: the reasoning inside the think block (stripped), when ``</think>`` was found.
    ``summary``: the stripped summary, for ``kind == "summary"`` only.
    ``answer_text``: the stripped text after ``</think>``, for ``kind == "conclusion"`` only;
    this is what the answer checker reads.
    ``error``: why the segment is invalid, for ``kind == "invalid"`` only.
    """

    kind: str
    think: str | None = None
    summary: str | None = None
    answer_text: str | None = None
    error: str | None = None


SEGMENT_KINDS = frozenset({"summary", "conclusion", "invalid"})


def _invalid(error: str, think: str | None = None) -> Segment:
    return Segment(kind="invalid", think=think, error=error)


def parse_segment(text: str, tags: Tags = DEFAULT_TAGS) -> Segment:
    """Parse one segment's generated text (the rules are in the module docstring).

    Never raises for any ``str`` (a non-string is reported as invalid too). Runs in linear time:
    only ``str.find``/``str.count`` and slicing, no regular expressions.
    """
    if not isinstance(text, str):
        return _invalid(f"output is not a string ({type(text).__name__})")

    # The prompt opened the think block; tolerate an output that opens it once more at the start.
    body = text.lstrip()
    if body.startswith(tags.think_open):
        body = body[len(tags.think_open) :]

    for tag in (tags.history_open, tags.history_close):
        if tag in body:
            return _invalid(f"{tag} in the output (the history belongs to the prompt)")

    closes = body.count(tags.think_close)
    if closes == 0:
        return _invalid(f"no {tags.think_close}")
    if closes > 1:
        return _invalid(f"{closes} x {tags.think_close}; expected exactly one")

    end = body.find(tags.think_close)
    inside, tail = body[:end], body[end + len(tags.think_close) :]
    if tags.think_open in inside:
        return _invalid(f"nested {tags.think_open} inside the think block")
    think = inside.strip()
    if tags.think_open in tail:
        return _invalid(f"{tags.think_open} after {tags.think_close}", think)
    if tags.summary_open in inside or tags.summary_close in inside:
        return _invalid("summary tag inside the think block", think)

    n_open, n_close = tail.count(tags.summary_open), tail.count(tags.summary_close)
    if n_open == 0 and n_close == 0:
        answer = tail.strip()
        if not answer:
            return _invalid(f"nothing after {tags.think_close} (neither summary nor conclusion)", think)
        return Segment(kind="conclusion", think=think, answer_text=answer)

    if n_open > 1 or n_close > 1:
        return _invalid("more than one summary block", think)
    if n_open == 0:
        return _invalid(f"{tags.summary_close} without {tags.summary_open}", think)
    if n_close == 0:
        return _invalid(f"unclosed {tags.summary_open}", think)

    start = tail.find(tags.summary_open)
    stop = tail.find(tags.summary_close)
    if stop < start:
        return _invalid(f"{tags.summary_close} before {tags.summary_open}", think)
    if tail[:start].strip():
        return _invalid(f"text between {tags.think_close} and {tags.summary_open}", think)
    if tail[stop + len(tags.summary_close) :].strip():
        return _invalid(f"text after {tags.summary_close}", think)
    summary = tail[start + len(tags.summary_open) : stop].strip()
    if not summary:
        return _invalid("empty summary", think)
    return Segment(kind="summary", think=think, summary=summary)


# ---------------------------------------------------------------------------------------------
# Stop rules
# ---------------------------------------------------------------------------------------------


class StopReason(str, enum.Enum):
    """Why a trajectory ended. A ``str`` so it logs and serialises as its value."""

    CONCLUSION = "conclusion"  # the model wrote a final answer; the only reason with an answer
    INVALID_FORMAT = "invalid_format"  # the segment broke the layout
    MAX_SEGMENTS = "max_segments"  # phi segments written, the last one still a summary
    # The segment's token budget ran out before a complete summary: eta, or the room its prompt
    # left in the context (rollout.max_model_len), whichever was smaller.
    TOKEN_CAP = "token_cap"
    # No room left for another segment: the question plus the history fill rollout.max_model_len
    # (set by the agent loop before generating; never by next_action).
    CONTEXT_FULL = "context_full"




def next_action(segment: Segment, segment_index: int, max_segments: int, hit_token_cap: bool) -> StopReason | None:
    """``None`` to generate another segment, else why the trajectory stops.

    ``segment_index`` is 0-based (the first segment is 0); ``max_segments`` is phi.
    Precedence, first match wins:

    1. a complete summary: go on (``None``) unless this was segment phi -> ``MAX_SEGMENTS``.
       Hitting the cap does not matter once the summary is closed (the stop string and the cap
       can coincide).
    2. cap hit without a complete summary -> ``TOKEN_CAP``, whatever the parse says, including a
       conclusion: the answer may have been cut off, and the reward decides whether to score it.
    3. conclusion -> ``CONCLUSION``; 4. anything else -> ``INVALID_FORMAT``.
    """
    max_segments = require_int("max_segments", max_segments, minimum=1)
    segment_index = require_int("segment_index", segment_index, minimum=0)
    if segment_index >= max_segments:
        raise ValueError(f"segment_index ({segment_index}) must be < max_segments ({max_segments})")
    if segment.kind == "summary":
        return None if segment_index + 1 < max_segments else StopReason.MAX_SEGMENTS
    if hit_token_cap:
        return StopReason.TOKEN_CAP
    if segment.kind == "conclusion":
        return StopReason.CONCLUSION
    return StopReason.INVALID_FORMAT


# ---------------------------------------------------------------------------------------------
# Trajectories (model-free: the caller generates; verl's agent loop and the iterative eval mode)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationResult:
    """What an injected generator returns for one segment.

    ``hit_token_cap``: generation ended because it reached ``max_tokens`` (finish reason
    "length"), not on EOS or a stop string.
    """

    text: str
    num_tokens: int
    hit_token_cap: bool


@dataclass(frozen=True)
class SegmentRecord:
    """One segment of a trajectory: what was asked, what came back, how it parsed."""

    messages: list[dict]
    assistant_prefix: str
    generation: GenerationResult
    segment: Segment


@dataclass(frozen=True)
class TrajectoryResult:
    question: str
    records: tuple[SegmentRecord, ...]
    stop_reason: StopReason

    @property
    def num_segments(self) -> int:
        return len(self.records)

    @property
    def total_tokens(self) -> int:
        """Generated tokens over all segments (prompts and prefixes not counted)."""
        return sum(r.generation.num_tokens for r in self.records)

    @property
    def answer_text(self) -> str | None:
        """The text for the answer checker: the last segment's conclusion, only when the
        trajectory stopped on one (R_task checks the last iteration only); else ``None``."""
        if self.stop_reason is not StopReason.CONCLUSION:
            return None
        return self.records[-1].segment.answer_text


@dataclass
class IterativeState:
    """Accumulates the segments of one trajectory and says what to ask next.

    Use: ``while not state.done: messages, prefix = state.next_prompt(); state.record(gen)``.
    """

    question: str
    max_segments: int
    tags: Tags = DEFAULT_TAGS
    records: list[SegmentRecord] = field(default_factory=list)
    stop_reason: StopReason | None = None

    def __post_init__(self) -> None:
        self.max_segments = require_int("inftythink.max_segments", self.max_segments, minimum=1)

    @property
    def done(self) -> bool:
        return self.stop_reason is not None

    def next_prompt(self) -> tuple[list[dict], str]:
        if self.done:
            raise RuntimeError(f"trajectory already stopped ({self.stop_reason.value})")
        previous = self.records[-1].segment.summary if self.records else None
        return build_segment_messages(self.question, previous, self.tags)

    def record(self, generation: GenerationResult) -> StopReason | None:
        """Parse and append one generation; returns (and stores) the stop reason, if any."""
        messages, prefix = self.next_prompt()
        segment = parse_segment(generation.text, self.tags)
        self.records.append(SegmentRecord(messages, prefix, generation, segment))
        self.stop_reason = next_action(segment, len(self.records) - 1, self.max_segments, generation.hit_token_cap)
        return self.stop_reason

    def result(self) -> TrajectoryResult:
        if not self.done:
            raise RuntimeError("trajectory has not stopped yet")
        return TrajectoryResult(self.question, tuple(self.records), self.stop_reason)
