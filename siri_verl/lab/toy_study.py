"""``python -m siri_verl.lab.toy_study``: both papers' experiments at toy scale, on CPU.

The question a researcher asks first is "does it work?". This command answers it with the same
recipes, agent loops, rewards, trainer mode, eval and MLflow code that the GPU recipes use; only
the model (a 1M Qwen2 warm-started through ``python -m siri_verl.sft``), the data (running sums,
``siri_verl/lab/running_sums.py``) and the lengths are scaled down. Steps:

1. **Train** every arm's recipe for every seed with Hydra multiruns of ``python -m siri_verl``
   (``-m recipe=toy_constant,toy_siri_cosine,... siri_verl.seed=S``), ``--jobs`` of them at a
   time: the CPU backend runs each worker on one thread, so two jobs use the two cores of a
   laptop-class machine. The study opens an MLflow run of its own first; every multirun's sweep
   run and every job become its descendants. A rerun of the study skips the jobs that already
   left their final checkpoint, so a killed study loses no finished job.
2. **Evaluate** every arm's checkpoint (the final one, or the last trough for SIRI-low) and
   every phase-end checkpoint a run kept, with ``python -m siri_verl.eval`` under one protocol for
   all arms (``eval_protocol=toy``: n samples per problem at T = 0.6 on the held-out test split),
   ``--jobs`` lanes at a time, each lane's torch on its share of the cores. Rows without training
   (the warm start, the cold start) are evaluated once per seed with that seed's sampling, in one
   lane beside the training (step 1), whose job start-ups leave a core idle. An eval
   that finished (its ``summary.json``) is not run again.
3. **Report** ``results/toy_study.md`` (siri_verl/lab/study_report.py): per arm the mean and
   95% t-interval over seeds of accuracy and tokens (siri_verl/lab/study_statistics.py), ΔCRAcc
   against the warm start, per-call peak context, wall time; the hypotheses H1-H5 with their
   criteria and verdicts (siri_verl/lab/verdicts.py); each arm per seed, the differences no
   hypothesis tests (``study_report.COMPARISONS``) and what the SIRI-side responses did (loops,
   re-checks: siri_verl/lab/response_styles.py); the Pareto plot of all arms and SIRI's L(t)
   against mean response length, both logged on the study's MLflow run.

The arms (recipe, checkpoint, eval setting) are a table in siri_verl/lab/study_arms.py.

``--steps``, ``--limit`` and ``--start-model`` shrink the study (the CI smoke test,
``tests/e2e/test_toy_study_smoke_on_cpu.py``, trains one step of one arm from an untrained model);
the report always states what was run.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from siri_verl.lab.study_arms import ARMS, ARMS_BY_NAME, REPORTED_SEEDS, Arm
from siri_verl.lab.study_eval import evaluate
from siri_verl.lab.study_report import (
    comparisons_markdown,
    follow_markdown,
    per_seed_markdown,
    phase_ends_markdown,
    plot_pareto,
    plot_schedule,
    report_markdown,
    response_styles_markdown,
    schedule_curves,
)

# ------------------------------------------------------------------------------------------
# 1. Training: one Hydra multirun
# ------------------------------------------------------------------------------------------


def job_dir(out: Path, recipe: str, seed: int) -> Path:
    return out / "sweep" / f"{recipe}_seed{seed}"


def final_checkpoint(job: Path) -> Path | None:
    """The HF directory of the job's last saved step, or None if the job never finished."""
    steps = sorted(
        job.glob("checkpoints/global_step_*/actor/huggingface"), key=lambda p: int(p.parts[-3].split("_")[-1])
    )
    return steps[-1] if steps and (job / "summary.json").exists() else None


