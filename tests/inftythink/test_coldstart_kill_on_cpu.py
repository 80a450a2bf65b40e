"""Under a fault: ``kill -9`` of the InftyThink+ cold start mid-write, then the same command again.

A real ``python -m siri_verl.inftythink.coldstart`` (the toy study's rule summariser, ``toy_rule``:
no model, so the test is fast; one row per backend call, so progress is written row by row) is
SIGKILLed once some rows are in ``progress.jsonl``; the kill is made to land mid-line. The rerun
must finish every row once: no row lost, none duplicated, and the output is exactly what an
uninterrupted run writes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from siri_verl.lab import running_sums as rs

ROWS = 150


@pytest.fixture(scope="module")
def toy_tokenizer_dir():
    from siri_verl.lab.toy_reasoner import ensure_toy_reasoner_base

    return ensure_toy_reasoner_base()


def coldstart_command(traces, out, tokenizer_dir) -> list[str]:
    return [
        sys.executable, "-m", "siri_verl.inftythink.coldstart", "--input", str(traces), "--out", str(out),
        "--backend", "toy_rule", "--summarizer", str(tokenizer_dir), "--tokenizer", str(tokenizer_dir),
        "--eta", "48", "--batch", "1",
    ]  # fmt: skip


def progress_indices(path) -> list[int]:
    return [json.loads(line)["index"] for line in path.read_text().splitlines()]


def test_kill_9_mid_write_then_rerun_loses_and_duplicates_no_row(tmp_path, toy_tokenizer_dir):
    spec = rs.RunningSumsSpec(
        train_size=1, tune_size=1, test_size=1, sft_size=1, long_train_size=1, long_test_size=1, long_traces_size=ROWS
    )
    traces = rs.write_dataset(tmp_path / "data", spec)["long_sums_traces"]
    out, reference = tmp_path / "out", tmp_path / "reference"
    progress = out / "progress.jsonl"

    victim = subprocess.Popen(
        coldstart_command(traces, out, toy_tokenizer_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while not (progress.exists() and progress.read_text().count("\n") >= 3):
        assert victim.poll() is None, victim.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no progress within 120 s"
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    text = progress.read_text()
    finished_before = text.count("\n")
    assert 3 <= finished_before < ROWS, "the kill should land mid-run"
    if text.endswith("\n"):  # the kill fell between two writes: cut the last line as a mid-write kill would
        progress.write_text(text[: len(text) - len(text.splitlines()[-1]) // 2 - 1])
        finished_before -= 1
    assert not progress.read_text().endswith("\n")

    again = subprocess.run(coldstart_command(traces, out, toy_tokenizer_dir), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "cut off" in again.stderr, again.stderr[-3000:]
    summary = json.loads(again.stderr.split("cold start: ", 1)[1].split(" -> ", 1)[0])
    assert (summary["rows"], summary["resumed"], summary["processed"]) == (ROWS, finished_before, ROWS - finished_before)

    indices = progress_indices(progress)
    assert sorted(indices) == list(range(ROWS)), "a row is lost or written twice"

    uninterrupted = subprocess.run(
        coldstart_command(traces, reference, toy_tokenizer_dir), capture_output=True, text=True, timeout=300
    )
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]
    resumed, whole = pd.read_parquet(out / "train.parquet"), pd.read_parquet(reference / "train.parquet")
    order = ["source_index", "segment_index"]
    resumed, whole = resumed.sort_values(order).reset_index(drop=True), whole.sort_values(order).reset_index(drop=True)
    assert sorted(set(resumed.source_index)) == list(range(ROWS))
    assert resumed.drop(columns="messages").equals(whole.drop(columns="messages"))
    assert [list(m) for m in resumed.messages] == [list(m) for m in whole.messages]
