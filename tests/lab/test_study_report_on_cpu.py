"""The toy study's report (siri_verl/lab/study_report.py) from hand-made per-seed rows."""

from __future__ import annotations

from siri_verl.lab import study_report


def test_report_has_every_run_arm_with_intervals_and_the_command():
    rows = {
        "warm start": [{"acc": 0.5, "tokens": 50.0, "seed": s} for s in range(3)],
        "SIRI-low": [{"acc": 0.5, "tokens": 25.0, "seed": s, "step": 30, "train_s": 100.0} for s in range(3)],
    }
    meta = {"command": "python -m siri_verl.lab.toy_study", "hardware": "2 CPU cores", "model": "toy", "seeds": [0, 1, 2],
            "steps": 40, "n": 4, "limit": 100, "train_s": 1.0, "eval_s": 1.0}  # fmt: skip
    report = study_report.report_markdown(rows, meta)
    assert "python -m siri_verl.lab.toy_study" in report
    assert "| siri | SIRI-low | toy_siri_cosine | last_trough (step 30) | 50.0 ± 0.0 | 25.0 ± 0.0 | 0.000 |" in report
    assert "constant cap" not in report.split("## Hypotheses")[0]  # arms not run are left out


def test_the_length_follows_the_cap_with_the_lag_it_has():
    import math

    from siri_verl.lab.study_report import follow_lag, follow_markdown

    cap = [(t, 116 + 44 * math.cos(2 * math.pi * t / 16)) for t in range(1, 49)]
    late = [(t, 80 + 20 * math.cos(2 * math.pi * (t - 3) / 16)) for t in range(1, 49)]
    lag, r, r0 = follow_lag({"siri/max_response_length": cap, "siri/response_length/mean": late})
    assert lag == 3 and r > 0.99 and r0 < r
    # a length that does not move with the cap, or a constant cap: nothing to follow
    flat = [(t, 80.0) for t in range(1, 49)]
    assert follow_lag({"siri/max_response_length": cap, "siri/response_length/mean": flat}) is None
    assert follow_lag({"siri/max_response_length": [(t, 160.0) for t in range(1, 49)],
                       "siri/response_length/mean": late}) is None  # fmt: skip
    text = follow_markdown({"siri/max_response_length": cap, "siri/response_length/mean": late,
                            "constant/response_length/mean": flat})  # fmt: skip
    assert "lag of k = 3 steps" in text and "under the constant cap 80.0 -> 80.0" in text
