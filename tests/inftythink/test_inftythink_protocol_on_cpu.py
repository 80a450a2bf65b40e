"""InftyThink+ protocol: prompts, segment parsing, stop rules, iterative driver, reward shaping."""

from __future__ import annotations

import asyncio

import pytest
from _reference import arun_iterative, run_iterative
from hypothesis import given, settings
from hypothesis import strategies as st

from siri_verl.inftythink.protocol import (
    DEFAULT_TAGS,
    SEGMENT_KINDS,
    GenerationResult,
    IterativeState,
    Segment,
    StopReason,
    Tags,
    build_segment_messages,
    join_prompt,
    next_action,
    parse_segment,
    render_conclusion_segment,
    render_summary_segment,
)
from siri_verl.inftythink.shaping import efficiency_factor, trajectory_reward

# ---------------------------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------------------------


def test_first_segment_prompt_opens_think():
    messages, prefix = build_segment_messages("What is 2+2?", None)
    assert messages == [{"role": "user", "content": "What is 2+2?"}]
    assert prefix == "<think>\n"


def test_later_segment_prompt_carries_history_before_think():
    messages, prefix = build_segment_messages("Q", "  so far: x=3 \n")
    assert messages == [{"role": "user", "content": "Q"}]
    assert prefix == "<history>\nso far: x=3\n</history>\n<think>\n"


@pytest.mark.parametrize("bad", ["", "   \n"])
def test_empty_previous_summary_is_rejected(bad):
    with pytest.raises(ValueError, match="previous_summary"):
        build_segment_messages("Q", bad)


def test_custom_tags_are_used_everywhere():
    tags = Tags(think_open="<t>", think_close="</t>", summary_open="<s>", summary_close="</s>",
                history_open="<h>", history_close="</h>")
    _, prefix = build_segment_messages("Q", "S", tags)
    assert prefix == "<h>\nS\n</h>\n<t>\n"
    seg = parse_segment("r\n</t><s>\nS2\n</s>", tags)
    assert seg.kind == "summary" and seg.summary == "S2"
    # The default tags are plain text under custom tags: a conclusion, not a summary.
    assert parse_segment("r</t><summary>x</summary>", tags).kind == "conclusion"


def test_tags_must_be_non_empty():
    with pytest.raises(ValueError, match="think_open"):
        Tags(think_open="")


@pytest.mark.parametrize(
    "generation_prompt",
    ["<｜User｜>Q<｜Assistant｜><think>\n", "<｜User｜>Q<｜Assistant｜><think>", "<｜User｜>Q<｜Assistant｜>"],
)
def test_join_prompt_holds_one_think_opener_after_the_history(generation_prompt):
    _, prefix = build_segment_messages("Q", "S")
    prompt = join_prompt(generation_prompt, prefix)
    assert prompt == "<｜User｜>Q<｜Assistant｜><history>\nS\n</history>\n<think>\n"
    assert prompt.count("<think>") == 1


def test_rendered_targets_round_trip_through_the_parser():
    summary = parse_segment(render_summary_segment(" reasoning r1 ", " summary s1 "))
    assert summary == Segment(kind="summary", think="reasoning r1", summary="summary s1")
    conclusion = parse_segment(render_conclusion_segment("r2", "So the answer is \\boxed{4}."))
    assert conclusion == Segment(kind="conclusion", think="r2", answer_text="So the answer is \\boxed{4}.")


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

WELL_FORMED = [
    # (text, kind, think, summary, answer_text)
    ("Let x=2.\n</think><summary>\nx is 2\n</summary>", "summary", "Let x=2.", "x is 2", None),
    ("<think>\nLet x=2.\n</think><summary>\nx is 2\n</summary>\n", "summary", "Let x=2.", "x is 2", None),
    ("r\n</think>\n<summary>s</summary>", "summary", "r", "s", None),
    ("r\n</think>\n\nThe answer is \\boxed{4}.", "conclusion", "r", None, "The answer is \\boxed{4}."),
    ("<think>r</think>4", "conclusion", "r", None, "4"),
    ("\n\n</think>\n\nNo box here.", "conclusion", "", None, "No box here."),  # empty think is fine
    ("  <think>\nr</think><summary>s</summary>", "summary", "r", "s", None),  # leading whitespace
]


@pytest.mark.parametrize("text, kind, think, summary, answer", WELL_FORMED)
def test_parse_well_formed(text, kind, think, summary, answer):
    seg = parse_segment(text)
    assert (seg.kind, seg.think, seg.summary, seg.answer_text, seg.error) == (kind, think, summary, answer, None)


