"""Before -> after on the same validation problems (siri_verl/tracking/paired.py), read from files
that verl's own writer made (``PPOTrainer._write_generations``, the dump of
``trainer.validation_data_dir``), with this project's reward fields."""

from __future__ import annotations

import pytest
from verl.trainer.ppo.v1.trainer_base import PPOTrainer

from siri_verl.tracking.paired import paired_change, read_dump


def write_dump(directory, step, samples):
    """samples: (prompt, acc, tokens) per response, written by verl's writer as a validation does."""
    prompts, accs, tokens = zip(*samples)
    PPOTrainer._write_generations(
        inputs=list(prompts), outputs=["..."] * len(samples), gts=["7"] * len(samples), scores=list(accs),
        reward_extra_infos_dict={"acc": list(accs), "response_tokens": list(tokens)},
        dump_path=str(directory), global_steps=step,
    )  # fmt: skip


def test_the_first_and_last_dumps_are_compared_problem_by_problem(tmp_path):
    before = [(f"Q{i}", float(i % 2), 100.0) for i in range(40) for _ in range(4)]
    middle = [(f"Q{i}", 0.0, 10.0) for i in range(40) for _ in range(4)]
    # after: every problem one sample better (odd problems stay at 1), 20 % shorter, plus a
    # problem the first dump lacks (not counted)
    after = [(f"Q{i}", 1.0 if (i % 2 or k == 0) else 0.0, 80.0) for i in range(40) for k in range(4)]
    after += [("Q-new", 1.0, 5.0)] * 4
    for step, samples in ((0, before), (5, middle), (10, after)):
        write_dump(tmp_path, step, samples)

    change = paired_change(tmp_path)
    assert (change.problems, change.samples_per_problem, change.before_step, change.after_step) == (40, 4, 0, 10)
    assert change.acc_before == pytest.approx(0.5) and change.acc_after == pytest.approx(0.625)
    assert change.acc_diff_low < 0.125 < change.acc_diff_high
    assert change.tokens_after / change.tokens_before == pytest.approx(0.8)
    assert change.tokens_ratio_low == pytest.approx(0.8) == change.tokens_ratio_high  # every problem -20 %
    assert "accuracy 0.500 -> 0.625 (+0.125 [" in change.line() and "tokens 100.0 -> 80.0 (x0.80 [0.80, 0.80])" in change.line()


def test_one_dump_gives_no_comparison(tmp_path):
    write_dump(tmp_path, 0, [("Q1", 1.0, 10.0)])
    assert paired_change(tmp_path) is None


def test_a_malformed_line_is_named(tmp_path):
    write_dump(tmp_path, 0, [("Q1", 1.0, 10.0)])
    with (tmp_path / "0.jsonl").open("a") as handle:
        handle.write('{"output": "no prompt"}\n')
    with pytest.raises(ValueError, match=r"0\.jsonl line 2: not a validation sample"):
        read_dump(tmp_path / "0.jsonl")
