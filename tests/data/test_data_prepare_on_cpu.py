"""``prepare`` on the local benchmark mirror (row counts as in its README) and on malformed files.

The mirror is read in place from ``../shared/data`` (or ``$SIRI_VERL_SHARED_DATA``); the test
skips when it is absent and never copies it into the repository.
"""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
from _repo import REPO

from siri_verl.data.__main__ import main
from siri_verl.data.prepare import DataSourceUnavailable, expand_names, prepare
from siri_verl.data.sources import BENCHMARKS, SOURCES, last_boxed

SHARED = Path(os.environ.get("SIRI_VERL_SHARED_DATA", REPO.parent / "shared" / "data"))

# Row counts from ../shared/data/README.md.
README_ROWS = {"aime24": 30, "aime25": 30, "amc23": 40, "amc": 83, "math500": 500, "minerva": 272,
               "olympiadbench": 675, "gpqa_diamond": 198}


@pytest.fixture(scope="module")
def shared_dir() -> Path:
    if not (SHARED / "benchmarks").is_dir():
        pytest.skip(f"shared benchmark data not found at {SHARED} (set SIRI_VERL_SHARED_DATA)")
    return SHARED


def test_every_benchmark_has_a_readme_count():
    assert set(BENCHMARKS) == set(README_ROWS)


@pytest.mark.parametrize("name", sorted(README_ROWS))
def test_prepare_benchmark_from_local_mirror(name, shared_dir, tmp_path):
    result = prepare(name, tmp_path, from_dir=shared_dir)
    frame = pd.read_parquet(result.path)
    assert result.path == tmp_path / f"{name}.parquet"
    assert len(frame) == result.rows == README_ROWS[name] - len(result.skipped)
    assert list(frame.columns) == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    assert set(frame["data_source"]) == {name}
    row = frame.iloc[0]
    assert row["prompt"][0]["role"] == "user" and row["prompt"][0]["content"].endswith("within \\boxed{}.")
    assert row["reward_model"]["style"] == "rule" and row["reward_model"]["ground_truth"]
    assert row["extra_info"]["split"] == "test"
    assert list(frame["extra_info"].map(lambda e: e["index"])) == list(range(len(frame)))
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file


def test_answer_shapes(shared_dir, tmp_path):
    def answers(name):
        path = prepare(name, tmp_path, from_dir=shared_dir, limit=5).path
        return list(pd.read_parquet(path)["reward_model"].map(lambda r: r["ground_truth"]))

    assert answers("amc")[0] == "142"  # 142.0 in the file
    assert answers("minerva")[0] == "1.6"  # from the solution's last \boxed{}
    assert answers("olympiadbench")[0] == "2"  # ["2"] in the file
    assert set(answers("gpqa_diamond")) <= set("ABCD")


def test_training_set_from_local_subset_reports_its_bad_rows(shared_dir, tmp_path, capsys):
    result = prepare("deepscaler", tmp_path, from_dir=shared_dir)
    # The local training files are a 975 + 7474 row subset of DeepScaleR; a few MATH rows lack answers.
    assert result.rows + len(result.skipped) == 975 + 7474
    assert all(s.file.endswith("math_train.json") for s in result.skipped)
    assert pd.read_parquet(result.path)["extra_info"].iloc[0]["split"] == "train"
    err = capsys.readouterr().err
    assert err.count("WARNING deepscaler: skipped row") == len(result.skipped)


def test_malformed_file_reports_bad_rows_by_index(tmp_path, capsys):
    mirror = tmp_path / "mirror" / "benchmarks"
    mirror.mkdir(parents=True)
    lines = [
        json.dumps({"problem": "1+1?", "answer": "2"}),
        json.dumps({"problem": "no answer here"}),
        json.dumps({"problem": "   ", "answer": "3"}),
        "{not json",
        json.dumps({"problem": ["a", "list"], "answer": "4"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"problem": "2+2?", "answer": 4.0}),
    ]
    (mirror / "aime24.jsonl").write_text("\n".join(lines) + "\n")
    result = prepare("aime24", tmp_path / "out", from_dir=tmp_path / "mirror")
    assert [s.index for s in result.skipped] == [1, 2, 3, 4, 5]
    reasons = dict((s.index, s.reason) for s in result.skipped)
    assert "answer" in reasons[1] and "empty" in reasons[2] and "JSON" in reasons[3]
    assert "list" in reasons[4] and "object" in reasons[5]
    frame = pd.read_parquet(result.path)
    assert list(frame["reward_model"].map(lambda r: r["ground_truth"])) == ["2", "4"]
    assert list(frame["extra_info"].map(lambda e: e["source_id"])) == ["aime24.jsonl:0", "aime24.jsonl:6"]
    captured = capsys.readouterr()
    assert captured.err.count("WARNING aime24: skipped row") == 5 and "aime24.jsonl" in captured.err
    assert "5 bad rows skipped" in captured.out


def test_last_boxed_matches_nested_braces():
    assert last_boxed(r"so \boxed{1} or rather \boxed{\frac{1}{2}}.") == r"\frac{1}{2}"
    assert last_boxed(r"\boxed{unclosed {") is None
    assert last_boxed("no box") is None


@pytest.mark.parametrize(
    "solution, gold",
    [
        (r"first \boxed{1}, then \boxed{2", "1"),  # an unclosed final box is skipped, not read to the end
        (r"\boxed{\{1, 2\}} is the set", r"\{1, 2\}"),  # escaped braces are literal
        (r"\boxed{\boxed{5}}", "5"),
    ],
)
def test_minerva_gold_is_extracted_as_the_checker_extracts_answers(solution, gold):
    """One ``last_boxed``: a gold read from a solution is what the checker would read from it."""
    from siri_verl.reward.extract import last_boxed as checker_last_boxed

    assert last_boxed is checker_last_boxed
    assert SOURCES["minerva"].extract({"problem": "p", "solution": solution}, 0) == ("p", gold)


def test_hub_failure_suggests_from(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=offline))
    with pytest.raises(DataSourceUnavailable, match="--from"):
        prepare("aime24", tmp_path)


def test_hub_rows_for_gpqa_become_lettered_options(monkeypatch, tmp_path):
    rows = [{"Question": "Which?", "Correct Answer": "right", "Incorrect Answer 1": "w1",
             "Incorrect Answer 2": "w2", "Incorrect Answer 3": "w3"}]
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=lambda *a, **k: rows))
    frame = pd.read_parquet(prepare("gpqa_diamond", tmp_path).path)
    letter = frame["reward_model"].iloc[0]["ground_truth"]
    assert f"{letter}) right" in frame["prompt"].iloc[0][0]["content"]


def test_cli_names(tmp_path, shared_dir):
    assert expand_names(["all"]) == list(SOURCES)
    assert main(["prepare", "nope"]) == 2
    assert main(["prepare", "aime25", "amc23", "--from", str(shared_dir), "--out", str(tmp_path), "--limit", "3"]) == 0
    assert len(pd.read_parquet(tmp_path / "amc23.parquet")) == 3
