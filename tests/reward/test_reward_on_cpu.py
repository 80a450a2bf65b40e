"""Unit tests of the answer checker: extraction, fast paths, math-verify fallback, reasons."""

from __future__ import annotations

import threading

import pytest

from siri_verl.reward import (
    answer_region,
    check_answer,
    compute_score,
    compute_score_batch,
    last_boxed,
    score_batch,
)


def resp(answer: str) -> str:
    return f"<think>try \\boxed{{0}} first</think> The answer is $\\boxed{{{answer}}}$."


@pytest.mark.parametrize(
    "text, expected",
    [
        ("\\boxed{1} then \\boxed{2}", "2"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{\\{1,2\\}}", "\\{1,2\\}"),
        ("\\fbox{7}", "7"),
        ("\\boxed{\\boxed{5}}", "5"),
        ("\\boxed {3}", "3"),
        ("no box here", None),
        ("\\boxed{unclosed", None),
        ("\\boxed{4} and \\boxed{unclosed", "4"),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


def test_answer_region_uses_text_after_think_end():
    assert answer_region("<think>\\boxed{1}</think>\\boxed{2}") == "\\boxed{2}"
    assert answer_region("<think>still thinking \\boxed{1}") is None  # cut off mid-reasoning
    assert answer_region("plain \\boxed{3}") == "plain \\boxed{3}"  # model without think markers
    assert answer_region("plain \\boxed{3}", require_think_end=True) is None
    assert answer_region("a<END>b", think_end="<END>") == "b"


@pytest.mark.parametrize(
    "pred, gold",
    [
        ("070", "70"), ("142", 142.0), ("142.0", "142"), ("C", "C"), ("(C)", "C"), ("\\text{C}", "C"),
        ("\\textbf{(C)}", "C"), ("\\dfrac{1}{2}", "\\frac12"), ("0.5", "\\frac{1}{2}"), ("\\sqrt{4}", "2"),
        ("(1, 2)", "(1,2)"), ("[0, 1)", "[0,1)"), ("\\{2, 1\\}", "\\{1,2\\}"), ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\pi/2)"),
        ("52_8", "52_{8}"), ("30^\\circ", "30"), ("x^2+2x+1", "(x+1)^2"), ("\\frac{2}{5}", ["$\\frac{2}{5}$"]),
    ],
)
def test_equivalent_answers_are_correct(pred, gold):
    assert check_answer(pred, gold) == (True, "correct")


@pytest.mark.parametrize(
    "pred, gold",
    [("71", "70"), ("D", "C"), ("(D)", "C"), ("\\frac{1}{3}", "\\frac12"), ("(1, 3)", "(1,2)"), ("[0, 1]", "[0,1)"),
     ("52_9", "52_8"), ("\\sqrt{5}", "2"), ("x^2+1", "(x+1)^2"), ("142.5", 142.0)],
)
def test_different_answers_are_wrong(pred, gold):
    assert check_answer(pred, gold) == (False, "wrong")


def test_compute_score_reasons():
    assert compute_score("math", resp("70"), "70") == {"score": 1.0, "acc": True, "pred": "70", "reason": "correct"}
    assert compute_score("math", resp("71"), "70")["reason"] == "wrong"
    assert compute_score("math", "<think>long reasoning \\boxed{70}", "70")["reason"] == "no_answer"
    assert compute_score("math", "</think> I give up.", "70")["reason"] == "no_answer"
    out = compute_score("math", resp("70"), "70", {"truncated": True})
    assert (out["score"], out["acc"], out["reason"]) == (0.0, False, "truncated")
    assert compute_score("math", "[END] \\boxed{70}", "70", {"think_end": "[END]"})["acc"]
    assert compute_score("math", "\\boxed{70}", "70", require_think_end=True)["reason"] == "no_answer"


def test_compute_score_off_the_main_thread():
    out = []
    worker = threading.Thread(target=lambda: out.append(compute_score("math", resp("\\sqrt{9}"), "3")))
    worker.start()
    worker.join(60)
    assert out and out[0]["reason"] == "correct"


def test_score_batch_matches_compute_score():
    rows = [("m", resp(p), g, None) for p, g in [("1", "1"), ("\\sqrt{4}", "2"), ("3", "4"), ("x+1", "1+x")]]
    rows.append(("m", "<think>no end", "1", None))
    expected = [compute_score(*r) for r in rows]
    assert score_batch(rows, num_workers=2) == expected
    assert compute_score_batch(*zip(*rows)) == expected
    assert [r["reason"] for r in expected] == ["correct", "correct", "wrong", "correct", "no_answer"]


def trajectory_fields(stop_reason: str) -> dict:
    """The final row's extra_fields of a 3-segment InftyThink+ trajectory (φ = 3, reward T)."""
    return {
        "inftythink_num_segments": 3,
        "inftythink_max_segments": 3,
        "inftythink_reward_variant": "task",
        "inftythink_stop_reason": stop_reason,
        "response_tokens": 60,
    }


@pytest.mark.parametrize("stop_reason", ["max_segments", "invalid_format"])
def test_inftythink_acc_is_the_trajectory_outcome_not_the_checkers_verdict(stop_reason):
    """val-core reports ``acc``: an unconcluded trajectory is not solved, whatever its last box says."""
    from siri_verl.inftythink.inftythink_reward import compute_score as trajectory_score

    final_segment = "12\n</think><summary>\nat 12, so the answer is \\boxed{12}\n</summary>"
    out = trajectory_score("toy_addition", final_segment, "12", trajectory_fields(stop_reason))
    assert out["answer_acc"] is True and out["pred"] == "12"
    assert (out["acc"], out["score"], out["task_score"]) == (False, 0.0, 0.0)

    concluded = trajectory_score("toy_addition", "12\n</think>\n\n\\boxed{12}", "12", trajectory_fields("conclusion"))
    assert (concluded["acc"], concluded["answer_acc"], concluded["score"]) == (True, True, 1.0)