MALFORMED = [
    # (text, words expected in the error)
    ("", "no </think>"),
    ("I am still thinking and ran out of tokens", "no </think>"),
    ("r</think>", "nothing after"),
    ("r</think>  \n ", "nothing after"),
    ("r</think>a</think>b", "2 x </think>"),
    ("<think>r<think>inner</think>s", "nested"),
    ("<think><think>r</think>s", "nested"),
    ("r</think><think>again", "after </think>"),
    ("r</think><summary>\ns never closed", "unclosed"),
    ("r</think><summary>  \n </summary>", "empty summary"),
    ("r</think><summary></summary>", "empty summary"),
    ("r</think>s</summary>", "without <summary>"),
    ("r</think></summary>s<summary>", "before <summary>"),
    ("r</think><summary>a</summary><summary>b</summary>", "more than one"),
    ("r</think>\\boxed{4}<summary>s</summary>", "text between"),
    ("r</think><summary>s</summary>\\boxed{4}", "text after </summary>"),
    ("r<summary>s</summary></think>ans", "inside the think block"),
    ("r</think><summary>s</summary><history>", "history"),
    ("<history>\nold\n</history>\n<think>r</think>4", "history"),
]


@pytest.mark.parametrize("text, error_words", MALFORMED)
def test_parse_malformed(text, error_words):
    seg = parse_segment(text)
    assert seg.kind == "invalid"
    assert error_words in seg.error
    assert seg.summary is None and seg.answer_text is None


def test_parse_keeps_think_of_an_invalid_segment_when_known():
    seg = parse_segment("reasoning</think><summary>open")
    assert seg.kind == "invalid" and seg.think == "reasoning"


def test_parse_non_string_is_invalid_not_an_exception():
    assert parse_segment(None).kind == "invalid"  # type: ignore[arg-type]
    assert parse_segment(b"r</think>4").kind == "invalid"  # type: ignore[arg-type]


def test_parse_is_linear_on_huge_adversarial_input():
    text = "<summary>" * 50_000 + "</think>" + "<think>" * 50_000 + "a" * 500_000
    assert parse_segment(text).kind == "invalid"


# Mostly tags and separators, so the structural branches are reached far more often than by
# random text alone.
_TAG_SOUP = st.lists(
    st.one_of(
        st.sampled_from(["<think>", "</think>", "<summary>", "</summary>", "<history>", "</history>",
                         "\n", " ", "x", "\\boxed{1}", "<", ">", "/"]),
        st.text(max_size=8),
    ),
    max_size=12,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=200), _TAG_SOUP))
def test_parse_never_raises_and_is_consistent(text):
    seg = parse_segment(text)
    assert seg.kind in SEGMENT_KINDS
    if seg.kind == "summary":
        assert seg.summary and seg.summary == seg.summary.strip() and seg.error is None
        assert seg.answer_text is None and seg.think is not None
    elif seg.kind == "conclusion":
        assert seg.answer_text and seg.error is None and seg.summary is None and seg.think is not None
    else:
        assert seg.error and seg.summary is None and seg.answer_text is None


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_rendered_summary_always_parses_back(reasoning, summary):
    tags = DEFAULT_TAGS
    tag_free = all(t not in reasoning + summary for t in vars(tags).values()) and "<" not in reasoning + summary
    if not tag_free or not summary.strip():
        return
    seg = parse_segment(render_summary_segment(reasoning, summary))
    assert seg.kind == "summary" and seg.summary == summary.strip() and seg.think == reasoning.strip()


# ---------------------------------------------------------------------------------------------
# Stop rules
# ---------------------------------------------------------------------------------------------

SUMMARY = Segment(kind="summary", think="r", summary="s")
CONCLUSION = Segment(kind="conclusion", think="r", answer_text="\\boxed{1}")
INVALID = Segment(kind="invalid", error="no </think>")

STOP_TABLE = [
    # (segment, index (0-based), phi, hit_cap, expected)
    (SUMMARY, 0, 3, False, None),
    (SUMMARY, 1, 3, False, None),
    (SUMMARY, 2, 3, False, StopReason.MAX_SEGMENTS),
    (SUMMARY, 0, 1, False, StopReason.MAX_SEGMENTS),
    (SUMMARY, 0, 3, True, None),  # the summary was closed before the cap: fine
    (SUMMARY, 2, 3, True, StopReason.MAX_SEGMENTS),
    (CONCLUSION, 0, 3, False, StopReason.CONCLUSION),
    (CONCLUSION, 2, 3, False, StopReason.CONCLUSION),  # a conclusion on the last segment is a conclusion
    (CONCLUSION, 1, 3, True, StopReason.TOKEN_CAP),  # possibly truncated answer
    (INVALID, 0, 3, False, StopReason.INVALID_FORMAT),
    (INVALID, 2, 3, False, StopReason.INVALID_FORMAT),
    (INVALID, 0, 3, True, StopReason.TOKEN_CAP),  # ran out of tokens inside the think block
]


@pytest.mark.parametrize("segment, index, phi, hit_cap, expected", STOP_TABLE)
def test_next_action(segment, index, phi, hit_cap, expected):
    assert next_action(segment, index, phi, hit_cap) == expected


@pytest.mark.parametrize("index, phi, error", [(-1, 3, ValueError), (3, 3, ValueError), (0, 0, ValueError),
                                               (True, 3, TypeError), (0.5, 3, TypeError)])
def test_next_action_rejects_bad_indices(index, phi, error):
    with pytest.raises(error):
        next_action(SUMMARY, index, phi, False)


def test_stop_reason_is_its_string_value():
    assert StopReason("token_cap") is StopReason.TOKEN_CAP
    assert StopReason.CONCLUSION == "conclusion"


