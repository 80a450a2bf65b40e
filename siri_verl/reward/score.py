"""verl reward entry points: ``compute_score`` (one response) and ``score_batch`` (many, in parallel).

Recipes do not name this module: each gets its reward from its agent loop's config
(``conf/agent_loop/*.yaml``; tests/reward/test_reward_path_on_cpu.py checks the pairing). This is the answer
check under every one of those rewards: SIRI's (``siri_verl.siri.siri_reward``) and InftyThink's
(``siri_verl.inftythink.inftythink_reward``) call :func:`compute_score`, and verl's own
``single_turn_agent`` loop is scored by it directly (``pkg://siri_verl.reward``).
``compute_score`` has the signature of verl's custom reward function (NaiveRewardManager's);
``compute_score_batch`` that of BatchRewardManager. Every result is a dict with ``score``
(1.0 / 0.0), ``acc``, ``pred`` (the extracted answer or None) and ``reason`` (``correct``,
``wrong``, ``no_answer``, ``truncated``, ``timeout`` or ``checker_error``). Nothing here raises:
a bad row yields a reason, not an exception.

``checker_error`` is not a verdict: no worker could run math-verify on the answer, even after a
retry on a fresh worker (see ``deadline.py``). It scores 0, since there is no better number for
training, is warned about once per process (``logging``), and is counted apart: per training
step as ``reward/checker_errors`` (``siri_verl/trainer.py``), per benchmark as
``checker_errors`` in the eval summary.

Configuration per call, from keyword arguments (verl's ``reward_kwargs``) or ``extra_info``:
``think_end`` (marker ending the reasoning; None to read the whole response),
``require_think_end`` (a response without the marker has no answer), ``truncated`` (the
response hit the length cap: scored 0), ``timeout_s`` (deadline for the math-verify path).
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

from siri_verl.reward import extract
from siri_verl.reward.checker import (
    DEFAULT_TIMEOUT_S,
    _verdict,
    decide_fast,
    gold_to_str,
    math_verify_check,
    math_verify_pool,
)


def _option(name: str, extra_info: dict | None, kwargs: dict, default: Any) -> Any:
    if isinstance(extra_info, dict) and name in extra_info:
        return extra_info[name]
    return kwargs.get(name, default)


def _result(acc: bool, pred: str | None, reason: str) -> dict:
    return {"score": 1.0 if acc else 0.0, "acc": bool(acc), "pred": pred, "reason": reason}


def _scored(status: str, value, pred: str | None) -> dict:
    acc, reason = _verdict(status, value)
    return _result(acc, pred, reason)


def _prepare(solution_str, ground_truth, extra_info, kwargs) -> tuple[dict | None, str | None, str]:
    """Extraction and the in-process fast path: (final result or None, pred, gold string)."""
    try:
        gold = gold_to_str(ground_truth)
        think_end = _option("think_end", extra_info, kwargs, extract.THINK_END)
        require = bool(_option("require_think_end", extra_info, kwargs, False))
        region = extract.answer_region(str(solution_str), think_end, require)
        pred = extract.last_boxed(region) if region is not None else None
        if _option("truncated", extra_info, kwargs, False):
            return _result(False, pred, "truncated"), pred, gold
        acc, reason = decide_fast(pred, gold)
        return (_result(acc, pred, reason) if reason else None), pred, gold
    except Exception:  # defensive: malformed rows must score, not crash the trainer
        return _result(False, None, "no_answer"), None, ""


def compute_score(data_source=None, solution_str="", ground_truth="", extra_info=None, **kwargs) -> dict:
    """Score one response (verl's custom reward signature). Never raises."""
    done, pred, gold = _prepare(solution_str, ground_truth, extra_info, kwargs)
    if done is not None:
        return done
    timeout_s = float(_option("timeout_s", extra_info, kwargs, DEFAULT_TIMEOUT_S))
    try:
        status, value = math_verify_pool().run(math_verify_check, (pred, gold), timeout_s)
    except Exception as e:
        status, value = "error", str(e)
    return _scored(status, value, pred)


def score_batch(items: Iterable[dict | Sequence], num_workers: int | None = None,
                timeout_s: float = DEFAULT_TIMEOUT_S, **kwargs) -> list[dict]:
    """Score many responses: fast paths in this process, the rest over ``num_workers`` processes.

    ``items`` are dicts with ``solution_str``, ``ground_truth`` and optional ``data_source`` /
    ``extra_info``, or tuples in ``compute_score``'s argument order.
    """
    rows = [it if isinstance(it, dict) else dict(zip(("data_source", "solution_str", "ground_truth", "extra_info"), it))
            for it in items]
    results: list[dict | None] = []
    pending: list[tuple[int, str, str]] = []
    for i, row in enumerate(rows):
        done, pred, gold = _prepare(row.get("solution_str", ""), row.get("ground_truth", ""), row.get("extra_info"), kwargs)
        results.append(done)
        if done is None:
            pending.append((i, pred, gold))
    if pending:
        n = num_workers or int(os.environ.get("SIRI_VERL_REWARD_WORKERS", 0)) or min(4, os.cpu_count() or 1)
        try:
            outcomes = math_verify_pool(n).map(math_verify_check, [(p, g) for _, p, g in pending], timeout_s)
        except Exception as e:
            outcomes = [("error", str(e))] * len(pending)
        for (i, pred, _), (status, value) in zip(pending, outcomes):
            results[i] = _scored(status, value, pred)
    return results  # type: ignore[return-value]


def compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos=None, **kwargs) -> list[dict]:
    """verl BatchRewardManager signature: parallel lists in, one result dict per response out."""
    extra_infos = extra_infos if extra_infos is not None else [None] * len(solution_strs)
    return score_batch(zip(data_sources, solution_strs, ground_truths, extra_infos), **kwargs)
