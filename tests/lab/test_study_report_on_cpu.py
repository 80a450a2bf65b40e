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


def test_per_seed_cells_and_differences_between_arms_the_hypotheses_leave_out():
    rows = {
        "cold start only": [{"acc": a, "tokens": 200.0, "segments": 3.9, "seed": s} for s, a in enumerate((0.6, 0.7, 0.65))],
        "InftyThink+ T": [{"acc": a, "tokens": 180.0 + s, "segments": 3.6, "seed": s} for s, a in enumerate((0.7, 0.8, 0.75))],
        "warm start": [{"acc": 0.3, "tokens": 130.0, "segments": None, "seed": 1}],
    }
    seeds = study_report.per_seed_markdown(rows)
    assert "| arm | seed 0 | seed 1 | seed 2 |" in seeds
    assert "| InftyThink+ T | 70.0 / 180.0 / 3.60 | 80.0 / 181.0 / 3.60 | 75.0 / 182.0 / 3.60 |" in seeds
    assert "| warm start | - | 30.0 / 130.0 | - |" in seeds  # a seed an arm lacks, no segments on the SIRI side
    differences = study_report.comparisons_markdown(rows)
    # +10 points with equal spreads: Welch's interval is +10 +- t(0.975, 4) * sqrt(2 * 0.05^2 / 3)
    assert "| InftyThink+ T | cold start only | +10.0 [-1.3, +21.3] | -19.0 [-21.5, -16.5] | -0.30 [-0.30, -0.30] |" in differences
    assert "T+E" not in differences and "DeepScaleR" not in differences  # pairs not both run are left out
    assert study_report.comparisons_markdown({"warm start": rows["warm start"]}) == ""


def test_response_styles_of_each_siri_side_arm_pooled_over_seeds(tmp_path):
    import json

    record = {"text": "S1+2=3\n\nW1+2=3\n</think>\n\n\\boxed{3}", "tokens": 20, "truncated": False, "correct": True}
    for seed in ("seed0", "seed1"):
        (tmp_path / "constant_cap" / seed / "generations").mkdir(parents=True)
        (tmp_path / "constant_cap" / seed / "generations" / "running_sums_test.jsonl").write_text(json.dumps(record) + "\n")
    text = study_report.response_styles_markdown(
        {"constant cap": tmp_path / "constant_cap", "SIRI-low": tmp_path / "SIRI-low"}  # SIRI-low: no evals yet
    )
    assert "| constant cap | 2 | 0.0 % | 100.0 % | 100.0 % | nan % | 20.0 / nan |" in text
    assert "SIRI-low" not in text
    assert study_report.response_styles_markdown({"SIRI-low": tmp_path / "SIRI-low"}) == ""
