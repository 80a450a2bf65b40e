"""``python -m siri_verl.eval`` on the tiny CPU model over 5 toy problems, both modes (no fakes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run_eval(tmp_path, out: str, *overrides: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "siri_verl.eval", "benchmarks=[toy]", "backend=cpu", "n=4", "limit=5",
        f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}", f"hydra.run.dir={tmp_path / out}", *overrides,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)


@pytest.fixture(scope="module")
def evals(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("eval")
    long = run_eval(tmp_path, "long", "model=tiny_model", "max_tokens=40", "temperature=1.0")
    assert long.returncode == 0, long.stderr[-3000:]
    iterative = run_eval(
        tmp_path, "iterative", "model=tiny_inftythink_model", "mode=inftythink", "temperature=1.0",
        "inftythink.max_segments=4", "inftythink.segment_cap=24", f"baseline={tmp_path / 'long' / 'summary.json'}",
    )  # fmt: skip
    assert iterative.returncode == 0, iterative.stderr[-3000:]
    return tmp_path


def test_long_mode_reports_every_figure(evals):
    summary = json.loads((evals / "long" / "summary.json").read_text())["benchmarks"]["toy"]
    assert summary["problems"] == 5 and summary["samples"] == 20
    for key in ("avg@4", "pass@1", "mean_tokens", "median_tokens", "truncation_rate", "mean_latency_s"):
        assert key in summary
    assert 0 <= summary["avg@4"] <= 1 and summary["mean_tokens"] > 0
    lines = (evals / "long" / "generations" / "toy.jsonl").read_text().splitlines()
    assert len(lines) == 20
    assert "| toy | 5 |" in (evals / "long" / "summary.md").read_text()


def test_iterative_mode_runs_segments_and_compares_with_the_baseline(evals):
    report = json.loads((evals / "iterative" / "summary.json").read_text())
    assert report["benchmarks"]["toy"]["mean_segments"] >= 1
    assert "delta_cr_acc" in report["relative"]
    records = [json.loads(line) for line in (evals / "iterative" / "generations" / "toy.jsonl").read_text().splitlines()]
    assert {r["stop_reason"] for r in records} <= {"conclusion", "invalid_format", "max_segments", "token_cap"}


def test_eval_runs_are_logged_to_mlflow_with_final_metrics(evals):
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{evals / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("eval").experiment_id])
    assert len(runs) == 2
    for run in runs:
        assert run.data.tags["siri_verl.kind"] == "eval"
        assert "eval/toy/acc" in run.data.metrics and "eval/toy/mean_tokens" in run.data.metrics


def test_a_rerun_keeps_finished_generations_and_adds_none(evals):
    path = evals / "long" / "generations" / "toy.jsonl"
    before = path.read_text()
    again = run_eval(evals, "long", "model=tiny_model", "max_tokens=40", "temperature=1.0")
    assert again.returncode == 0, again.stderr[-3000:]
    assert path.read_text() == before


# -- faults: a cut-off line, a kill -9, a full disk --------------------------------------------


def fake_long_mode(backend, problems, cfg, settings):
    """A FAKE generation mode (no model): problem i's answer is right for even i, absent for odd i."""
    return [
        {"text": f"\\boxed{{{p.ground_truth}}}" if p.index % 2 == 0 else "no answer", "tokens": 3 + p.index,
         "truncated": False, "latency_s": 0.01, "peak_context": 10}
        for p in problems
    ]  # fmt: skip


def fake_eval(tmp_path, monkeypatch, *, limit=3, n=2, chunk=2):
    """Run ``evaluate_benchmark`` on the toy set with :func:`fake_long_mode`, in process."""
    from omegaconf import OmegaConf

    from siri_verl.eval import run

    monkeypatch.setitem(run.MODES, "long", fake_long_mode)
    cfg = OmegaConf.create(
        {"data_dir": str(tmp_path), "limit": limit, "n": n, "mode": "long", "chunk": chunk, "pass_k": [1, 2]}
    )
    return run.evaluate_benchmark(None, "toy", cfg, None, tmp_path / "out")


