"""The toy study's hypotheses (siri_verl/lab/verdicts.py): verdicts from hand-made per-seed rows
whose answers are known."""

from __future__ import annotations

import pytest

from siri_verl.lab.study_arms import ARMS_BY_NAME, ETA, PROMPT_BUDGET
from siri_verl.lab.verdicts import HYPOTHESES, INTERVAL_RULES, METRIC_FORMATS, Condition, hypotheses, judge


def _verdicts(rows):
    return {h.split(":")[0]: v for h, _, _, v in hypotheses(rows)}


def test_hypotheses_pass_fail_and_inconclusive_from_known_rows():
    rows = {
        "warm start": [{"acc": a, "tokens": 50.0} for a in (0.50, 0.51, 0.49)],
        "constant cap": [{"acc": a, "tokens": 50.0} for a in (0.70, 0.71, 0.69)],
        "SIRI-low": [{"acc": a, "tokens": 30.0} for a in (0.70, 0.72, 0.68)],
        "SIRI-high": [{"acc": a, "tokens": 45.0} for a in (0.40, 0.41, 0.39)],
    }
    assert _verdicts(rows) == {"H1": "**passed**", "H2": "**passed**", "H3": "**failed**"}
    single = {name: rs[:1] for name, rs in rows.items()}
    assert all(v.startswith("inconclusive") for *_, v in hypotheses(single))


def test_the_inftythink_hypotheses_check_the_per_call_context_and_segments():
    def arm(acc, segments, peak):
        return [{"acc": a, "segments": s, "max_peak_context": peak} for a, s in zip(acc, segments)]

    rows = {
        "long-CoT RL": arm((0.20, 0.18, 0.22), (1, 1, 1), 180),
        "InftyThink+ T": arm((0.45, 0.46, 0.44), (8.5, 8.4, 8.6), PROMPT_BUDGET + ETA),
        "InftyThink+ T+E": arm((0.47, 0.45, 0.46), (7.0, 7.1, 6.9), PROMPT_BUDGET + ETA),
        "long-CoT start, full context": arm((0.30, 0.30, 0.30), (1, 1, 1), 400),
    }
    (h4, h5) = hypotheses(rows)
    assert h4[3] == h5[3] == "**passed**"
    assert h4[2].startswith("accuracy +25.0 points [") and h4[2].endswith(
        f"; peak context {PROMPT_BUDGET + ETA} tokens; long-CoT start at full context 30.0 %"
    )
    assert h5[2].startswith("segments -1.50 [") and h5[2].endswith("; accuracy +1.0 points")
    # one call over the prompt budget + the per-call cap fails H4 whatever the accuracy
    rows["InftyThink+ T"][1]["max_peak_context"] = PROMPT_BUDGET + ETA + 1
    assert _verdicts(rows)["H4"] == "**failed**"


def test_each_rule_reads_its_end_of_the_interval():
    up, down = [0.6, 0.7, 0.8], [0.1, 0.2, 0.3]
    assert judge(Condition("acc", "interval_above"), up, down)[0] is True
    assert judge(Condition("acc", "interval_above"), down, up)[0] is False
    assert judge(Condition("acc", "interval_reaches"), [0.5, 0.6, 0.7], up)[0] is True  # reaches 0, not above
    assert judge(Condition("acc", "interval_below"), down, up)[0] is True
    assert judge(Condition("tokens", "ratio_at_most", 0.5), [10.0], [20.0]) == (True, "tokens x0.50")
    assert judge(Condition("acc", "mean_within", 0.05), [0.5], [0.56]) == (False, "accuracy -6.0 points")
    with pytest.raises(ValueError, match="unknown rule 'above'"):
        judge(Condition("acc", "above"), up, down)


def test_every_hypothesis_names_arms_of_the_study_and_known_rules():
    rules = {*INTERVAL_RULES, "mean_within", "ratio_at_most", "max_at_most"}
    for hypothesis in HYPOTHESES:
        assert {hypothesis.arm, hypothesis.baseline} <= set(ARMS_BY_NAME), hypothesis.name
        assert not hypothesis.quoted or hypothesis.quoted[0] in ARMS_BY_NAME
        for condition in hypothesis.conditions:
            assert condition.rule in rules and condition.metric in METRIC_FORMATS, (hypothesis.name, condition)
