"""Hostile input: compute_score never raises, never overruns its deadline, never executes code."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siri_verl.reward import compute_score, score_batch

REASONS = {"correct", "wrong", "no_answer", "truncated", "timeout"}
# Found in minerva_math: math-verify needs ~11 s to reject this (+1 on one side of an ODE).
SLOW_GOLD = "m l \\ddot{\\theta}(t)-m g \\sin \\theta(t)=f(t) \\cos \\theta(t)"
SLOW_PRED = SLOW_GOLD + "+1"


def scored(text: str, gold="10", budget_s: float = 8.0, **kw) -> dict:
    t0 = time.monotonic()
    out = compute_score("hostile", text, gold, **kw)
    assert time.monotonic() - t0 < budget_s
    assert set(out) >= {"score", "acc", "pred", "reason"} and out["reason"] in REASONS
    assert isinstance(out["score"], float)
    return out


def test_code_injection_never_runs(tmp_path: Path):
    marker = tmp_path / f"pwned-{uuid.uuid4().hex}"
    payloads = [
        f"__import__('os').system('touch {marker}')",
        f"eval(\"__import__('os').system('touch {marker}')\")",
        f"(lambda: __import__('os').system('touch {marker}'))()",
        f"exec('open(\"{marker}\", \"w\")')",
        f"\\text{{__import__('os').system('touch {marker}')}}",
    ]
    for p in payloads:
        assert not scored(f"</think>\\boxed{{{p}}}", gold="x")["acc"]
        assert not scored("</think>\\boxed{1}", gold=p)["acc"]
    assert not marker.exists()


def test_resource_bombs_are_bounded():
    assert not scored("</think>\\boxed{10^{10^{10}}}")["acc"]
    assert not scored("</think>\\boxed{9^{9^{9^{9}}}}", gold="9")["acc"]
    assert not scored("</think>\\boxed{100000!}")["acc"]
    assert scored("</think>" + "\\boxed{" * 10_000 + "10" + "}" * 10_000)["reason"] in {"no_answer", "correct"}
    assert scored("</think>" + "\\boxed{" * 10_000)["reason"] == "no_answer"
    assert scored("{" * 1_000_000 + "</think>\\boxed{10}")["acc"]
    assert scored("x" * 1_000_000)["reason"] == "no_answer"
    assert scored("</think>\\boxed{" + "1" * 1_000_000 + "}")["reason"] in {"no_answer", "wrong"}
    assert scored("</think>\\boxed{1\x00\x07\x1b[2J0}")["reason"] in {"wrong", "correct"}


def test_deadline_kills_slow_math_verify_and_pool_recovers():
    out = scored(f"</think>\\boxed{{{SLOW_PRED}}}", gold=SLOW_GOLD, budget_s=4.0, timeout_s=1.0)
    assert out["reason"] == "timeout" and out["score"] == 0.0
    assert scored("</think>\\boxed{\\sqrt{100}}")["reason"] == "correct"


def test_deadline_works_off_the_main_thread_and_in_batches():
    out = []
    t = threading.Thread(target=lambda: out.append(scored(f"</think>\\boxed{{{SLOW_PRED}}}", gold=SLOW_GOLD, timeout_s=1.0)))
    t.start()
    t.join(30)
    assert out and out[0]["reason"] == "timeout"
    rows = [("h", f"</think>\\boxed{{{SLOW_PRED}}}", SLOW_GOLD, None), ("h", "</think>\\boxed{\\sqrt{4}}", "2", None)]
    t0 = time.monotonic()
    assert [r["reason"] for r in score_batch(rows, num_workers=2, timeout_s=1.0)] == ["timeout", "correct"]
    assert time.monotonic() - t0 < 5


def test_malformed_rows_do_not_raise():
    for solution, gold, extra in [(None, "1", None), (b"\\boxed{1}", "1", None), ("\\boxed{1}", None, None),
                                  ("\\boxed{1}", ["1", 2.0], "not a dict"), ("\\boxed{1}", {"a": 1}, {"think_end": 5})]:
        out = compute_score("bad", solution, gold, extra)
        assert out["reason"] in REASONS


LATEXISH = st.sampled_from(list("{}\\^_()[],.+-*/=0123456789xyzABC $!%&#\n\x00") +
                           ["\\boxed{", "\\fbox{", "\\frac", "\\sqrt", "</think>", "<think>", "\\left(", "\\right)",
                            "\\text{", "__import__", "eval(", "lambda ", "10^{10^{", "\\infty", "\\pi", "\\{", "\\}"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.lists(LATEXISH, max_size=60).map("".join), gold=st.sampled_from(["1", "C", "\\frac{1}{2}", "(1,2)", "x^2"]))
def test_any_input_scores_within_deadline(body, gold):
    scored(body, gold=gold, budget_s=4.0, timeout_s=2.0)
    scored(f"</think>\\boxed{{{body}}}", gold=gold, budget_s=4.0, timeout_s=2.0)