def generation_keys(path) -> list[tuple[int, int]]:
    """(problem, sample) of every line; fails on a line that is not a whole record."""
    return [(r["problem"], r["sample"]) for r in map(json.loads, path.read_text().splitlines())]


def test_resume_after_a_cut_off_line_loses_no_sample(tmp_path, monkeypatch):
    path = tmp_path / "out" / "generations" / "toy.jsonl"
    fake_eval(tmp_path, monkeypatch, limit=2)
    text = path.read_text()
    path.write_text(text[: len(text) - len(text.splitlines()[-1]) // 2 - 1])  # a kill mid-write of the last line
    summary = fake_eval(tmp_path, monkeypatch, limit=3)
    keys = generation_keys(path)
    assert sorted(keys) == [(p, s) for p in range(3) for s in range(2)] and len(set(keys)) == len(keys)
    assert summary["problems"] == 3 and summary["samples"] == 6
    assert summary["avg@2"] == pytest.approx(2 / 3)  # problems 0 and 2 right, 1 not


def test_a_full_disk_stops_the_eval_naming_the_file_and_keeps_what_was_written(tmp_path, monkeypatch, disk_full):
    from siri_verl.jsonl import LogWriteError

    path = tmp_path / "out" / "generations" / "toy.jsonl"
    disk_full(budget=600)  # room for the first chunk of 2 records, not the second
    with pytest.raises(LogWriteError, match="No space left on device") as raised:
        fake_eval(tmp_path, monkeypatch, limit=3)
    assert str(path) in str(raised.value)
    assert generation_keys(path) == [(0, 0), (0, 1)]  # whole records only
    monkeypatch.undo()  # space again
    summary = fake_eval(tmp_path, monkeypatch, limit=3)
    assert sorted(generation_keys(path)) == [(p, s) for p in range(3) for s in range(2)]
    assert summary["samples"] == 6


def test_the_eval_command_reports_a_full_disk_without_a_traceback(monkeypatch, capsys, tmp_path):
    import errno

    from siri_verl.eval import __main__ as cli
    from siri_verl.jsonl import LogWriteError

    def full(cfg):
        raise LogWriteError(tmp_path / "toy.jsonl", OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(cli, "run_eval", full)
    monkeypatch.setattr(sys, "argv", ["siri_verl.eval", "model=m", f"hydra.run.dir={tmp_path}"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert f"stopped: could not append to {tmp_path / 'toy.jsonl'}: No space left on device" in err


def test_kill_9_mid_eval_then_rerun_loses_and_duplicates_no_sample(tmp_path):
    """A real eval process (tiny model, one sample per write) killed with SIGKILL once it has
    written some samples; the kill is made to land mid-line; the rerun completes the set."""
    import signal
    import time

    out = tmp_path / "run"
    path = out / "generations" / "toy.jsonl"
    command = [
        sys.executable, "-m", "siri_verl.eval", "benchmarks=[toy]", "backend=cpu", "n=4", "limit=4", "chunk=1",
        "model=tiny_model", "max_tokens=24", "temperature=1.0",
        f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}", f"hydra.run.dir={out}",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    victim = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not (path.exists() and path.read_text().count("\n") >= 3):
        assert victim.poll() is None, victim.stderr.read().decode()[-3000:]
        assert time.time() < deadline, "no generations within 120 s"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    text = path.read_text()
    if text.endswith("\n"):  # the kill fell between two writes: cut the last line as a mid-write kill would
        path.write_text(text[: len(text) - len(text.splitlines()[-1]) // 2 - 1])
    assert not path.read_text().endswith("\n")
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "cut off" in again.stderr
    keys = generation_keys(path)
    assert sorted(keys) == [(p, s) for p in range(4) for s in range(4)] and len(set(keys)) == 16
    summary = json.loads((out / "summary.json").read_text())["benchmarks"]["toy"]
    assert summary["problems"] == 4 and summary["samples"] == 16
