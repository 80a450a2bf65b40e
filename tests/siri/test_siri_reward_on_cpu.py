"""SIRI's reward at the cap: code and docs/siri.md state one rule (a response cut at L(t) scores 0,
even when a correct boxed answer came before the cut)."""

from __future__ import annotations

from _repo import REPO

from siri_verl.siri.siri_reward import compute_score

# A correct answer boxed inside the thinking, then more checking until the cap cut it.
CUT_AFTER_AN_ANSWER = "1+2+3 = 6, so \\boxed{6}. Wait, let me double-check: 1+2 is 3, and 3+3 is"
FINISHED = "1+2+3 = 6.\n</think>\n\nThe sum is \\boxed{6}."


def test_a_response_cut_at_the_cap_scores_0_even_after_a_correct_boxed_answer():
    cut = compute_score("math", CUT_AFTER_AN_ANSWER, "6", {"truncated": True, "siri_cap": 24, "response_tokens": 24})
    assert cut["score"] == 0 and cut["reason"] == "truncated"
    finished = compute_score("math", FINISHED, "6", {"truncated": False, "siri_cap": 24, "response_tokens": 20})
    assert finished["score"] == 1


def test_docs_state_the_rule_the_code_applies():
    docs = " ".join((REPO / "docs" / "siri.md").read_text().split())
    assert "a response that reaches L(t) without ending scores 0, even when a correct boxed answer came before the cap" in docs
    assert "reward 1 if an answer is extracted from the response clipped to L(t)" not in docs  # the old, ambiguous line
