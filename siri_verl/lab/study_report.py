"""The toy study's report: ``results/toy_study.md`` and its plots, from the per-seed results.

Rows are per-seed results by arm name (siri_verl/lab/study_arms.py), each a dict with ``acc``,
``tokens``, ``segments``, ``max_peak_context``, ``step`` and ``train_s``; ``meta`` says what was
run (command, hardware, model, seeds, steps, eval size, wall times). Cells are means with their
95% t-intervals over seeds (siri_verl/lab/study_statistics.py); the hypotheses' verdicts come from
siri_verl/lab/verdicts.py.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from siri_verl.eval.metrics import delta_cr_acc
from siri_verl.lab import response_styles
from siri_verl.lab.study_arms import ARMS, ARMS_BY_NAME
from siri_verl.lab.study_statistics import difference_interval, mean_cell
from siri_verl.lab.verdicts import format_metric, hypotheses, metric_values

# Differences between arms that the hypotheses do not test but the report's reader asks about:
# (arm, baseline). RL over the InftyThink+ cold start, whatever the reward; SIRI's table's two
# baselines against the arms they resemble.
COMPARISONS: tuple[tuple[str, str], ...] = (
    ("InftyThink+ T", "cold start only"),
    ("InftyThink+ T+E", "cold start only"),
    ("SIRI x InftyThink", "cold start only"),
    ("InftyThink+ T+E", "InftyThink+ T"),
    ("DeepScaleR-style", "SIRI-low"),
    ("ThinkPrune-style", "constant cap"),
    ("stair", "SIRI-low"),
)


def report_markdown(rows: dict[str, list[dict]], meta: dict, headroom: str = "") -> str:
    """The report's head, arms table and hypotheses; ``headroom`` (the headroom checks' table,
    siri_verl/lab/headroom.py) comes first, as it was printed before any training."""
    base = rows.get("warm start", [])
    base_acc = sum(r["acc"] for r in base) / len(base) if base else None
    base_tokens = sum(r["tokens"] for r in base) / len(base) if base else None
    lines = [
        "# Toy study: SIRI and InftyThink+ at toy scale, on CPU",
        "",
        f"Command: `{meta['command']}`",
        "",
        f"Hardware: {meta['hardware']}. Model: {meta['model']}"
        + (f", every arm started from `{meta['start_model']}` (a smoke run)" if meta.get("start_model") else "")
        + f". Seeds: {meta['seeds']}. No setting was tuned on a reported seed (0, 1, 2): settings were chosen on "
        f"tuning seeds (results/toy_study_tuning.md), batch and steps by the time budget. Training steps per run: "
        f"{meta['steps']}. "
        f"Eval: `eval_protocol=toy`, n = {meta['n']} samples per problem at T = 0.6, top_p 0.95, "
        f"{meta['limit'] or 'all'} held-out {meta.get('split', 'test')} problems per benchmark. Wall time (summed over every invocation on this "
        f"work directory): {meta.get('study_s', 0):.0f} s in all, {meta.get('jobs', 1)} jobs at a time (training {meta['train_s']:.0f} s, evaluation "
        f"{meta['eval_s']:.0f} s after it"
        + (f"; the untrained rows' {meta['untrained_eval_s']:.0f} s of evaluation ran beside the training"
           if meta.get("untrained_eval_s") else "") + ").",
        "",
        *([headroom, ""] if headroom else []),
        "## Arms",
        "",
        "Intervals are 95% t-intervals over seeds (mean ± half-width). ΔCRAcc is SIRI's metric against the "
        "warm start (SIRI-side rows). Peak context is the longest single call (prompt + generated tokens).",
        "",
        "| side | arm | recipe | checkpoint | accuracy (%) | mean tokens | ΔCRAcc vs warm start | peak context (max) | "
        "segments | train wall (s) |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in ARMS:
        results = rows.get(arm.name, [])
        if not results:
            continue
        acc = [r["acc"] for r in results]
        tokens = [r["tokens"] for r in results]
        dcr = "-"
        if arm.side == "siri" and base_acc and base_tokens:
            value = delta_cr_acc(
                {"toy": sum(acc) / len(acc)},
                {"toy": sum(tokens) / len(tokens)},
                {"toy": base_acc},
                {"toy": base_tokens},
            ).value
            dcr = f"{value:.3f}"
        peak = max((r.get("max_peak_context") or 0) for r in results)
        segments = mean_cell([r["segments"] for r in results if r.get("segments") is not None], digits=2)
        wall = mean_cell([r["train_s"] for r in results if r.get("train_s") is not None], digits=0)
        step = results[0].get("step")
        lines.append(
            f"| {arm.side} | {arm.name} | {arm.recipe or '(none)'} | {arm.checkpoint if arm.recipe else 'start'}"
            f"{f' (step {step})' if step else ''} | {mean_cell(acc, 100)} | {mean_cell(tokens)} | {dcr} | {peak:.0f} | "
            f"{segments} | {wall} |"
        )
    lines += ["", "## Hypotheses", "", "| hypothesis | criterion | measured | verdict |", "|---|---|---|---|"]
    lines += [f"| {h} | {c} | {m} | {v} |" for h, c, m, v in hypotheses(rows)]
    lines += [
        "",
        "Plots (for the sides that were run): `toy_study_pareto.png` and `toy_study_pareto_inftythink.png` "
        "(accuracy against tokens per arm), `toy_study_schedule.png` (SIRI's L(t) against mean response length "
        "over training), also on the study's MLflow run.",
        "",
    ]
    return "\n".join(lines)


def phase_ends_markdown(points: list[dict]) -> str:
    """The report's section on every kept phase-end checkpoint: mean and interval over seeds per step."""
    if not points:
        return ""
    lines = ["", "## Along the schedule: every kept phase-end checkpoint", "",
             "The same eval protocol at each checkpoint a run kept at the end of a phase of its schedule (the "
             "final step's checkpoint is also kept when it ends one; an arm's own checkpoint is the same eval).", "",
             "| recipe | step | phase end | accuracy (%) | mean tokens | seeds |", "|---|---:|---|---:|---:|---:|"]  # fmt: skip
    keys = sorted({(p["recipe"], p["step"], p["phase"]) for p in points})
    for recipe, step, phase in keys:
        at = [p for p in points if (p["recipe"], p["step"]) == (recipe, step)]
        lines.append(f"| {recipe} | {step} | {phase} | {mean_cell([p['acc'] for p in at], 100)} | "
                     f"{mean_cell([p['tokens'] for p in at])} | {len(at)} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def per_seed_markdown(rows: dict[str, list[dict]]) -> str:
    """Every arm's result on each seed, which the means and intervals above pool: accuracy (%) /
    mean tokens, and segments per trajectory where the arm has them."""
    seeds = sorted({r["seed"] for results in rows.values() for r in results})
    if not seeds:
        return ""
    lines = ["", "## Per seed", "",
             "Accuracy (%) / mean tokens (/ segments per trajectory on the InftyThink+ side) of each arm on each seed.", "",
             "| arm | " + " | ".join(f"seed {s}" for s in seeds) + " |", "|---|" + "---|" * len(seeds)]  # fmt: skip
    for arm in ARMS:
        by_seed = {r["seed"]: r for r in rows.get(arm.name, [])}
        if not by_seed:
            continue
        cells = []
        for seed in seeds:
            r = by_seed.get(seed)
            cell = "-" if r is None else f"{100 * r['acc']:.1f} / {r['tokens']:.1f}"
            if r is not None and r.get("segments") is not None:
                cell += f" / {r['segments']:.2f}"
            cells.append(cell)
        lines.append(f"| {arm.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def comparisons_markdown(rows: dict[str, list[dict]], pairs: tuple[tuple[str, str], ...] = COMPARISONS) -> str:
    """Arm minus baseline on accuracy, tokens and segments: Welch's 95% interval over seeds, for
    the pairs in :data:`COMPARISONS` that were both run."""
    run = [(a, b) for a, b in pairs if rows.get(a) and rows.get(b)]
    if not run:
        return ""
    lines = ["", "## Other differences (no hypothesis)", "",
             "Arm minus baseline, mean over seeds with Welch's 95% interval; not verdicts, no criterion was set for them.", "",
             "| arm | baseline | accuracy (points) | tokens | segments |", "|---|---|---:|---:|---:|"]  # fmt: skip
    for arm, baseline in run:
        cells = []
        for metric in ("acc", "tokens", "segments"):
            a, b = metric_values(rows, arm, metric), metric_values(rows, baseline, metric)
            if not a or not b:
                cells.append("-")
                continue
            diff, low, high = (format_metric(metric, x) for x in difference_interval(a, b))
            cells.append(f"{diff} [{low}, {high}]")
        lines.append(f"| {arm} | {baseline} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def response_styles_markdown(eval_roots: dict[str, Path]) -> str:
    """What each SIRI-side arm's eval responses did (siri_verl/lab/response_styles.py), every seed
    pooled: loops cut off at the budget, and the verbose share, accuracy and tokens of the finished
    ones. ``eval_roots``: arm name -> its ``eval/<arm>`` directory; an arm without generation logs is
    left out."""
    lines = []
    for name, root in eval_roots.items():
        try:
            records = response_styles.records_under(root)
        except FileNotFoundError:
            continue
        lines.append(response_styles.markdown_row(name, response_styles.styles_of(records)))
    if not lines:
        return ""
    head = ["", "## What changed in the responses (SIRI side, eval generations, every seed pooled)", "",
            "A loop is a response cut off at the eval budget; a finished response is verbose when it has a re-check "
            "paragraph (`W...`), concise otherwise (the headroom checks' classification, siri_verl/lab/headroom.py). "
            "The same table for any eval directories: `python -m siri_verl.lab.response_styles DIR...`.", "",
            response_styles.HEADER]  # fmt: skip
    return "\n".join(head + lines) + "\n"


def plot_pareto(rows: dict[str, list[dict]], side: str, path: Path) -> Path | None:
    """Accuracy against mean tokens of one side's arms (each side has its own benchmark); None if
    no arm of that side was run."""
    import pandas as pd

    from siri_verl.tracking.pareto import plot_frontier

    points = pd.DataFrame(
        [
            {"run_name": name, "acc": sum(r["acc"] for r in rs) / len(rs),
             "mean_tokens": sum(r["tokens"] for r in rs) / len(rs), "source": "eval"}
            for name, rs in rows.items() if rs and ARMS_BY_NAME[name].side == side
        ]
    )  # fmt: skip
    if points.empty:
        return None
    benchmark = next(arm.benchmark for arm in ARMS if arm.side == side)
    return plot_frontier(points, path, f"toy study ({benchmark}): accuracy vs tokens")


def schedule_curves(tracking_uri: str, run_ids: list[str]) -> dict[str, list[tuple[int, float]]]:
    """Per step, the mean over runs of L(t) and of the mean response length."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    curves: dict[str, list[tuple[int, float]]] = {}
    for key in ("siri/max_response_length", "siri/response_length/mean"):
        by_step: dict[int, list[float]] = {}
        for run_id in run_ids:
            for metric in client.get_metric_history(run_id, key):
                by_step.setdefault(metric.step, []).append(metric.value)
        curves[key] = [(step, sum(v) / len(v)) for step, v in sorted(by_step.items())]
    return curves


def follow_lag(curves: dict[str, list[tuple[int, float]]], max_lag: int = 12) -> tuple[int, float, float] | None:
    """Whether the mean response length follows the cap L(t), and how late: ``(lag, r, r0)``,
    the shift k in steps (0..``max_lag``) that maximises the Pearson correlation of L(t) with
    the length at t + k, that correlation, and the correlation without a shift. None when the
    curves are too short or flat (a constant cap has no correlation to find)."""
    cap = dict(curves.get("siri/max_response_length", []))
    length = dict(curves.get("siri/response_length/mean", []))

    def r_at(k: int) -> float | None:
        pairs = [(cap[t], length[t + k]) for t in cap if t + k in length]
        if len(pairs) < 4:
            return None
        try:
            return statistics.correlation(*zip(*pairs))
        except statistics.StatisticsError:  # a flat curve: nothing to correlate
            return None

    found = [(k, r) for k in range(max_lag + 1) if (r := r_at(k)) is not None]
    if not found:
        return None
    lag, best = max(found, key=lambda kr: kr[1])
    return lag, best, dict(found).get(0, float("nan"))


def follow_markdown(curves: dict[str, list[tuple[int, float]]]) -> str:
    """The report's section on whether the length follows SIRI's cap (cosine runs, mean over seeds)."""
    found = follow_lag(curves)
    if found is None:
        return ""
    lag, best, at_zero = found
    lengths = [v for _, v in curves["siri/response_length/mean"]]
    constant = [v for _, v in curves.get("constant/response_length/mean", [])]
    return "\n".join([
        "", "## Does the length follow the cap? (SIRI cosine runs, mean over seeds)", "",
        f"Pearson correlation of L(t) with the mean response length at step t + k: highest at a lag of k = {lag} "
        f"steps (r = {best:.2f}; r = {at_zero:.2f} without a lag). The mean length went {lengths[0]:.1f} -> "
        f"{lengths[-1]:.1f} tokens over {len(lengths)} steps"
        + (f"; under the constant cap {constant[0]:.1f} -> {constant[-1]:.1f}" if constant else "")
        + ". `toy_study_schedule.png` draws both.", "",
    ])  # fmt: skip


def plot_schedule(curves: dict[str, list[tuple[int, float]]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for key, label in (
        ("siri/max_response_length", "cap L(t)"),
        ("siri/response_length/mean", "mean response length (SIRI cosine)"),
        ("constant/response_length/mean", "mean response length (constant cap)"),
    ):
        if curves.get(key):
            steps, values = zip(*curves[key])
            ax.plot(steps, values, label=label, drawstyle="steps-post" if "max" in key else "default")
    ax.set_xlabel("training step")
    ax.set_ylabel("tokens")
    ax.set_title("SIRI cosine (toy): the cap and the response length (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
