"""The toy study's task (running sums), tokenizer, rule summariser and cold start, on CPU.

Fast: no SFT run here (the one smoke test of the SFT build is in
``test_toy_reasoner_sft_on_cpu.py``).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest
from _reference import check_layout

from siri_verl.inftythink.protocol import parse_segment
from siri_verl.lab import running_sums as rs
from siri_verl.lab.running_sums import RunningSumsSpec, SumProblem
from siri_verl.reward import compute_score

SMALL = RunningSumsSpec(
    train_size=60, tune_size=20, test_size=20, sft_size=120, long_train_size=20, long_test_size=10, long_traces_size=12
)


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> dict[str, Path]:
    return rs.write_dataset(tmp_path_factory.mktemp("running_sums"), SMALL)


@pytest.fixture(scope="module")
def toy_tokenizer_dir() -> Path:
    """The base model directory (tokenizer + qwen2 config), built once into the test cache."""
    from siri_verl.lab.toy_reasoner import ensure_toy_reasoner_base

    return ensure_toy_reasoner_base()


# -- the task ----------------------------------------------------------------------------------


def test_worked_solution_layout():
    problem = SumProblem((3, 5, 2, 8))
    assert problem.question == "Q3528" and problem.answer == "18"
    assert problem.reasoning() == "S3+5=8\n\nS8+2=10\n\nS10+8=18"
    assert problem.response() == "S3+5=8\n\nS8+2=10\n\nS10+8=18\n</think>\n\n\\boxed{18}"
    # recheck_p=1: every step is followed by its re-check.
    verbose = problem.reasoning(1.0, random.Random(0))
    assert verbose == "S3+5=8\n\nW3+5=8\n\nS8+2=10\n\nW8+2=10\n\nS10+8=18\n\nW10+8=18"
    # slip_p=1: every step slips by 1-2, its re-check has the right sum, the next step goes on from it.
    slips = problem.reasoning(0.0, random.Random(0), slip_p=1.0).split("\n\n")
    assert [p[0] for p in slips] == ["S", "W"] * 3
    assert [p[1:].split("=")[0] for p in slips] == ["3+5", "3+5", "8+2", "8+2", "10+8", "10+8"]
    assert [int(p.split("=")[1]) for p in slips[1::2]] == [8, 10, 18]
    assert all(1 <= abs(int(s.split("=")[1]) - int(w.split("=")[1])) <= 2 for s, w in zip(slips[::2], slips[1::2]))
    with pytest.raises(ValueError, match="two or more digits"):
        SumProblem((3,))
    with pytest.raises(ValueError, match="two or more digits"):
        SumProblem((3, 10))


def test_generation_is_deterministic_given_the_seed(tmp_path):
    first = rs.write_dataset(tmp_path / "a", SMALL)
    second = rs.write_dataset(tmp_path / "b", SMALL)
    for key in rs.FILES:
        assert first[key].read_bytes() == second[key].read_bytes(), key
    assert rs.sample_problems("test", 20, (3, 8), seed=0) == rs.sample_problems("test", 20, (3, 8), seed=0)
    assert rs.sample_problems("test", 20, (3, 8), seed=0) != rs.sample_problems("test", 20, (3, 8), seed=1)


def test_golds_and_reference_traces_score_1_and_perturbed_answers_0(small_dataset):
    for key in ("running_sums_train", "running_sums_tune", "running_sums_test", "long_sums_train", "long_sums_test"):
        for row in pd.read_parquet(small_dataset[key]).itertuples():
            problem = SumProblem(tuple(int(d) for d in row.prompt[0]["content"][1:]))
            gold = row.reward_model["ground_truth"]
            assert gold == problem.answer and row.extra_info["num_digits"] == len(problem.digits)
            for style in (None, rs.TraceStyle(loop_p=0), rs.HALF_RECHECKED, rs.TraceStyle(slip_p=1.0, loop_p=0)):
                response = problem.response(style, random.Random(row.Index))
                assert compute_score(row.data_source, response, gold)["score"] == 1.0, (key, row.Index, response)
            # a looping response never answers: a failure by choice
            looping = problem.response(rs.TraceStyle(verbose_p=1.0, loop_p=1.0), random.Random(row.Index))
            assert "\\boxed" not in looping and len(looping) >= rs.TraceStyle().loop_chars
            assert compute_score(row.data_source, looping, gold)["score"] == 0.0
            wrong = problem.response().replace(f"\\boxed{{{gold}}}", f"\\boxed{{{int(gold) + 1}}}")
            assert compute_score(row.data_source, wrong, gold)["score"] == 0.0, (key, row.Index)
    for row in pd.read_parquet(small_dataset["running_sums_sft"]).itertuples():
        question, answer = row.messages
        response = answer["content"][len(row.assistant_prefix) :]
        gold = SumProblem(tuple(int(d) for d in question["content"][1:])).answer
        assert row.assistant_prefix == "<think>\n" and answer["content"].startswith("<think>\n")
        # a finished row answers its own last sum: right unless a concise step slipped (uncaught);
        # a looping one (no </think>) never answers
        last_sum = response.split("\n</think>")[0].rsplit("=", 1)[-1]
        right = "</think>" in response and last_sum == gold
        assert compute_score(rs.DATA_SOURCE, response, gold)["score"] == float(right)
        if "</think>" in response:
            assert response.endswith(f"\\boxed{{{last_sum}}}")
    for line in small_dataset["long_sums_traces"].read_text().splitlines():
        row = json.loads(line)
        gold = SumProblem(tuple(int(d) for d in row["question"][1:])).answer
        assert compute_score(rs.LONG_DATA_SOURCE, row["trace"], gold)["score"] == 1.0


def test_both_styles_slips_and_loops_are_in_the_warm_start_data(small_dataset):
    contents = [m[1]["content"].removeprefix("<think>\n") for m in pd.read_parquet(small_dataset["running_sums_sft"]).messages]
    looping = [c for c in contents if "</think>" not in c]
    assert 0.2 * len(contents) < len(looping) < 0.4 * len(contents)  # loop_p = 0.3, either style
    finished = [c.split("\n</think>")[0].split("\n\n") for c in contents if "</think>" in c]
    verbose = [p for p in finished if any(q.startswith("W") for q in p)]
    assert 0.55 * len(finished) < len(verbose) < 0.85 * len(finished)  # verbose_p = 0.7
    caught = uncaught = 0
    for paragraphs in finished:
        steps = [q for q in paragraphs if q.startswith("S")]
        if paragraphs in verbose:
            # one style per response: a verbose response re-checks every step (recheck_p = 1), and
            # its re-check has the right sum where the step slipped
            assert [q[0] for q in paragraphs] == ["S", "W"] * len(steps), paragraphs
            caught += sum(s.split("=")[1] != w.split("=")[1] for s, w in zip(paragraphs[0::2], paragraphs[1::2]))
        else:
            # a concise one goes on from whatever sum it wrote, slipped or not
            sums = [int(q.split("=")[1]) for q in steps]
            firsts = [int(q[1:].split("+")[0]) for q in steps]
            assert firsts[1:] == sums[:-1], paragraphs
            uncaught += sum(int(q[1:].split("+")[0]) + int(q.split("+")[1].split("=")[0]) != int(q.split("=")[1]) for q in steps)
    assert caught > 0 and uncaught > 0
    for content in looping:
        paragraphs = content.split("\n\n")
        # a looping response repeats one re-check, after its last step, until past every cap
        repeated = [q for q in paragraphs if q == paragraphs[-1]]
        assert paragraphs[-1].startswith("W") and len(repeated) >= 3, content


def test_no_problem_is_in_two_splits(small_dataset):
    def questions(key):
        frame = pd.read_parquet(small_dataset[key])
        assert (frame.extra_info.map(lambda e: e["split"]) == key.rsplit("_", 1)[1]).all(), key
        return set(frame.prompt.map(lambda p: p[0]["content"]))

    train, tune, test = (questions(f"running_sums_{s}") for s in ("train", "tune", "test"))
    long_train, long_test = questions("long_sums_train"), questions("long_sums_test")
    assert len(train) == SMALL.train_size and len(test) == SMALL.test_size  # distinct within a split
    held_out = tune | test | long_test
    assert not (train & tune) and not (train & test) and not (tune & test) and not (long_train & long_test)
    sft = {m[0]["content"] for m in pd.read_parquet(small_dataset["running_sums_sft"]).messages}
    traces = {json.loads(line)["question"] for line in small_dataset["long_sums_traces"].read_text().splitlines()}
    assert not (sft & held_out) and not (traces & held_out)
    # The split is a function of the digits alone: other seeds and sizes cannot move a problem.
    for seed in range(3):
        for problem in rs.sample_problems("test", 50, (3, 8), seed):
            assert rs.split_of(problem.digits) == "test"


# -- the tokenizer -----------------------------------------------------------------------------


def test_tokenizer_is_one_token_per_character_also_when_reloaded(toy_tokenizer_dir):
    from transformers import AutoTokenizer

    from siri_verl.lab.toy_reasoner import build_tokenizer

    built = build_tokenizer()
    # A qwen2 model directory makes AutoTokenizer rebuild the tokenizer as Qwen2Tokenizer.
    reloaded = AutoTokenizer.from_pretrained(toy_tokenizer_dir)
    texts = {
        "S10+8=18\n\n": 9,
        "S3+5=8": 6,
        "\n</think>\n\n\\boxed{18}": 7,
        "Question:\nQ35 and a space": 25,
        "<think>\n</think><summary>\n41|5823\n</summary>": 14,
    }
    for text, count in texts.items():
        for tokenizer in (built, reloaded):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert len(ids) == count, (type(tokenizer).__name__, text, tokenizer.convert_ids_to_tokens(ids))
            assert tokenizer.decode(ids) == text
    messages = [{"role": "user", "content": "Q3528"}]
    prompt = reloaded.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<｜Assistant｜><think>\n")
    ids = reloaded(prompt, add_special_tokens=False)["input_ids"]
    assert ids == built(prompt, add_special_tokens=False)["input_ids"] and len(ids) == 10
    # Every id fits the model's embedding.
    config = json.loads((toy_tokenizer_dir / "config.json").read_text())
    assert len(reloaded) == len(built) <= config["vocab_size"]


# -- the rule summariser and the cold start ----------------------------------------------------


def test_rule_summary_is_the_state_after_the_reasoning():
    from siri_verl.inftythink.coldstart import FIRST_PROMPT, UPDATE_PROMPT

    first = FIRST_PROMPT.format(question="Q3528104", segment="S3+5=8\n\nW3+5=8\n\nS8+2=10")
    assert rs.summary_of(first) == "10|8104"
    update = UPDATE_PROMPT.format(question="Q3528104", summary="10|8104", segment="S10+8=18\n\nS18+1=19\n\nW18+1=19")
    assert rs.summary_of(update) == "19|04"
    last = UPDATE_PROMPT.format(question="Q3528104", summary="19|04", segment="S19+0=19\n\nS19+4=23")
    assert rs.summary_of(last) == "23|"
    with pytest.raises(ValueError, match="does not add the next digit"):
        rs.summary_of(FIRST_PROMPT.format(question="Q3528", segment="S3+2=5"))
    with pytest.raises(ValueError, match="question line"):
        rs.summary_of("Question:\nWhat is 3+5?\n\nReasoning so far:\nS3+5=8")


def test_toy_rule_backend_answers_chat_rendered_requests(toy_tokenizer_dir):
    from siri_verl.generation import SamplingSettings
    from siri_verl.generation_backends import make_backend
    from siri_verl.inftythink.coldstart import FIRST_PROMPT, summarise

    backend = make_backend("toy_rule", str(toy_tokenizer_dir))
    requests = [FIRST_PROMPT.format(question="Q3528", segment="S3+5=8\n\nS8+2=10")]
    assert summarise(backend, requests, max_retries=0) == ["10|8"]
    prompt = backend.tokenizer(requests[0], add_special_tokens=False)["input_ids"]
    (full,) = backend.generate([prompt], 1024, SamplingSettings())
    (cut,) = backend.generate([prompt], 2, SamplingSettings())
    assert (full.text, full.finish_reason, full.token_ids[-1]) == ("10|8", "stop", backend.tokenizer.eos_token_id)
    assert cut.finish_reason == "length" and len(cut.token_ids) == 2
    with pytest.raises(ValueError, match="question line"):
        backend.generate([backend.tokenizer("no question here")["input_ids"]], 8, SamplingSettings())


def test_coldstart_cuts_toy_traces_into_valid_segments(small_dataset, toy_tokenizer_dir, tmp_path):
    """``python -m siri_verl.inftythink.coldstart --backend toy_rule`` on toy long traces: every
    segment parses, holds at most η reasoning tokens, and its summary is the true state."""
    from transformers import AutoTokenizer

    from siri_verl.inftythink import coldstart

    eta = 48
    args = coldstart.parse_args(
        ["--input", str(small_dataset["long_sums_traces"]), "--out", str(tmp_path / "out"), "--backend", "toy_rule",
         "--summarizer", str(toy_tokenizer_dir), "--tokenizer", str(toy_tokenizer_dir), "--eta", str(eta)]
    )  # fmt: skip
    summary = coldstart.run(args)
    assert summary["malformed"] == summary["failed"] == 0
    tokenizer = AutoTokenizer.from_pretrained(toy_tokenizer_dir)
    traces = [json.loads(line) for line in small_dataset["long_sums_traces"].read_text().splitlines()]
    frame = pd.read_parquet(tmp_path / "out" / "train.parquet")
    assert sorted(set(frame.source_index)) == list(range(len(traces)))
    for index, rows in frame.groupby("source_index"):
        problem = SumProblem(tuple(int(d) for d in traces[index]["question"][1:]))
        rows = rows.sort_values("segment_index")
        assert len(rows) >= 2  # every long solution is longer than η
        reasoning, previous = [], None
        for row in rows.itertuples():
            example = {"messages": list(row.messages), "assistant_prefix": row.assistant_prefix}
            check_layout(tokenizer, example)
            assert row.messages[0]["content"] == problem.question
            history = "" if previous is None else f"<history>\n{previous}\n</history>\n"
            assert row.assistant_prefix == history + "<think>\n"
            segment = parse_segment(row.messages[1]["content"][len(row.assistant_prefix) :])
            assert len(tokenizer(segment.think, add_special_tokens=False)["input_ids"]) <= eta, segment.think
            reasoning.append(segment.think)
            added = 1 + sum(p.startswith("S") for r in reasoning for p in r.split("\n\n"))  # digits added so far
            if row.segment_index < row.num_segments - 1:
                assert segment.kind == "summary"
                left = "".join(map(str, problem.digits[added:]))
                assert segment.summary == f"{sum(problem.digits[:added])}|{left}"
                previous = segment.summary
            else:
                assert segment.kind == "conclusion" and segment.answer_text == problem.conclusion
        think = traces[index]["trace"].removeprefix("<think>\n").split("\n</think>")[0]
        assert "\n\n".join(reasoning) == think


def test_eval_takes_the_running_sums_test_split_by_asset_name():
    """``python -m siri_verl.eval benchmarks=[running_sums_test]``: benchmarks are looked up
    among the registered assets before ``<data_dir>/<name>.parquet``."""
    from siri_verl.eval.run import benchmark_file, load_problems

    problems = load_problems(benchmark_file("running_sums_test", "/nonexistent"), None)
    assert len(problems) == RunningSumsSpec().test_size
    assert {p.data_source for p in problems} == {rs.DATA_SOURCE}
    assert all(rs.split_of(tuple(int(d) for d in p.question[1:])) == "test" for p in problems)
    long = load_problems(benchmark_file("long_sums_test", "/nonexistent"), None)
    assert {p.data_source for p in long} == {rs.LONG_DATA_SOURCE}
    assert load_problems(benchmark_file("toy", "/nonexistent"), None)[0].data_source == "toy_addition"
    with pytest.raises(FileNotFoundError, match="prepare aime24"):
        benchmark_file("aime24", "/nonexistent")


def test_the_study_draws_digits_1_to_4_and_its_sft_rows_cover_every_difficulty():
    spec = RunningSumsSpec()
    problems = rs.sample_problems("test", 200, spec.num_digits, 0, spec.digit_range)
    assert {d for p in problems for d in p.digits} == {1, 2, 3, 4}
    # the train split holds ~200 distinct 4-digit problems: a draw with repeats keeps k uniform
    sft = rs.sample_problems("train", 3000, spec.num_digits, 1, spec.digit_range, distinct=False)
    counts = [sum(len(p.digits) == k for p in sft) for k in range(4, 10)]
    assert min(counts) > 0.7 * max(counts), counts
    assert all(p.split == "train" for p in sft)
    with pytest.raises(ValueError, match="digit_range"):
        rs.sample_problems("test", 5, (4, 9), 0, (0, 10))
