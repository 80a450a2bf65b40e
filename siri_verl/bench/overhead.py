"""``python -m siri_verl.bench overhead``: what a CPU job pays before it learns, and what a
training step costs through verl against the same step in plain PyTorch. One invocation:

- ``startup_s``: from launching ``python -m siri_verl recipe=tiny trainer.total_training_steps=1``
  (no validation, no checkpoint) to the start of its first step, i.e. the MLflow time of step
  1's metrics less its ``timing_s/step``; ``job_s`` is that job's whole wall time, shutdown
  included.
- ``step_s``: the median ``timing_s/step`` of ``recipe=toy_demo``'s steps 2..N (step 1 warms
  up): 16 prompts x 8 samples at T = 1 under L(t), one update, through verl's trainer, agent
  loop, reward loop and the ``hf`` rollout server.
- ``reference_step_s``: the median of the same steps written in plain PyTorch, in this process:
  the same warm-start model, the same prompts (toy_demo's training rows), the same sampler
  (``backends/cpu/hf_sampler.generate_batch``) at the same temperature and the same cap L(t)
  of each step, the same answer checker, GRPO advantages over each group of 8, and one AdamW
  update (the recipe's lr, grad clip 1.0) of the token-mean clipped policy loss on the batch.

The last line is ``startup_s=<x> step_s=<y> reference_step_s=<z> ratio=<y/z>``;
``results/overhead.md`` records it, before and after each change, with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TINY_ONE_STEP = (
    "recipe=tiny", "trainer.total_training_steps=1", "trainer.val_before_train=false",
    "trainer.test_freq=-1", "trainer.save_freq=-1",
)  # fmt: skip


def _run_job(overrides: list[str], workdir: Path) -> tuple[float, dict[str, list]]:
    """Run ``python -m siri_verl`` with ``overrides``; returns (wall seconds, MLflow metric histories)."""
    import mlflow

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    command = [sys.executable, "-m", "siri_verl", *overrides, "siri_verl.summary=false", f"hydra.run.dir={workdir / 'hydra'}"]
    started = time.time()
    result = subprocess.run(command, cwd=workdir, env={**os.environ, "MLFLOW_TRACKING_URI": uri}, capture_output=True, text=True)
    wall = time.time() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{(result.stdout + result.stderr)[-4000:]}")
    client = mlflow.MlflowClient(uri)
    (experiment,) = [e for e in client.search_experiments() if e.name != "Default"]
    (run,) = client.search_runs([experiment.experiment_id])
    histories = {key: client.get_metric_history(run.info.run_id, key) for key in run.data.metrics}
    return wall, {"started": started, **histories}


def measure_startup(workdir: Path) -> dict:
    wall, metrics = _run_job(list(TINY_ONE_STEP), workdir)
    (step_time,) = metrics["timing_s/step"]
    first_step_started = step_time.timestamp / 1000.0 - step_time.value
    return {"startup_s": first_step_started - metrics["started"], "job_s": wall}


def measure_verl_steps(steps: int, workdir: Path, extra: list[str]) -> dict:
    overrides = [
        "recipe=toy_demo", f"trainer.total_training_steps={steps}", "trainer.val_before_train=false",
        "trainer.test_freq=-1", "trainer.save_freq=-1", *extra,
    ]  # fmt: skip
    _, metrics = _run_job(overrides, workdir)
    by_step = lambda key: {m.step: m.value for m in metrics.get(key, [])}  # noqa: E731
    step_times = by_step("timing_s/step")
    steady = [step_times[s] for s in sorted(step_times) if s > 1]
    phases = {
        key.removeprefix("timing_s/"): statistics.median(v for s, v in by_step(key).items() if s > 1)
        for key in metrics
        if key.startswith("timing_s/") and len(by_step(key)) > 1
    }
    return {
        "step_s": statistics.median(steady),
        "caps": [by_step("siri/max_response_length")[s] for s in sorted(step_times) if s > 1],
        "response_length": statistics.mean(by_step("response_length/mean")[s] for s in sorted(step_times) if s > 1),
        "phases_s": phases,
    }


def reference_steps(caps: list[float], seed: int = 0) -> dict:
    """The plain-PyTorch GRPO step (module docstring), once per cap; median seconds."""
    import pandas as pd
    import torch
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer

    from siri_verl.assets import resolve_asset
    from siri_verl.backends.cpu.hf_sampler import generate_batch, load_model
    from siri_verl.config import compose_recipe
    from siri_verl.generation import SamplingSettings
    from siri_verl.prompt_render import render_prompt_ids
    from siri_verl.request_budget import eos_token_ids
    from siri_verl.siri.siri_reward import compute_score

    config = compose_recipe("toy_demo")
    rollout = config.actor_rollout_ref.rollout
    prompts_per_step, group = int(config.data.train_batch_size), int(rollout.n)
    lr = float(config.actor_rollout_ref.actor.optim.lr)
    clip_low, clip_high = float(config.actor_rollout_ref.actor.clip_ratio_low), float(config.actor_rollout_ref.actor.clip_ratio_high)
    model_path = OmegaConf.select(config, "actor_rollout_ref.model.path")
    rows = pd.read_parquet(resolve_asset("running_sums_train"))

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = load_model(model_path)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    settings = SamplingSettings(temperature=float(rollout.temperature), top_p=1.0, top_k=-1)
    eos, pad = eos_token_ids(tokenizer, model.generation_config), tokenizer.pad_token_id
    generator = torch.Generator().manual_seed(seed)
    durations = []
    for step, cap in enumerate(caps):
        batch = rows.iloc[step * prompts_per_step : (step + 1) * prompts_per_step]
        started = time.perf_counter()
        prompts = [render_prompt_ids(tokenizer, list(row.prompt)) for row in batch.itertuples() for _ in range(group)]
        model.eval()
        generations = generate_batch(model, prompts, [int(cap)] * len(prompts), settings, eos, pad, generator)
        truths = [row.reward_model["ground_truth"] for row in batch.itertuples() for _ in range(group)]
        sources = [row.data_source for row in batch.itertuples() for _ in range(group)]
        scores = torch.tensor([
            compute_score(source, tokenizer.decode(g.token_ids, skip_special_tokens=True), truth,
                          {"truncated": g.finish_reason == "length"})["score"]
            for g, truth, source in zip(generations, truths, sources)
        ], dtype=torch.float32).view(prompts_per_step, group)  # fmt: skip
        advantages = ((scores - scores.mean(1, keepdim=True)) / (scores.std(1, keepdim=True) + 1e-6)).flatten()

        # (batch, prompt + response) right-padded; the loss is over response tokens only.
        sequences = [p + g.token_ids for p, g in zip(prompts, generations)]
        width = max(map(len, sequences))
        input_ids = torch.full((len(sequences), width), pad, dtype=torch.long)
        loss_mask = torch.zeros((len(sequences), width), dtype=torch.float32)
        old_logprobs = torch.zeros((len(sequences), width), dtype=torch.float32)
        for row, (prompt, generation) in enumerate(zip(prompts, generations)):
            input_ids[row, : len(prompt) + len(generation.token_ids)] = torch.tensor(prompt + generation.token_ids)
            span = slice(len(prompt), len(prompt) + len(generation.token_ids))
            loss_mask[row, span] = 1.0
            old_logprobs[row, span] = torch.tensor(generation.log_probs)
        attention_mask = (loss_mask.cumsum(-1) > 0) | (torch.arange(width)[None, :] < torch.tensor([len(p) for p in prompts])[:, None])
        model.train()
        logits = model(input_ids=input_ids, attention_mask=attention_mask.long()).logits[:, :-1] / settings.temperature
        logprobs = torch.log_softmax(logits.float(), -1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
        mask, old = loss_mask[:, 1:], old_logprobs[:, 1:]
        ratio = torch.exp(logprobs - old)
        surrogate = torch.minimum(ratio * advantages[:, None], ratio.clamp(1 - clip_low, 1 + clip_high) * advantages[:, None])
        loss = -(surrogate * mask).sum() / mask.sum()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        durations.append(time.perf_counter() - started)
    return {"reference_step_s": statistics.median(durations), "reference_steps_s": durations, "threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m siri_verl.bench overhead",
        description="Start-up of a 1-step recipe=tiny job, a steady recipe=toy_demo step through verl, and the same\n"
        "GRPO step in plain PyTorch, in one run (module docstring of siri_verl/bench/overhead.py).",
        epilog="example:\n  python -m siri_verl.bench overhead --steps 5",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=5, help="toy_demo steps through verl; steps 2.. are timed (default %(default)s)")
    parser.add_argument("--skip-startup", action="store_true", help="leave out the 1-step recipe=tiny job")
    parser.add_argument("--caps", type=float, nargs="*", help="only the plain-PyTorch steps, at these caps (no verl job)")
    parser.add_argument("overrides", nargs="*", help="extra overrides for the toy_demo job (e.g. to compare a setting)")
    args = parser.parse_args(argv)
    if args.caps:
        print(json.dumps(reference_steps(args.caps), indent=2))
        return 0
    report: dict = {"cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="siri_verl_overhead_") as tmp:
        if not args.skip_startup:
            (Path(tmp) / "startup").mkdir()
            report.update(measure_startup(Path(tmp) / "startup"))
        (Path(tmp) / "steps").mkdir()
        report.update(measure_verl_steps(args.steps, Path(tmp) / "steps", args.overrides))
    report.update(reference_steps(report["caps"]))
    report["ratio"] = report["step_s"] / report["reference_step_s"]
    print(json.dumps(report, indent=2))
    print(" ".join(f"{key}={report[key]:.2f}" for key in ("startup_s", "step_s", "reference_step_s", "ratio") if key in report))
    return 0
