"""One evaluation: generate n samples per problem, score them, summarise, log to MLflow.

Per benchmark it reports avg@n (pass@1 averaged over n), pass@k, mean and median generated
tokens, truncation rate and mean latency. Generations are appended to
``<out_dir>/generations/<benchmark>.jsonl`` ``chunk`` samples at a time, each chunk fsynced
(``siri_verl.jsonl.JsonlLog``); a rerun with the same ``out_dir`` skips every (problem, sample)
already there, so an interrupted eval loses no finished work: a line cut off by a kill is
dropped and generated again, and a full disk stops the eval naming the file, with every
chunk written before kept.

The MLflow eval run logs its final figures once, at the end (``eval/<benchmark>/acc`` as a
fraction and ``eval/<benchmark>/mean_tokens``, the names ``siri_verl.tracking.pareto`` reads),
and links to the training run and checkpoint step it evaluated through tags. Every run records
its eval protocol (n, sampling, token budget, prompt template, answer checker, backend and its
version, each data file's hash: ``siri_verl/eval/eval_protocol.py``) as MLflow params ``protocol/*``,
at the head of ``summary.md`` and under ``protocol`` in ``summary.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from siri_verl.assets import asset_or_path, is_asset, resolve_asset
from siri_verl.eval.eval_protocol import PARAM_PREFIX, eval_protocol, protocol_markdown
from siri_verl.eval.metrics import (
    avg_at_n,
    delta_cr_acc,
    pass_at_k_dataset,
    token_stats,
)
from siri_verl.generation import GenerationBackend, SamplingSettings
from siri_verl.generation_backends import make_backend
from siri_verl.jsonl import JsonlLog, read_log
from siri_verl.prompt_render import render_prompt_ids
from siri_verl.request_budget import eos_token_ids, used_whole_budget
from siri_verl.reward import compute_score
from siri_verl.reward.checker import CHECKER_ERROR


@dataclass(frozen=True)
class Problem:
    index: int
    question: str
    messages: list
    ground_truth: str
    data_source: str


def benchmark_file(name: str, data_dir: str) -> Path:
    """A built data asset by name (``toy``, ``running_sums_test``, ``long_sums_test``: see
    ``siri_verl/assets.py``), else ``<data_dir>/<name>.parquet`` from ``prepare``."""
    if is_asset(name):
        return Path(resolve_asset(name))
    path = Path(data_dir).expanduser() / f"{name}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `python -m siri_verl.data prepare {name} --out {data_dir}`")
    return path


def load_problems(path: Path, limit: int | None) -> list[Problem]:
    frame = pd.read_parquet(path)
    problems = []
    for index, row in enumerate(frame.itertuples(index=False)):
        messages = [dict(m) for m in row.prompt]
        problems.append(Problem(index, messages[-1]["content"], messages, str(row.reward_model["ground_truth"]), row.data_source))
    return problems[:limit] if limit else problems


# -- generation modes: (backend, problems, cfg) -> one record per problem, in order ----------


def chat_template_kwargs(cfg) -> dict:
    """``apply_chat_template_kwargs`` of the eval config: set it as the training run's
    ``data.apply_chat_template_kwargs`` so that eval prompts are the training prompts."""
    kwargs = cfg.get("apply_chat_template_kwargs") or {}
    return OmegaConf.to_container(kwargs) if isinstance(kwargs, DictConfig) else dict(kwargs)


def _long_mode(backend: GenerationBackend, problems: list[Problem], cfg, settings) -> list[dict]:
    prompts = [render_prompt_ids(backend.tokenizer, p.messages, "", chat_template_kwargs(cfg)) for p in problems]
    completions = backend.generate(prompts, cfg.max_tokens, settings)
    eos = eos_token_ids(backend.tokenizer)
    return [
        {
            "text": c.text,
            "tokens": len(c.token_ids),
            # the training rule (siri_length loop): ran out of its budget without ending
            "truncated": used_whole_budget(c.token_ids, cfg.max_tokens, eos, c.finish_reason),
            "latency_s": c.latency_s,
            "peak_context": len(prompt) + len(c.token_ids),
        }
        for prompt, c in zip(prompts, completions)
    ]


def _inftythink_mode(backend: GenerationBackend, problems: list[Problem], cfg, settings) -> list[dict]:
    from siri_verl.inftythink.inference import run_iterative_batch

    outcomes = run_iterative_batch(
        backend, [p.question for p in problems], cfg.inftythink.max_segments, cfg.inftythink.segment_cap, settings,
        chat_template_kwargs(cfg),
    )
    return [
        {
            "text": o.final_text,
            "tokens": o.trajectory.total_tokens,
            "truncated": o.trajectory.stop_reason.value != "conclusion",
            "latency_s": o.latency_s,
            "segments": o.trajectory.num_segments,
            "stop_reason": o.trajectory.stop_reason.value,
            "peak_context": o.peak_context,
        }
        for o in outcomes
    ]


MODES: dict[str, Callable] = {"long": _long_mode, "inftythink": _inftythink_mode}


# -- prompt layouts: (tokenizer, question) -> the prompts a mode builds, as token ids ----------
# The eval protocol hashes them for a probe question (siri_verl/eval/eval_protocol.py).

PROBE_QUESTION = "What is 1 + 1? Put the final answer in \\boxed{}."


def _long_layout(tokenizer, question: str, kwargs: dict | None = None) -> list[list[int]]:
    return [render_prompt_ids(tokenizer, [{"role": "user", "content": question}], "", kwargs)]


def _inftythink_layout(tokenizer, question: str, kwargs: dict | None = None) -> list[list[int]]:
    from siri_verl.inftythink.protocol import build_segment_messages

    # The first segment, and a later one that carries the previous summary as history.
    return [render_prompt_ids(tokenizer, *build_segment_messages(question, summary), kwargs) for summary in (None, "1 + 1 = 2")]


PROMPT_LAYOUTS: dict[str, Callable] = {"long": _long_layout, "inftythink": _inftythink_layout}


def generated(path: Path, warn: bool = True) -> dict[tuple[int, int], dict]:
    """The generation records in ``path`` by (problem, sample); the first of duplicates wins.

    Lines that are not records (cut off by a kill, or glued together by older versions) are
    reported on stderr with ``warn``, and their samples generated again.
    """
    contents = read_log(path)
    problems = list(contents.problems)
    records: dict[tuple[int, int], dict] = {}
    for record in contents.records:
        try:
            records.setdefault((record["problem"], record["sample"]), record)
        except (KeyError, TypeError):
            problems.append(f"{path}: a line without problem/sample: {str(record)[:200]}")
    for problem in problems if warn else ():
        print(f"WARNING {problem}; its sample is generated again", file=sys.stderr)
    return records


def evaluate_benchmark(backend, name: str, cfg, settings, out_dir: Path) -> dict:
    problems = load_problems(benchmark_file(name, cfg.data_dir), cfg.limit)
    path = out_dir / "generations" / f"{name}.jsonl"
    done = generated(path)
    todo = [(p, s) for p in problems for s in range(cfg.n) if (p.index, s) not in done]
    generate = MODES[cfg.mode]
    with JsonlLog(path) as log, tqdm(total=len(problems) * cfg.n, initial=len(problems) * cfg.n - len(todo), desc=name) as bar:
        for start in range(0, len(todo), cfg.chunk):
            chunk = todo[start : start + cfg.chunk]
            records = generate(backend, [p for p, _ in chunk], cfg, settings)
            for (problem, sample), record in zip(chunk, records):
                scored = compute_score(problem.data_source, record["text"], problem.ground_truth, {"truncated": record["truncated"]})
                record.update(problem=problem.index, sample=sample, correct=bool(scored["acc"]), pred=scored["pred"], reason=scored["reason"])
            log.append(records)
            bar.update(len(chunk))
    return summarise(path, len(problems), cfg)


def summarise(path: Path, num_problems: int, cfg) -> dict:
    by_problem: dict[int, list[dict]] = {}
    for (problem, sample), record in sorted(generated(path, warn=False).items()):
        if problem < num_problems and sample < cfg.n:
            by_problem.setdefault(problem, []).append(record)
    records = [r for rs in by_problem.values() for r in rs]
    correct = [[r["correct"] for r in rs] for _, rs in sorted(by_problem.items())]
    summary = {
        "problems": len(by_problem),
        "samples": len(records),
        f"avg@{cfg.n}": avg_at_n(correct),
        **{f"pass@{k}": pass_at_k_dataset(correct, k) for k in cfg.pass_k if k <= cfg.n},
        **token_stats(
            [r["tokens"] for r in records],
            truncated=[r["truncated"] for r in records],
            latencies_s=[r["latency_s"] for r in records],
        ),
    }
    # An answer the checker could not check scores as wrong; never let that pass unseen.
    summary["checker_errors"] = sum(r.get("reason") == CHECKER_ERROR for r in records)
    if summary["checker_errors"]:
        print(f"WARNING {path}: {summary['checker_errors']} of {len(records)} samples could not be checked "
              f"(reason {CHECKER_ERROR!r}); avg@{cfg.n} and pass@k count them as wrong", file=sys.stderr)
    if records and "segments" in records[0]:
        summary["mean_segments"] = statistics.fmean(r["segments"] for r in records)
    peaks = [r["peak_context"] for r in records if "peak_context" in r]  # absent in older files
    if peaks:
        summary["max_peak_context"] = max(peaks)
        summary["mean_peak_context"] = statistics.fmean(peaks)
    return summary


def summary_markdown(results: dict[str, dict], cfg, relative: dict | None) -> str:
    """The results table (printed at the end; ``summary.md`` has the protocol above it)."""
    columns = [f"avg@{cfg.n}", *[f"pass@{k}" for k in cfg.pass_k if k <= cfg.n], "mean_tokens", "median_tokens", "truncation_rate", "mean_latency_s"]
    lines = [
        f"model `{cfg.model}`, mode {cfg.mode}, backend {cfg.backend}, n={cfg.n}, temperature={cfg.temperature}, "
        f"top_p={cfg.top_p}, max_tokens={cfg.max_tokens}",
        "",
        "| benchmark | problems | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 2) + "|",
    ]
    for name, summary in results.items():
        cells = [f"{summary[c]:.4g}" if c in summary else "-" for c in columns]
        lines.append(f"| {name} | {summary['problems']} | " + " | ".join(cells) + " |")
    if relative:
        lines += ["", f"Against baseline: ΔCRAcc = {relative['delta_cr_acc']:.3f}", "", "| benchmark | Δacc (rel) | Δtokens (rel) |", "|---|---|---|"]
        for name in results:
            lines.append(f"| {name} | {relative['rel_acc'][name]:+.1%} | {relative['rel_tokens'][name]:+.1%} |")
    return "\n".join(lines) + "\n"


def against_baseline(results: dict[str, dict], baseline_path: str, cfg) -> dict:
    baseline = json.loads(Path(baseline_path).read_text())["benchmarks"]
    key = f"avg@{cfg.n}"
    figure = delta_cr_acc(
        {b: r[key] for b, r in results.items()},
        {b: r["mean_tokens"] for b, r in results.items()},
        {b: baseline[b][next(k for k in baseline[b] if k.startswith("avg@"))] for b in results},
        {b: baseline[b]["mean_tokens"] for b in results},
    )
    return {"delta_cr_acc": figure.value, "rel_acc": figure.rel_acc, "rel_tokens": figure.rel_tokens}


def run_eval(cfg: DictConfig) -> dict:
    if cfg.mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {cfg.mode!r}")
    out_dir = Path(cfg.out_dir)
    model = asset_or_path(cfg.model)
    backend = make_backend(cfg.backend, model, seed=cfg.seed, **cfg.backend_options)
    settings = SamplingSettings(temperature=cfg.temperature, top_p=cfg.top_p, top_k=cfg.top_k)
    protocol = eval_protocol(
        cfg,
        backend,
        PROMPT_LAYOUTS[cfg.mode](backend.tokenizer, PROBE_QUESTION, chat_template_kwargs(cfg)),
        {name: benchmark_file(name, cfg.data_dir) for name in cfg.benchmarks},
    )
    results = {name: evaluate_benchmark(backend, name, cfg, settings, out_dir) for name in cfg.benchmarks}
    relative = against_baseline(results, cfg.baseline, cfg) if cfg.baseline else None
    report = {"model": cfg.model, "mode": cfg.mode, "n": cfg.n, "protocol": protocol, "benchmarks": results, "relative": relative}
    (out_dir / "summary.json").write_text(json.dumps(report, indent=2))
    table = summary_markdown(results, cfg, relative)
    (out_dir / "summary.md").write_text(protocol_markdown(protocol) + "\n## Results\n\n" + table)
    print(table)
    log_eval_run(cfg, results, relative, out_dir, protocol)
    return report


def log_eval_run(cfg, results: dict, relative: dict | None, out_dir: Path, protocol: dict[str, str]) -> None:
    import mlflow

    from siri_verl.tracking.pareto import EVAL_ACC_METRIC, EVAL_TOKENS_METRIC
    from siri_verl.tracking.runs import experiment_id, tracking_client
    from siri_verl.tracking.tracking_uri import absolute_tracking_uri

    client = tracking_client(absolute_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or cfg.mlflow.tracking_uri))
    experiment = experiment_id(client, cfg.mlflow.experiment)
    tags = {"siri_verl.kind": "eval", "siri_verl.model": str(cfg.model), "siri_verl.mode": cfg.mode}
    if cfg.mlflow.train_run_id:
        tags["siri_verl.train_run_id"] = str(cfg.mlflow.train_run_id)
    if cfg.mlflow.checkpoint_step is not None:
        tags["siri_verl.checkpoint_step"] = str(cfg.mlflow.checkpoint_step)
    run = client.create_run(experiment, run_name=cfg.mlflow.run_name or Path(str(cfg.model)).name, tags=tags)
    params = {key: cfg[key] for key in ("n", "temperature", "top_p", "max_tokens", "mode", "backend", "limit")}
    params.update({PARAM_PREFIX + key: value for key, value in protocol.items()})
    client.log_batch(run.info.run_id, params=[mlflow.entities.Param(key, str(value)) for key, value in params.items()])
    metrics, now = {}, int(time.time() * 1000)
    for name, summary in results.items():
        metrics[EVAL_ACC_METRIC.format(benchmark=name)] = summary[f"avg@{cfg.n}"]
        metrics[EVAL_TOKENS_METRIC.format(benchmark=name)] = summary["mean_tokens"]
        for key, value in summary.items():
            if key not in ("problems", "samples"):
                metrics[f"eval/{name}/{key.replace('@', '_at_')}"] = value
    if relative:
        metrics["eval/delta_cr_acc"] = relative["delta_cr_acc"]
    client.log_batch(run.info.run_id, metrics=[mlflow.entities.Metric(k, float(v), now, 0) for k, v in metrics.items()])
    client.log_artifact(run.info.run_id, str(out_dir / "summary.md"))
    client.set_terminated(run.info.run_id)
    print(f"MLflow eval run {run.info.run_id} in experiment {cfg.mlflow.experiment}")
