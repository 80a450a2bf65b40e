"""Fault injection for the answer checker: any caller works, and a failure is never a silent 0.

Real processes throughout: callers are scripts run by a fresh interpreter (from stdin and from
a file, without a ``__main__`` guard), workers are really SIGKILLed mid-item, and workers that
cannot start are made so by a real address-space limit (``SIRI_VERL_REWARD_MEMORY_MB``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from omegaconf import OmegaConf

from siri_verl.reward import deadline
from siri_verl.reward.checker import (
    CHECKER_ERROR,
    WARM_UP_ITEM,
    _verdict,
    decide_fast,
    math_verify_check,
    math_verify_pool,
    warm_up,
)
from siri_verl.reward.deadline import DeadlinePool

# Only math-verify decides this item (decide_fast leaves it open); it is correct.
HARD_PRED, HARD_GOLD = "2\\pi", "\\pi*2"
RESPONSE = f"</think>The answer is \\boxed{{{HARD_PRED}}}."
MARKER = "caller-script-body-ran"
# A limit the interpreter starts under but math-verify's imports do not fit in.
NO_START_MEMORY_MB = "50"


def _caller_script() -> str:
    """A user's eval script without a ``__main__`` guard: a marker at import, then two checks
    of the hard item, one from the main thread and one from another thread."""
    return "\n".join([
        "import json, threading",
        f"print({MARKER!r}, flush=True)",
        "from siri_verl.reward import compute_score, score_batch",
        f"item = ('faults', {RESPONSE!r}, {HARD_GOLD!r})",
        "reasons = {'main': compute_score(*item)['reason'], 'thread': []}",
        "def from_a_thread():",
        "    reasons['thread'] += [compute_score(*item)['reason'] for _ in range(2)]",
        "thread = threading.Thread(target=from_a_thread)",
        "thread.start(); thread.join()",
        "reasons['batch'] = [r['reason'] for r in score_batch([item, item], num_workers=2)]",
        "print('REASONS ' + json.dumps(reasons), flush=True)",
    ])


def _run(args: list[str], cwd: Path, stdin: str | None = None, **env) -> subprocess.CompletedProcess:
    done = subprocess.run(args, input=stdin, cwd=cwd, capture_output=True, text=True, timeout=240,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _reasons(done: subprocess.CompletedProcess) -> dict:
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("REASONS "))
    return json.loads(line[len("REASONS "):])


def test_the_items_used_here_need_math_verify():
    assert decide_fast(HARD_PRED, HARD_GOLD) == (False, None)
    assert decide_fast(*WARM_UP_ITEM) == (False, None)
    assert math_verify_check(HARD_PRED, HARD_GOLD) is True


def test_script_from_stdin_without_guard_gets_real_verdicts(tmp_path: Path):
    done = _run([sys.executable, "-"], tmp_path, stdin=_caller_script())
    assert done.stdout.count(MARKER) == 1
    assert _reasons(done) == {"main": "correct", "thread": ["correct", "correct"], "batch": ["correct", "correct"]}
    assert "Traceback" not in done.stderr


def test_script_file_without_guard_runs_once(tmp_path: Path):
    script = tmp_path / "my_eval.py"
    script.write_text(_caller_script())
    done = _run([sys.executable, str(script)], tmp_path)
    assert done.stdout.count(MARKER) == 1, done.stdout
    assert _reasons(done) == {"main": "correct", "thread": ["correct", "correct"], "batch": ["correct", "correct"]}


def hang_on_first_call(flag: str, pred: str, gold: str) -> bool:
    """Run in a worker: the first call (no ``flag`` file yet) records its pid there and hangs;
    later calls check the item."""
    if not os.path.exists(flag):
        Path(flag + ".tmp").write_text(str(os.getpid()))
        os.replace(flag + ".tmp", flag)
        time.sleep(600)
    return math_verify_check(pred, gold)


def kill_own_process(*args) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_worker_killed_mid_item_is_retried_on_a_fresh_worker(tmp_path: Path):
    flag = tmp_path / "working"
    pool = DeadlinePool(1)
    try:
        out: dict = {}
        item = (str(flag), HARD_PRED, HARD_GOLD)
        caller = threading.Thread(target=lambda: out.update(result=pool.run(hang_on_first_call, item, 120)))
        caller.start()
        deadline_at = time.monotonic() + 120
        while not flag.exists():
            assert time.monotonic() < deadline_at, "the worker never took the item"
            time.sleep(0.05)
        victim = int(flag.read_text())
        os.kill(victim, signal.SIGKILL)
        caller.join(180)
        assert out["result"] == ("ok", True)
        assert _verdict(*out["result"]) == (True, "correct")
        assert victim not in pool.pids()
    finally:
        pool.close()


def test_item_that_kills_every_worker_is_a_checker_error_and_never_runs_here(monkeypatch, caplog):
    monkeypatch.setattr(deadline, "_warned", set())
    pool = DeadlinePool(1)
    try:
        status, why = pool.run(kill_own_process, (), 60)  # on the main thread: this process survives
    finally:
        pool.close()
    assert status == "error" and why.count("SIGKILL") == 2, why  # tried, and retried once
    with caplog.at_level(logging.WARNING, logger="siri_verl.reward"):
        assert _verdict(status, why) == (False, CHECKER_ERROR)
        assert _verdict(status, why) == (False, CHECKER_ERROR)
    warnings = [r for r in caplog.records if CHECKER_ERROR in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


def test_workers_that_cannot_start(tmp_path: Path):
    """Off the main thread no deadline can bound the check in-process: checker_error, warned
    once. On the main thread (one item, and a batch) it is checked here under SIGALRM."""
    done = _run([sys.executable, "-"], tmp_path, stdin=_caller_script(), SIRI_VERL_REWARD_MEMORY_MB=NO_START_MEMORY_MB)
    expected = {"main": "correct", "thread": [CHECKER_ERROR, CHECKER_ERROR], "batch": ["correct", "correct"]}
    assert _reasons(done) == expected
    assert done.stderr.count(f"reason {CHECKER_ERROR!r}") == 1, done.stderr
    assert done.stderr.count("Checking in this process instead") == 1, done.stderr
    assert "MemoryError" in done.stderr


def sleep_then_ready() -> None:
    time.sleep(3)


def test_deadline_covers_the_check_not_the_warm_up():
    pool = DeadlinePool(1, warm_up=sleep_then_ready)
    try:
        assert pool.run(math_verify_check, (HARD_PRED, HARD_GOLD), 2.0) == ("ok", True)
    finally:
        pool.close()
    warm_up()  # the checker's own warm-up is a real parse-and-verify that must succeed
    assert math_verify_pool()._warm_up is warm_up


def test_eval_summary_counts_checker_errors_and_warns(tmp_path: Path, capsys):
    from siri_verl.eval.run import summarise

    path = tmp_path / "bench.jsonl"
    rows = [(0, 0, True, "correct"), (0, 1, False, CHECKER_ERROR), (1, 0, False, "wrong"), (1, 1, False, CHECKER_ERROR)]
    fields = {"tokens": 5, "truncated": False, "latency_s": 0.1}
    path.write_text("".join(
        json.dumps({"problem": p, "sample": s, "correct": c, "reason": r, **fields}) + "\n" for p, s, c, r in rows
    ))
    summary = summarise(path, 2, OmegaConf.create({"n": 2, "pass_k": [1]}))
    assert summary["checker_errors"] == 2
    assert f"WARNING {path}: 2 of 4 samples could not be checked" in capsys.readouterr().err