# ---------------------------------------------------------------------------------------------
# Iterative driver (scripted generator, no model)
# ---------------------------------------------------------------------------------------------


def _scripted(outputs):
    """A generator that replays ``(text, hit_cap)`` pairs and records what it was asked."""
    calls = []

    def generate(messages, prefix, max_tokens):
        text, hit_cap = outputs[len(calls)]
        calls.append((messages, prefix, max_tokens))
        return GenerationResult(text=text, num_tokens=len(text.split()), hit_token_cap=hit_cap)

    return generate, calls


def test_run_iterative_chains_summaries_into_history():
    generate, calls = _scripted([
        ("a b\n</think><summary>\nS1\n</summary>", False),
        ("c\n</think><summary>\nS2\n</summary>", False),
        ("d\n</think>\n\n\\boxed{7}", False),
    ])
    result = run_iterative(generate, "Q?", max_segments=5, segment_cap=64)
    assert result.stop_reason is StopReason.CONCLUSION
    assert result.num_segments == 3
    assert result.answer_text == "\\boxed{7}"
    assert result.total_tokens == 5 + 4 + 3  # whitespace-separated words of the three outputs
    assert [c[1] for c in calls] == [
        "<think>\n",
        "<history>\nS1\n</history>\n<think>\n",
        "<history>\nS2\n</history>\n<think>\n",  # rolling: only the latest summary
    ]
    assert all(c[0] == [{"role": "user", "content": "Q?"}] and c[2] == 64 for c in calls)


@pytest.mark.parametrize(
    "outputs, phi, reason, n",
    [
        ([("r</think><summary>s</summary>", False)] * 2, 2, StopReason.MAX_SEGMENTS, 2),
        ([("r</think><summary>s</summary>", False), ("r still going", True)], 4, StopReason.TOKEN_CAP, 2),
        ([("r</think><summary></summary>", False)], 4, StopReason.INVALID_FORMAT, 1),
    ],
)
def test_run_iterative_stops_without_an_answer(outputs, phi, reason, n):
    generate, _ = _scripted(outputs)
    result = run_iterative(generate, "Q", max_segments=phi, segment_cap=8)
    assert (result.stop_reason, result.num_segments, result.answer_text) == (reason, n, None)


def test_arun_iterative_matches_sync():
    outputs = [("r</think><summary>s</summary>", False), ("r</think>\\boxed{1}", False)]
    generate, _ = _scripted(outputs)

    async def agenerate(messages, prefix, max_tokens):
        return generate(messages, prefix, max_tokens)

    result = asyncio.run(arun_iterative(agenerate, "Q", max_segments=3, segment_cap=8))
    assert result.stop_reason is StopReason.CONCLUSION and result.answer_text == "\\boxed{1}"


def test_iterative_state_refuses_to_go_past_the_stop():
    state = IterativeState("Q", max_segments=1)
    state.record(GenerationResult("r</think><summary>s</summary>", 5, False))
    assert state.done and state.stop_reason is StopReason.MAX_SEGMENTS
    with pytest.raises(RuntimeError):
        state.next_prompt()
    with pytest.raises(ValueError, match="inftythink.max_segments"):
        IterativeState("Q", max_segments=0)
    with pytest.raises(ValueError, match="inftythink.segment_cap"):
        run_iterative(lambda *a: None, "Q", 2, 0)


# ---------------------------------------------------------------------------------------------
# Reward shaping
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("phi", [1, 2, 5, 16])
def test_task_eff_endpoints(phi):
    assert trajectory_reward(1.0, 1, phi, "task_eff") == 1.0
    assert trajectory_reward(1.0, phi, phi, "task_eff") == pytest.approx(1 - ((phi - 1) / phi) ** 2)
    assert trajectory_reward(0.0, phi, phi, "task_eff") == 0.0


def test_task_eff_values_and_monotonicity():
    assert trajectory_reward(1.0, 3, 4, "task_eff") == pytest.approx(1 - (2 / 4) ** 2)  # 0.75
    assert trajectory_reward(0.5, 2, 2, "task_eff") == pytest.approx(0.5 * 0.75)
    values = [efficiency_factor(n, 8) for n in range(1, 9)]
    assert values == sorted(values, reverse=True) and min(values) > 0


@pytest.mark.parametrize("n", [1, 3, 4])
def test_task_variant_ignores_segment_count(n):
    assert trajectory_reward(1.0, n, 4, "task") == 1.0
    assert trajectory_reward(0.0, n, 4, "task") == 0.0
    assert isinstance(trajectory_reward(1, n, 4, "task"), float)


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((1.0, 1, 4, "T+E"), ValueError, "inftythink.reward_variant"),
        ((1.0, 1, 0, "task"), ValueError, "inftythink.max_segments"),
        ((1.0, 0, 4, "task_eff"), ValueError, "num_segments"),
        ((1.0, 5, 4, "task"), ValueError, "num_segments"),
        ((1.0, True, 4, "task"), TypeError, "num_segments"),
    ],
)
def test_reward_validation_names_the_setting(args, error, match):
    with pytest.raises(error, match=match):
        trajectory_reward(*args)
