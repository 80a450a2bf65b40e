"""The InftyThink+ cold start on CPU: traces -> segmented SFT data -> verl's SFT dataset/trainer.

The end-to-end tests use the real tiny offline model as the summariser (CPU backend) and its
tokenizer for η. Its summaries are nonsense, which does not matter to what is checked: layout,
malformed-row reports, resumability, the loss mask on the prefix, and that verl's SFT trainer
trains on the data. Tests named ``*_fake_*`` use a scripted fake backend, said so where used.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pandas as pd
import pytest
from _reference import check_layout
from omegaconf import OmegaConf
from transformers import AutoTokenizer

from siri_verl.assets import asset_or_path
from siri_verl.inftythink import coldstart
from siri_verl.inftythink.protocol import parse_segment
from siri_verl.inftythink.sft_dataset import InftyThinkSFTDataset

GOOD_ROWS = [0, 1, 3, 5]  # rows 2 and 4 are malformed


def _think_trace(copy: int, steps: int) -> str:
    paragraphs = []
    for k in range(1, steps + 1):
        paragraphs.append(f"Step {k}: add {k}, which gives {k * (k + 1) // 2} so far.")
        if k % 2 == 0:
            paragraphs.append(f"so the running total is {k * (k + 1) // 2}.")  # merged into the previous one
    return (
        "<think>\n"
        + "\n\n".join(paragraphs)
        + f"\n</think>\n\nThe sum is \\boxed{{{steps * (steps + 1) // 2}}} (copy {copy})."
    )


def write_traces(path) -> None:
    rows = [
        {"question": "Q0: What is 1+...+5?", "trace": _think_trace(0, 5)},
        {"problem": "Q1: What is 1+...+4?", "response": _think_trace(1, 4)},
        {"question": "Q2: no trace here"},  # malformed: no trace
        # no think block: the last \boxed paragraph is the conclusion
        {"question": "Q3: What is 1+2+3?", "solution": "First add 1 and 2.\n\nThen add 3, giving 6.\n\nSo \\boxed{6}."},
        {"question": "Q4: cut off", "trace": "<think>\nStep 1: add 1.\n\nStep 2: add"},  # malformed: unclosed
        {"question": "Q5: What is 1+...+3?", "trace": _think_trace(5, 3)},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


class SpyBackend:
    """A spy around the real CPU backend: records every prompt it is asked to complete, then
    forwards the call unchanged."""

    def __init__(self, backend):
        self.backend, self.tokenizer, self.prompts = backend, backend.tokenizer, []

    def generate(self, prompts, max_tokens, settings):
        self.prompts.extend(self.tokenizer.decode(p) for p in prompts)
        return self.backend.generate(prompts, max_tokens, settings)


def _args(tmp, tiny_model_path, *extra):
    return coldstart.parse_args(
        ["--input", str(tmp / "traces.jsonl"), "--out", str(tmp / "out"), "--summarizer", "tiny_model",
         "--backend", "cpu", "--tokenizer", str(tiny_model_path), "--eta", "16", "--max-retries", "4", *extra]
    )  # fmt: skip


def _run(args, backend):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        summary = coldstart.run(args, backend=backend)
    return summary, err.getvalue()


@pytest.fixture(scope="module")
def coldstart_run(tmp_path_factory, tiny_model_path):
    """Run on the first 2 rows, simulate a kill in the middle of writing a progress line, then
    rerun on the whole file with the same --out."""
    from siri_verl.generation_backends import make_backend

    tmp = tmp_path_factory.mktemp("coldstart")
    write_traces(tmp / "traces.jsonl")
    spy = SpyBackend(make_backend("cpu", str(tiny_model_path)))
    first, _ = _run(_args(tmp, tiny_model_path, "--limit", "2"), spy)
    first_prompts = list(spy.prompts)
    with (tmp / "out" / "progress.jsonl").open("a") as sink:
        sink.write('{"index": 3, "fingerprint": "cut-o')  # an interrupted write
    second, log = _run(_args(tmp, tiny_model_path), spy)
    return SimpleNamespace(
        tmp=tmp, first=first, second=second, log=log, first_prompts=first_prompts,
        second_prompts=spy.prompts[len(first_prompts) :], tokenizer=spy.tokenizer,
    )  # fmt: skip


def test_every_segment_becomes_an_example_in_the_agent_loop_layout(coldstart_run):
    run = coldstart_run
    frame = pd.read_parquet(run.tmp / "out" / "train.parquet")
    records = coldstart.load_progress(run.tmp / "out" / "progress.jsonl")
    finished = {i for i, r in records.items() if "examples" in r}
    assert finished, f"the tiny summariser never stopped cleanly: {run.log[-2000:]}"
    assert set(frame.source_index) == finished and finished | {i for i, r in records.items() if "failed" in r} == set(
        GOOD_ROWS
    )
    assert len(frame) == run.second["examples"]["train"] == sum(len(records[i]["examples"]) for i in finished)
    assert list(frame.columns) == list(coldstart.COLUMNS)
    for source, group in frame.groupby("source_index"):
        assert sorted(group.segment_index) == list(range(group.num_segments.iloc[0]))
        if source in (0, 1):
            assert group.num_segments.iloc[0] > 1  # η=16 splits these traces
    for row in frame.itertuples():
        user, assistant = row.messages
        assert user["role"] == "user" and user["content"].startswith(f"Q{row.source_index}:")
        assert assistant["content"].startswith(row.assistant_prefix) and row.assistant_prefix.endswith("<think>\n")
        assert ("<history>" in row.assistant_prefix) == (row.segment_index > 0)
        segment = parse_segment(assistant["content"][len(row.assistant_prefix) :])
        last = row.segment_index == row.num_segments - 1
        assert segment.kind == ("conclusion" if last else "summary"), segment.error
        if last:
            assert "\\boxed" in segment.answer_text
        check_layout(
            run.tokenizer, {"messages": list(row.messages), "assistant_prefix": row.assistant_prefix}
        )
    # the history of segment i+1 is the summary of segment i
    for source, group in frame.groupby("source_index"):
        group = group.sort_values("segment_index")
        for before, after in zip(group.itertuples(), list(group.itertuples())[1:]):
            summary = parse_segment(before.messages[1]["content"][len(before.assistant_prefix) :]).summary
            assert after.assistant_prefix == f"<history>\n{summary}\n</history>\n<think>\n"


def test_malformed_rows_are_reported_by_file_and_index(coldstart_run):
    run = coldstart_run
    assert run.second["malformed"] == 2
    path = str(run.tmp / "traces.jsonl")
    assert f"{path}: row 2 skipped: no non-empty trace" in run.log
    assert f"{path}: row 4 skipped: <think> without </think>" in run.log
    assert "2 malformed row(s) skipped" in run.log


def test_a_rerun_summarises_only_the_rows_not_yet_finished(coldstart_run):
    """The prompts seen by the spy backend show which rows each run summarised."""
    run = coldstart_run
    assert run.first["rows"] == 2 and run.first["processed"] == 2
    assert run.second["rows"] == 6 and run.second["resumed"] == 2 and run.second["processed"] == 2
    asked_first = {q for q in ("Q0:", "Q1:", "Q3:", "Q5:") if any(q in p for p in run.first_prompts)}
    asked_second = {q for q in ("Q0:", "Q1:", "Q3:", "Q5:") if any(q in p for p in run.second_prompts)}
    assert asked_first == {"Q0:", "Q1:"}
    # row 3 (whose progress line was cut off) and row 5 were done by the rerun, rows 0 and 1 not again
    assert asked_second == {"Q3:", "Q5:"}
    assert any("Reasoning history:" in p for p in run.first_prompts)  # update prompts for segments 2..


def test_cli_rerun_is_a_noop_and_writes_a_val_split(coldstart_run, tiny_model_path, tmp_path):
    """Through ``python -m``: every row is already in progress.jsonl, so no summariser is built."""
    out = tmp_path / "out"
    shutil.copytree(coldstart_run.tmp / "out", out)
    before = (out / "progress.jsonl").read_text()
    command = [
        sys.executable, "-m", "siri_verl.inftythink.coldstart", "--input", str(coldstart_run.tmp / "traces.jsonl"),
        "--out", str(out), "--summarizer", "/nonexistent", "--backend", "cpu", "--tokenizer", "/nonexistent",
        "--val-fraction", "0.5",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "progress.jsonl").read_text() == before
    train, val = pd.read_parquet(out / "train.parquet"), pd.read_parquet(out / "val.parquet")
    assert len(train) + len(val) == len(pd.read_parquet(coldstart_run.tmp / "out" / "train.parquet"))
    assert not set(train.source_index) & set(val.source_index) and len(val) > 0
    assert not list(out.glob("*.tmp"))
    # --summarizer tiny_model (what a CPU smoke run passes) resolves to the built asset
    assert asset_or_path("tiny_model") == str(tiny_model_path)
    assert asset_or_path("/some/dir") == "/some/dir"


class FakeBackend:
    """A FAKE summariser (scripted, no model): replies "summary N", except that prompts holding
    ``FAIL`` never stop cleanly (finish_reason "length"). Counts its calls."""

    def __init__(self, tokenizer):
        self.tokenizer, self.calls, self.prompts = tokenizer, 0, 0

    def generate(self, prompts, max_tokens, settings):
        self.calls += 1
        self.prompts += len(prompts)
        out = []
        for p in prompts:
            text = self.tokenizer.decode(p)
            failing = "FAIL" in text
            out.append(
                SimpleNamespace(
                    text="" if failing else f"summary {self.prompts}", finish_reason="length" if failing else "stop"
                )
            )
        return out


def test_fake_backend_lockstep_batching_and_failed_rows_are_not_retried_on_rerun(tmp_path, tiny_model_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    # parquet input with custom keys
    rows = [{"query": f"Q{i}: sum", "cot": _think_trace(i, 3 + i)} for i in range(3)]
    rows.append({"query": "FAIL: sum", "cot": _think_trace(9, 4)})
    pd.DataFrame(rows).to_parquet(tmp_path / "traces.parquet")
    args = coldstart.parse_args(
        ["--input", str(tmp_path / "traces.parquet"), "--out", str(tmp_path / "out"), "--tokenizer", str(tiny_model_path),
         "--eta", "16", "--max-retries", "2", "--question-key", "query", "--trace-key", "cot"]
    )  # fmt: skip
    fake = FakeBackend(tokenizer)
    summary, log = _run(args, fake)
    segments = {
        r["index"]: len(r["examples"])
        for r in coldstart.load_progress(tmp_path / "out" / "progress.jsonl").values()
        if "examples" in r
    }
    assert set(segments) == {0, 1, 2} and summary["failed"] == 1
    assert "row 3 failed: summary of segment 1/" in log and "in 3 attempts" in log
    # lock-step: one call per segment position (+2 retry calls for the failing row's first summary)
    assert fake.calls == max(segments.values()) - 1 + 2
    assert fake.prompts == sum(n - 1 for n in segments.values()) + 3
    fake.calls = 0
    summary, _ = _run(args, fake)
    assert fake.calls == 0 and summary["resumed"] == 4 and summary["failed"] == 1


def test_split_trace_rules():
    assert coldstart.split_trace("<think>\nA.\n</think>\n\nSo \\boxed{1}.") == ("A.", "So \\boxed{1}.")
    assert coldstart.split_trace("A.\n</think>\nB") == ("A.", "B")  # opener left to the prompt
    assert coldstart.split_trace("A.\n\nB \\boxed{1}.\n\nC \\boxed{2}.\n  \nThanks.") == (
        "A.\n\nB \\boxed{1}.",
        "C \\boxed{2}.\n\nThanks.",
    )
    assert "no conclusion" in coldstart.split_trace("<think>\nA.\n</think>\n  ")
    assert "no paragraph with \\boxed" in coldstart.split_trace("just text")
    assert "stray <summary>" in coldstart.split_trace("<think>A <summary> B</think> C")
    assert "2 x </think>" in coldstart.split_trace("<think>A</think>B</think>C")


def _dataset(tokenizer, path):
    config = OmegaConf.create(
        {"max_length": 512, "pad_mode": "right", "truncation": "error", "messages_key": "messages"}
    )
    return InftyThinkSFTDataset(str(path), tokenizer, config)


def test_sft_dataset_gives_the_prefix_loss_0_and_the_target_loss_1(tmp_path, tiny_model_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    rows = []
    for previous in (None, "add 1 and 2 to get 3"):
        from siri_verl.inftythink.protocol import build_segment_messages, render_summary_segment

        messages, prefix = build_segment_messages("What is 1+2+3?", previous)
        target = render_summary_segment("Then add 3 to get 6.", "the sum is 6")
        rows.append({"messages": [*messages, {"role": "assistant", "content": prefix + target}], "assistant_prefix": prefix,
                     "segment_index": 0 if previous is None else 1, "num_segments": 3, "source_index": 0})  # fmt: skip
    pd.DataFrame(rows).to_parquet(tmp_path / "train.parquet")
    dataset = _dataset(tokenizer, tmp_path / "train.parquet")
    for i, row in enumerate(rows):
        item = dataset[i]
        ids, mask, attn = item["input_ids"].tolist(), item["loss_mask"].tolist(), item["attention_mask"].tolist()
        ids, mask = ids[: sum(attn)], mask[: sum(attn)]
        first = mask.index(1)
        assert all(m == 1 for m in mask[first:])  # one trained span: the target (and the EOS)
        content = row["messages"][1]["content"]
        target = content[len(row["assistant_prefix"]) :]
        assert tokenizer.decode(ids[first:]) == target + tokenizer.eos_token
        assert tokenizer.decode(ids[:first]).endswith(row["assistant_prefix"])
    # without the subclass, verl trains on the <history> prefix
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    config = OmegaConf.create({"max_length": 512, "pad_mode": "right", "messages_key": "messages"})
    plain = MultiTurnSFTDataset(str(tmp_path / "train.parquet"), tokenizer, config)[1]
    trained = tokenizer.decode([t for t, m in zip(plain["input_ids"].tolist(), plain["loss_mask"].tolist()) if m])
    assert "</history>" in trained


def test_sft_dataset_names_the_row_whose_prefix_is_not_in_the_content(tmp_path, tiny_model_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    rows = [
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>\nA\n</think>\n\nB"}], "assistant_prefix": "<think>\n"},
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>\nA\n</think>\n\nB"}], "assistant_prefix": "<history>\nX\n</history>\n<think>\n"},
    ]  # fmt: skip
    pd.DataFrame(rows).to_parquet(tmp_path / "train.parquet")
    dataset = _dataset(tokenizer, tmp_path / "train.parquet")
    dataset[0]
    with pytest.raises(ValueError, match="row 1: the assistant content does not start with its assistant_prefix"):
        dataset[1]


def test_verl_sft_trainer_trains_on_the_cold_start_data(coldstart_run, tmp_path):
    train = coldstart_run.tmp / "out" / "train.parquet"
    command = [
        sys.executable, "-m", "siri_verl.sft", f"data.train_files={train}", "data.max_length=512",
        f"siri_verl.mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}", f"hydra.run.dir={tmp_path / 'run'}",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID")}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "train/loss" in result.stdout
    (hf_dir,) = (tmp_path / "run" / "checkpoints").glob("global_step_*/huggingface")
    assert (hf_dir / "config.json").exists() and (hf_dir / "model.safetensors").exists()