def run_lanes(tasks: list, lanes: int, run_one) -> list:
    """``run_one(task)`` for every task, ``lanes`` at a time (threads that each wait on a
    subprocess); returns the results in task order. Every task runs even when one fails."""
    results: list = [None] * len(tasks)
    queue = list(enumerate(tasks))
    lock = threading.Lock()

    def lane() -> None:
        while True:
            with lock:
                if not queue:
                    return
                index, task = queue.pop(0)
            try:
                results[index] = run_one(task)
            except BaseException as error:  # reported after every lane has finished
                results[index] = error

    threads = [threading.Thread(target=lane) for _ in range(max(1, min(lanes, len(tasks))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [f"{task}: {result}" for task, result in zip(tasks, results) if isinstance(result, BaseException)]
    if failed:
        raise SystemExit("toy_study: " + "; ".join(failed) + " (rerun the same command to resume)")
    return results


def run_logged(command: list[str], log: Path, cwd: Path, what: str, env: dict[str, str] | None = None) -> None:
    """Run ``command`` (in ``env``, default this process's) with its output in ``log``; raise
    naming the log when it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"toy_study: {what} (log: {log})", flush=True)
    with log.open("a") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        result = subprocess.run(command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {result.returncode}); log: {log}")


def unfinished_jobs(out: Path, recipes: list[str], seeds: list[int]) -> list[tuple[str, int]]:
    """The (recipe, seed) jobs that have not left their final checkpoint yet."""
    return [
        (recipe, seed) for seed in seeds for recipe in recipes if final_checkpoint(job_dir(out, recipe, seed)) is None
    ]


def train(out: Path, recipes: list[str], seeds: list[int], steps: int | None, extra: list[str], jobs: int) -> float:
    """Run the jobs not finished yet, ``jobs`` multiruns at a time; returns wall seconds.

    The unfinished (recipe, seed) jobs are dealt round-robin to the lanes; a lane runs one
    multirun per seed over its recipes (Hydra multirun: one process, job after job).
    """
    started = time.time()
    todo = unfinished_jobs(out, recipes, seeds)
    batches = []
    for lane in range(jobs):
        mine = todo[lane::jobs]
        for seed in dict.fromkeys(seed for _, seed in mine):
            batches.append(([recipe for recipe, s in mine if s == seed], seed, lane))

    threads = lane_threads(jobs)["OMP_NUM_THREADS"]

    def run_batch(batch: tuple[list[str], int, int]) -> None:
        batch_recipes, seed, lane = batch
        command = [
            sys.executable, "-m", "siri_verl", "-m",
            f"recipe={','.join(batch_recipes)}", f"siri_verl.seed={seed}",
            f"hydra.sweep.dir={out / 'sweep'}",
            "hydra.sweep.subdir=${hydra:runtime.choices.recipe}_seed${siri_verl.seed}",
            "siri_verl.summary=false",
            # The FSDP actor's share of the cores (the CPU backend gives it 2 threads for one job).
            f"ray_kwargs.ray_init.runtime_env.env_vars.OMP_NUM_THREADS='{threads}'",
            *([f"trainer.total_training_steps={steps}"] if steps else []),
            *extra,
        ]  # fmt: skip
        run_logged(
            command,
            out / "logs" / f"train_seed{seed}_lane{lane}.log",
            out,
            f"training {','.join(batch_recipes)} seed {seed}",
        )

    run_lanes(batches, jobs, run_batch)
    return time.time() - started


# ------------------------------------------------------------------------------------------
# 2. Evaluation
# ------------------------------------------------------------------------------------------


def checkpoint_of(arm: Arm, job: Path) -> tuple[Path, int]:
    """(HF directory, step) of the checkpoint that stands for ``arm`` in ``job``."""
    final = final_checkpoint(job)
    if final is None:
        raise FileNotFoundError(f"{job}: no finished run (no final checkpoint and summary.json)")
    if arm.checkpoint == "final":
        return final, int(final.parts[-3].split("_")[-1])
    troughs = job_phase_ends(job).troughs
    if not troughs:
        raise ValueError(f"{job}: {arm.name} needs a trough, but the run's schedule has none in its steps")
    kept = job / "checkpoints" / "siri_phase_ends" / f"global_step_{troughs[-1]}" / "actor" / "huggingface"
    if not kept.exists():
        raise FileNotFoundError(f"{kept}: the kept phase-end checkpoint of step {troughs[-1]} is missing")
    return kept, troughs[-1]


def job_phase_ends(job: Path):
    """The troughs and peaks (:class:`~siri_verl.siri.schedule.PhaseEnds`) of the job's schedule
    over its steps, from the config the job ran with."""
    from omegaconf import OmegaConf

    from siri_verl.siri.schedule import build_schedule

    cfg = OmegaConf.load(job / ".hydra" / "config.yaml")
    # resolved in the job's whole config: a constant cap is ${data.max_response_length}
    schedule = build_schedule(OmegaConf.to_container(cfg.schedule, resolve=True))
    return schedule.phase_ends(int(cfg.trainer.total_training_steps))


def kept_phase_ends(job: Path) -> list[tuple[int, Path]]:
    """(step, HF directory) of every phase-end checkpoint the job kept, by step."""
    import re

    found = []
    for hf in job.glob("checkpoints/siri_phase_ends/global_step_*/actor/huggingface"):
        match = re.fullmatch(r"global_step_(\d+)", hf.parts[-3])
        if match:  # a repeat keep (global_step_N.2) is the same step again
            found.append((int(match.group(1)), hf))
    return sorted(found)


# Tuning runs (``--split tune``) measure on the tune split, never the test split that the reported
# runs use; only the SIRI side has one (the InftyThink+ side is not tuned).
TUNE_BENCHMARKS = {"running_sums_test": "running_sums_tune"}


def study_arm(name: str, split: str = "test") -> Arm:
    """The arm ``name`` measured on ``split`` (``test``: as listed; ``tune``: its tune split)."""
    arm = ARMS_BY_NAME[name]
    if split == "test":
        return arm
    if arm.benchmark not in TUNE_BENCHMARKS:
        raise SystemExit(f"toy_study: arm {name!r} has no tune split ({arm.benchmark}); tune the SIRI side only")
    return replace(arm, benchmark=TUNE_BENCHMARKS[arm.benchmark])


def arm_eval_root(out: Path, arm: Arm) -> Path:
    """``<out>/eval/<arm>``: the arm's evals, one ``seed<N>`` directory per seed."""
    return out / "eval" / arm.name.replace(" ", "_").replace(",", "")


def eval_result(arm: Arm, out_dir: Path) -> dict:
    """The arm's benchmark summary that :func:`evaluate` left in ``out_dir``."""
    return json.loads((out_dir / "summary.json").read_text())["benchmarks"][arm.benchmark]


def run_eval_lane(tasks_file: Path) -> None:
    """A lane's evals, one after another in this process (no start-up cost per eval)."""
    for task in json.loads(tasks_file.read_text()):
        print(f"toy_study: evaluating {task['arm']} seed {task['seed']}", flush=True)
        evaluate(study_arm(task["arm"], task.get("split", "test")), task["model"], task["seed"], Path(task["out_dir"]), task["limit"],
                 task["n"], task["tags"], task.get("run_name"))  # fmt: skip


def lane_threads(lanes: int) -> dict[str, str]:
    """Environment giving each of ``lanes`` concurrent eval processes its share of the cores.

    torch sizes its thread pool to every core by default; two such processes on 2 cores spin
    against each other, and the study's evals took 8.6x longer (4 min 40 s against 32 s for the
    same 8 evals in two lanes, measured on this project's 2-core machine).
    """
    threads = str(max(1, (os.cpu_count() or 1) // max(1, lanes)))
    return {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}


def evaluate_all(out: Path, tasks: list[dict], jobs: int, name: str = "eval_lane", beside: int = 0) -> float:
    """Every unfinished eval task, in ``jobs`` lanes of ``python -m siri_verl.lab.toy_study
    --eval-lane`` (logs ``<out>/logs/<name><lane>.log``); returns wall seconds. ``beside``: other
    processes sharing the cores meanwhile (training jobs), counted when the lanes' threads are set."""
    started = time.time()
    todo = [task for task in tasks if not (Path(task["out_dir"]) / "summary.json").exists()]
    lanes = []
    for lane in range(jobs):
        if todo[lane::jobs]:
            path = out / "logs" / f"{name}{lane}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(todo[lane::jobs], indent=1))
            lanes.append(path)

    env = {**os.environ, **lane_threads(len(lanes) + beside)}

    def run_lane(path: Path) -> None:
        command = [sys.executable, "-m", "siri_verl.lab.toy_study", "--eval-lane", str(path)]
        what = f"evaluating {len(json.loads(path.read_text()))} checkpoints"
        run_logged(command, path.with_suffix(".log"), out, what, env)

    run_lanes(lanes, jobs, run_lane)
    return time.time() - started


# ------------------------------------------------------------------------------------------
# The command
# ------------------------------------------------------------------------------------------


def add_wall_time(out: Path, **seconds: float) -> dict[str, float]:
    """Add this invocation's wall seconds to the totals in ``<out>/wall_time.json``; returns the
    totals, so that a study resumed after a kill reports the time of all its invocations."""
    path = out / "wall_time.json"
    totals = json.loads(path.read_text()) if path.exists() else {}
    totals = {key: totals.get(key, 0.0) + value for key, value in seconds.items()}
    path.write_text(json.dumps(totals, indent=2))
    return totals


def _job_summary(job: Path) -> dict:
    path = job / "summary.json"
    return json.loads(path.read_text()) if path.exists() else {}


def open_study_run(tracking_uri: str, out: Path):
    """The study's MLflow run: the one a killed or finished earlier invocation on ``out`` opened
    in this store (``<out>/mlflow_run.json``, the record training jobs keep too), running again,
    or a new one."""
    from siri_verl.tracking.runs import experiment_id, read_run_record, tracking_client, write_run_record

    client = tracking_client(tracking_uri)
    record = read_run_record(out)
    if record and record.get("tracking_uri") == tracking_uri:
        from mlflow.exceptions import MlflowException

        try:
            client.update_run(record["run_id"], status="RUNNING")
            return client, client.get_run(record["run_id"])
        except MlflowException:  # the run was deleted from the store: a new one
            pass
    run = client.create_run(
        experiment_id(client, "toy_study"), run_name=f"toy study {out.name}", tags={"siri_verl.kind": "study"}
    )
    write_run_record(out, {"run_id": run.info.run_id, "tracking_uri": tracking_uri})
    return client, run


def run_study(args: argparse.Namespace) -> dict[str, list[dict]]:
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    tracking_uri = args.mlflow or f"sqlite:///{out / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    arms = [study_arm(name, args.split) for name in (args.arms or [arm.name for arm in ARMS])]
    recipes = sorted({arm.recipe for arm in arms if arm.recipe})
    if args.split == "tune" and set(args.seeds) & set(REPORTED_SEEDS):
        raise SystemExit(f"toy_study: --split tune runs on tuning seeds, not the reported seeds {list(REPORTED_SEEDS)}")

    from siri_verl.tracking.runs import PARENT_RUN_ENV

    client, study_run = open_study_run(tracking_uri, out)
    os.environ[PARENT_RUN_ENV] = study_run.info.run_id

    extra = ["trainer.project_name=toy_study", *args.override]
    study_started = time.time()
    headroom = ""
    if any(arm.side == "siri" for arm in arms):
        headroom = check_headroom(out, args)
    if args.start_model:
        # Smoke runs: every arm starts from (and the untrained rows are) this model.
        start = args.start_model if Path(args.start_model).exists() else f"${{siri_verl_asset:{args.start_model}}}"
        extra.append(f"actor_rollout_ref.model.path={start}")

    def eval_task(arm: Arm, seed: int, model, tags: dict) -> dict:
        tags = {k: v for k, v in tags.items() if v is not None}
        out_dir = arm_eval_root(out, arm) / f"seed{seed}"
        return {"arm": arm.name, "model": str(model), "seed": seed, "out_dir": str(out_dir), "limit": args.limit,
                "n": args.n, "tags": tags, "split": args.split}  # fmt: skip

    # The rows without training (warm start, cold start) are evaluated in one lane while the jobs
    # train: a job's start-up leaves a core idle for most of a minute (results/overhead.md).
    untrained = [eval_task(arm, seed, args.start_model or arm.model, {}) for arm in arms if not arm.recipe
                 for seed in args.seeds]  # fmt: skip
    # Its threads count the training lanes that will run (none when a rerun finds every job done).
    training_lanes = min(args.jobs, len(unfinished_jobs(out, recipes, args.seeds)))
    with ThreadPoolExecutor(max_workers=1) as beside_training:
        untrained_eval = beside_training.submit(
            evaluate_all, out, untrained, 1, "eval_untrained", beside=training_lanes
        )
        train_s = train(out, recipes, args.seeds, args.steps, extra, args.jobs)
        untrained_s = untrained_eval.result()

    evals, tasks, evaluated = [], [], {}
    for arm in arms:
        for seed in args.seeds:
            if arm.recipe:
                job = job_dir(out, arm.recipe, seed)
                model, step = checkpoint_of(arm, job)
                summary = _job_summary(job)
                task = eval_task(arm, seed, model, {"train_run_id": summary.get("run_id"), "checkpoint_step": step})
                tasks.append(task)
                evaluated[(arm.recipe, seed, step)] = task
            else:
                step, summary = None, {}
            evals.append((arm, seed, step, summary, arm_eval_root(out, arm) / f"seed{seed}"))
    along = phase_end_tasks(out, arms, args, evaluated)
    eval_s = evaluate_all(out, tasks + [task for task, _ in along if task not in tasks], args.jobs)
    rows: dict[str, list[dict]] = {}
    for arm, seed, step, summary, eval_dir in evals:
        result = eval_result(arm, eval_dir)
        rows.setdefault(arm.name, []).append(
            {
                "seed": seed, "step": step, "acc": result[f"avg@{args.n}"], "tokens": result["mean_tokens"],
                "segments": result.get("mean_segments"), "max_peak_context": result.get("max_peak_context"),
                "train_s": summary.get("seconds"), "train_run_id": summary.get("run_id"),
            }
        )  # fmt: skip
    (out / "rows.json").write_text(json.dumps(rows, indent=2))
    schedule_rows = []
    for task, point in along:
        result = eval_result(study_arm(task["arm"], task.get("split", "test")), Path(task["out_dir"]))
        schedule_rows.append({**point, "acc": result[f"avg@{args.n}"], "tokens": result["mean_tokens"]})
    (out / "phase_end_rows.json").write_text(json.dumps(schedule_rows, indent=2))

    cosine_runs = [_job_summary(job_dir(out, "toy_siri_cosine", s)).get("run_id") for s in args.seeds]
    meta = {
        "command": "python -m siri_verl.lab.toy_study " + shlex.join(args.argv),
        "hardware": args.hardware, "model": "toy reasoner, 1M-parameter Qwen2 (siri_verl/lab/toy_reasoner.py)",
        "seeds": list(args.seeds), "steps": args.steps or "each recipe's (the checkpoint column)", "n": args.n,
        "jobs": args.jobs, "start_model": args.start_model, "limit": args.limit, "split": args.split,
        **add_wall_time(out, train_s=train_s, untrained_eval_s=untrained_s, eval_s=eval_s,
                        study_s=time.time() - study_started),
    }  # fmt: skip
    curves = None
    if all(cosine_runs):
        curves = schedule_curves(tracking_uri, cosine_runs)
        constant_runs = [_job_summary(job_dir(out, "toy_constant", s)).get("run_id") for s in args.seeds]
        if all(constant_runs):
            constant = schedule_curves(tracking_uri, constant_runs)["siri/response_length/mean"]
            curves["constant/response_length/mean"] = constant
    report = report_markdown(rows, meta, headroom) + per_seed_markdown(rows) + comparisons_markdown(rows)
    report += response_styles_markdown({arm.name: arm_eval_root(out, arm) for arm in arms if arm.side == "siri"})
    report += phase_ends_markdown(schedule_rows)
    report += follow_markdown(curves) if curves else ""
    results_dir = Path(args.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "toy_study.md").write_text(report)
    artifacts = [results_dir / "toy_study.md"]
    for side, name in (("siri", "toy_study_pareto.png"), ("inftythink", "toy_study_pareto_inftythink.png")):
        pareto = plot_pareto(rows, side, results_dir / name)
        if pareto is not None:
            artifacts.append(pareto)
    if curves:
        artifacts.append(plot_schedule(curves, results_dir / "toy_study_schedule.png"))
    for path in artifacts:
        client.log_artifact(study_run.info.run_id, str(path))
    client.set_terminated(study_run.info.run_id, status="FINISHED")
    print(report)
    return rows


def check_headroom(out: Path, args: argparse.Namespace) -> str:
    """The headroom checks (siri_verl/lab/headroom.py) of the SIRI side's starting policy, on
    tuning seeds and the tune split, printed before any training; their markdown table."""
    from siri_verl.lab.headroom import TUNING_SEEDS, headroom_markdown, run_headroom

    model = args.start_model or ARMS_BY_NAME["warm start"].model
    seeds = TUNING_SEEDS[: args.headroom_seeds]
    found, meta = run_headroom(model, out / "headroom", seeds, args.headroom_limit, args.n)
    meta["command"] = f"python -m siri_verl.lab.headroom --model {model} --seeds {' '.join(map(str, seeds))}" + (
        f" --limit {args.headroom_limit}" if args.headroom_limit else ""
    )
    table = headroom_markdown(found, meta)
    print(table, flush=True)
    return table


def phase_end_tasks(
    out: Path, arms: list[Arm], args: argparse.Namespace, evaluated: dict[tuple[str, int, int], dict] | None = None
) -> list[tuple[dict, dict]]:
    """(eval task, what it is) for every phase-end checkpoint the runs of ``arms``' recipes kept:
    each run's course along its schedule, not only its final and last-trough points.

    A phase end that is also an arm's own checkpoint (SIRI-low's last trough, a final step that
    ends a phase) reuses that arm's task from ``evaluated`` (keyed by recipe, seed and step)
    instead of evaluating the same weights twice.
    """
    evaluated = evaluated or {}
    along = []
    for recipe in dict.fromkeys(arm.recipe for arm in arms if arm.recipe):
        arm = next(a for a in arms if a.recipe == recipe)  # SIRI-low and SIRI-high share a recipe
        for seed in args.seeds:
            job = job_dir(out, recipe, seed)
            kept = kept_phase_ends(job)
            ends = job_phase_ends(job) if kept else None
            for step, hf in kept:
                phase = "trough" if step in ends.troughs else "peak" if step in ends.peaks else "stage end"
                eval_dir = out / "eval" / "phase_ends" / recipe / f"seed{seed}" / f"step{step}"
                task = evaluated.get((recipe, seed, step)) or {
                    "arm": arm.name, "model": str(hf), "seed": seed, "out_dir": str(eval_dir), "limit": args.limit,
                    "n": args.n, "tags": {"checkpoint_step": step}, "run_name": f"{recipe} step {step} seed {seed}",
                    "split": args.split,
                }  # fmt: skip
                along.append((task, {"recipe": recipe, "seed": seed, "step": step, "phase": phase}))
    return along


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m siri_verl.lab.toy_study",
        description="Both papers' experiments at toy scale on CPU: train every arm for every seed (Hydra "
        "multiruns, --jobs at a time), evaluate under one protocol, write results/toy_study.md with intervals and "
        "verdicts. A rerun on the same --out resumes: finished jobs and evals are kept.",
        epilog="example: python -m siri_verl.lab.toy_study --out toy_study_run   "
        "(smoke: --steps 2 --seeds 0 --limit 8 --arms 'warm start' 'constant cap')",
    )
    parser.add_argument("--out", default="toy_study_run", help="work directory: sweep jobs, evals, mlflow.db")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(REPORTED_SEEDS))
    parser.add_argument("--arms", nargs="+", choices=list(ARMS_BY_NAME), default=None, help="default: all")
    parser.add_argument("--steps", type=int, default=None, help="override every recipe's training steps")
    parser.add_argument("--n", type=int, default=4, help="eval samples per problem")
    parser.add_argument("--limit", type=int, default=None,
                        help="test problems per benchmark (default: all, 200 short and 100 long sums)")
    parser.add_argument("--mlflow", default=None, help="tracking URI (default: sqlite in --out)")
    parser.add_argument("--results-dir", default="results", help="where toy_study.md and the plots go")
    parser.add_argument("--hardware", default=f"{os.cpu_count()} CPU cores, no GPU")
    parser.add_argument("--override", action="append", default=[], help="extra key=value for every training job")
    parser.add_argument("--jobs", type=int, default=2, help="training jobs and evals run at a time (default 2)")
    parser.add_argument("--split", choices=("test", "tune"), default="test",
                        help="measure on the test split (reported runs) or the tune split (tuning runs: SIRI side, "
                        "tuning seeds only)")
    parser.add_argument("--headroom-limit", type=int, default=None, help="tune problems of the headroom checks (all)")
    parser.add_argument("--headroom-seeds", type=int, default=2, help="tuning seeds of the headroom checks (2)")
    parser.add_argument(
        "--start-model",
        default=None,
        help="smoke runs: start every arm from this model (asset or path) instead of its own",
    )
    # Internal: what each eval lane's subprocess runs.
    parser.add_argument("--eval-lane", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = argv
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.eval_lane:
        run_eval_lane(args.eval_lane)
    else:
        run_study(args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
