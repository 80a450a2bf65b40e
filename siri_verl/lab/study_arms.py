"""The toy study's arms: one row of its table each, as data (``python -m siri_verl.lab.toy_study``).

An arm is a recipe's run (or a starting model evaluated as is), the checkpoint of that run that
stands for it, and the eval setting it is measured under. The SIRI side is measured on the
short running sums, the InftyThink+ side on the long ones (siri_verl/lab/running_sums.py).
"""

from __future__ import annotations

from dataclasses import dataclass

ETA = 128  # per-call cap of the InftyThink arms (inftythink.segment_cap in recipes/_toy_inftythink.yaml)
PROMPT_BUDGET = 64  # data.max_prompt_length of the InftyThink arms
LONGCOT_CAP = 160  # the long-CoT arm's response cap (recipes/toy_longcot_rl.yaml): prompt + 160 <= 64 + 128
FULL_CONTEXT = 448  # the toy model's room for a response (512 positions less the prompt)
# The reported seeds: no setting of the study is tuned on them (siri_verl/lab/headroom.py and
# `toy_study --split tune` use other seeds, results/toy_study_tuning.md).
REPORTED_SEEDS = (0, 1, 2)
SIRI_CAP = 160  # the SIRI side's eval budget: the peak of its schedules (recipes/_toy_siri.yaml)


@dataclass(frozen=True)
class Arm:
    """One row of the study's table."""

    name: str
    # The recipe that trains it; None for a starting model evaluated as is.
    recipe: str | None
    # Which checkpoint of the recipe's run: "final", or "last_trough" (SIRI-low).
    checkpoint: str
    # The starting model (an asset), evaluated directly when recipe is None.
    model: str
    side: str  # "siri" or "inftythink": which table and hypotheses the row belongs to
    mode: str  # eval mode: long (one response) or inftythink (iterative segments)
    benchmark: str  # the held-out test split (an asset)
    max_tokens: int  # eval budget per call


_SIRI = dict(side="siri", mode="long", benchmark="running_sums_test", max_tokens=SIRI_CAP)
_LONG_COT = dict(side="inftythink", mode="long", benchmark="long_sums_test")
_ITERATIVE = dict(side="inftythink", mode="inftythink", benchmark="long_sums_test", max_tokens=ETA)

# fmt: off
ARMS: tuple[Arm, ...] = (
    Arm("warm start",                   None,                  "final",       "toy_warmstart_model", **_SIRI),
    Arm("constant cap",                 "toy_constant",        "final",       "toy_warmstart_model", **_SIRI),
    Arm("SIRI-low",                     "toy_siri_cosine",     "last_trough", "toy_warmstart_model", **_SIRI),
    Arm("SIRI-high",                    "toy_siri_cosine",     "final",       "toy_warmstart_model", **_SIRI),
    Arm("stair",                        "toy_siri_stair",      "final",       "toy_warmstart_model", **_SIRI),
    Arm("DeepScaleR-style",             "toy_deepscaler",      "final",       "toy_warmstart_model", **_SIRI),
    Arm("ThinkPrune-style",             "toy_thinkprune",      "final",       "toy_warmstart_model", **_SIRI),
    Arm("long-CoT start, full context", None,                  "final",       "toy_longcot_model",
        max_tokens=FULL_CONTEXT, **_LONG_COT),
    Arm("long-CoT RL",                  "toy_longcot_rl",      "final",       "toy_longcot_model",
        max_tokens=LONGCOT_CAP, **_LONG_COT),
    Arm("cold start only",              None,                  "final",       "toy_inftythink_model", **_ITERATIVE),
    Arm("InftyThink+ T",                "toy_inftythink_task", "final",       "toy_inftythink_model", **_ITERATIVE),
    Arm("InftyThink+ T+E",              "toy_inftythink_eff",  "final",       "toy_inftythink_model", **_ITERATIVE),
    Arm("SIRI x InftyThink",            "toy_siri_inftythink", "final",       "toy_inftythink_model", **_ITERATIVE),
)
# fmt: on
ARMS_BY_NAME = {arm.name: arm for arm in ARMS}
