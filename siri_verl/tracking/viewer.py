"""The trajectory viewer: a validation pass's sample trajectories as one self-contained HTML page.

The training job logs the page to its MLflow run at every validation pass, as
``trajectories/val_step_<N>.html`` (:func:`log_viewer`), where the MLflow UI's artifact view
shows it (``siri_verl/trainer.py`` reads the rows; ``siri_verl.trajectory_viewer_samples`` sets
how many). :func:`render_viewer` is pure, rows in and a string out: inline CSS, no script, no
external asset, and every piece of model or data text HTML-escaped.

Two kinds of trajectory, told apart by the rows' ``extra_fields``:

- **InftyThink+** (rows carry ``inftythink_segment_index``, one row per segment): each segment's
  text as generated, its summary (or its conclusion, or why it breaks the layout:
  :func:`siri_verl.inftythink.protocol.parse_segment`), its tokens against η, and on the last
  segment the trajectory's stop reason; the trajectory's reward is verl's score of its final row.
- **single response** (SIRI's ``siri_length`` loop, verl's ``single_turn_agent``): the response,
  its tokens against L(t) of the step and against the cap it was generated under (``siri_cap``:
  validation rows get the full budget, ``siri_verl.uncapped_splits``), whether it was truncated,
  its score and the answer checker's reason.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Iterable

from siri_verl.inftythink.protocol import parse_segment

# Artifact folder of the pages in a training run.
VIEWER_ARTIFACT_DIR = "trajectories"


@dataclass(frozen=True)
class SampleRow:
    """One generated row of a validation pass: a whole response, or one InftyThink segment."""

    # Rows with the same id form one trajectory (verl's ``{uid}_{session}`` of the row's key).
    trajectory_id: str
    # The row's place in its trajectory (verl's row index in the session; 0 for one response).
    index: int
    prompt: str
    response: str
    response_tokens: int
    # The row's reward (verl gives every segment of a trajectory its final row's); None: unknown.
    score: float | None
    extra_fields: dict = field(default_factory=dict)


def artifact_path(step: int) -> str:
    """Where the page of the validation pass at ``step`` goes in the run's artifacts."""
    return f"{VIEWER_ARTIFACT_DIR}/val_step_{step}.html"


def group_trajectories(rows: Iterable[SampleRow]) -> list[list[SampleRow]]:
    """The rows grouped by trajectory, trajectories in order of first appearance, rows by index."""
    groups: dict[str, list[SampleRow]] = {}
    for row in rows:
        groups.setdefault(row.trajectory_id, []).append(row)
    return [sorted(group, key=_segment_index) for group in groups.values()]


def render_viewer(rows: Iterable[SampleRow], *, step: int, length_cap: int | None = None) -> str:
    """The HTML page of one validation pass: one card per trajectory.

    ``length_cap``: the training cap L(t) at ``step`` (the single responses are measured against
    it); None where there is no schedule.
    """
    trajectories = group_trajectories(rows)
    cards = [
        _inftythink_card(number, trajectory) if _is_inftythink(trajectory) else _response_card(number, trajectory, length_cap)
        for number, trajectory in enumerate(trajectories, 1)
    ]
    facts = [f"step {step}", f"{len(trajectories)} sample{'s' if len(trajectories) != 1 else ''}"]
    if length_cap is not None and not all(_is_inftythink(t) for t in trajectories):
        facts.append(f"training cap L(t) = {length_cap} tokens")
    body = "\n".join(cards) if cards else '<p class="none">no validation samples were read</p>'
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>validation samples, step {step}</title><style>{_CSS}</style></head>\n<body>\n"
        f"<h1>Validation samples</h1>\n<p class=\"facts\">{_e(' · '.join(facts))}</p>\n{body}\n"
        "<p class=\"foot\">siri_verl trajectory viewer (siri_verl/tracking/viewer.py)</p>\n</body></html>\n"
    )


def log_viewer(rows: list[SampleRow], *, step: int, length_cap: int | None = None) -> str | None:
    """Log the page to the active MLflow run; its artifact path, or None without a run or rows."""
    import mlflow

    if not rows or mlflow.active_run() is None:
        return None
    path = artifact_path(step)
    mlflow.log_text(render_viewer(rows, step=step, length_cap=length_cap), path)
    return path


# ------------------------------------------------------------------------------ cards


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _segment_index(row: SampleRow) -> int:
    return int(row.extra_fields.get("inftythink_segment_index", row.index))


def _is_inftythink(trajectory: list[SampleRow]) -> bool:
    return any("inftythink_segment_index" in row.extra_fields for row in trajectory)


def _reward_info(row: SampleRow) -> dict:
    info = row.extra_fields.get("reward_extra_info")
    return info if isinstance(info, dict) else {}


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


def _token_bar(tokens: int, cap, label: str) -> str:
    """``tokens / cap`` with a bar; full (red) when the row used the whole cap."""
    if not isinstance(cap, (int, float)) or cap <= 0:
        return f'<span class="tokens">{_e(tokens)} tokens</span>'
    share = min(100.0, 100.0 * tokens / cap)
    state = "full" if tokens >= cap else "room"
    return (
        f'<span class="tokens">{_e(tokens)} / {_e(cap)} tokens ({_e(label)})</span>'
        f'<span class="bar {state}"><span style="width:{share:.1f}%"></span></span>'
    )


def _text_block(label: str, text: str, css: str = "") -> str:
    return f'<div class="block {css}"><div class="label">{_e(label)}</div><pre>{_e(text)}</pre></div>'


def _prompt_block(prompt: str) -> str:
    return f"<details><summary>prompt</summary><pre>{_e(prompt)}</pre></details>"


def _inftythink_card(number: int, trajectory: list[SampleRow]) -> str:
    final = trajectory[-1].extra_fields
    eta = final.get("inftythink_segment_cap")
    phi = final.get("inftythink_max_segments", "?")
    stop = str(final.get("inftythink_stop_reason", "unknown"))
    info = _reward_info(trajectory[-1])
    head = [
        f"trajectory {number}",
        f"{len(trajectory)} segment{'s' if len(trajectory) != 1 else ''} of φ = {phi}",
        f"η = {eta}",
        f"stop: {stop}",
        f"reward {_score(trajectory[-1].score)}",
        f"{sum(row.response_tokens for row in trajectory)} tokens",
    ]
    if "reason" in info:
        head.append(f"answer: {info['reason']}")
    segments = []
    for position, row in enumerate(trajectory):
        last = position == len(trajectory) - 1
        parsed = parse_segment(row.response)
        outcome = f"stop: {stop}" if last else "→ next segment"
        parts = [
            f'<div class="seghead"><b>segment {_segment_index(row) + 1}</b> {_token_bar(row.response_tokens, eta, "η")}'
            f'<span class="kind {_e(parsed.kind)}">{_e(parsed.kind)}</span><span class="outcome">{_e(outcome)}</span></div>',
            _text_block("text", row.response),
        ]
        if parsed.summary is not None:
            parts.append(_text_block("summary", parsed.summary, "summary"))
        if parsed.answer_text is not None:
            parts.append(_text_block("conclusion", parsed.answer_text, "conclusion"))
        if parsed.error is not None:
            parts.append(f'<div class="block invalid"><div class="label">invalid</div>{_e(parsed.error)}</div>')
        segments.append(f'<div class="segment">{"".join(parts)}</div>')
    return (
        f'<section class="card"><h2>{_e(" · ".join(head))}</h2>{_prompt_block(trajectory[0].prompt)}'
        f'{"".join(segments)}</section>'
    )


def _response_card(number: int, trajectory: list[SampleRow], length_cap: int | None) -> str:
    row = trajectory[-1]
    fields = row.extra_fields
    info = _reward_info(row)
    truncated = fields.get("truncated")
    head = [f"sample {number}", f"score {_score(row.score)}", f"{row.response_tokens} tokens"]
    if truncated is not None:
        head.append("truncated" if truncated else "not truncated")
    if "reason" in info:
        head.append(f"answer: {info['reason']}")
    bars = []
    generated_under = fields.get("siri_cap")
    if length_cap is not None and generated_under is not None and generated_under == length_cap:
        # One cap, one bar: the row was generated under L(t) itself.
        bars.append(_token_bar(row.response_tokens, length_cap, "L(t), the cap generated under"))
    else:
        if length_cap is not None:
            bars.append(_token_bar(row.response_tokens, length_cap, "L(t)"))
        if generated_under is not None:
            bars.append(_token_bar(row.response_tokens, generated_under, "cap generated under"))
    pred = f'<div class="pred">extracted answer: <code>{_e(info["pred"])}</code></div>' if info.get("pred") is not None else ""
    return (
        f'<section class="card"><h2>{_e(" · ".join(head))}</h2>'
        f'<div class="seghead">{"".join(bars)}</div>{_prompt_block(row.prompt)}'
        f'{_text_block("response", row.response)}{pred}</section>'
    )


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px;color:#1d1d1f;background:#f6f7f9}
h1{font-size:20px;margin:0 0 4px} .facts{color:#555;margin:0 0 12px}
.card{background:#fff;border:1px solid #d8dce2;border-radius:6px;padding:10px 12px;margin:0 0 14px}
.card h2{font-size:15px;margin:0 0 6px}
.segment{border-left:3px solid #7aa7d9;padding:4px 0 4px 10px;margin:8px 0}
.seghead{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:2px 0 4px}
.tokens{font-variant-numeric:tabular-nums}
.bar{display:inline-block;width:140px;height:8px;background:#e6e9ee;border-radius:4px;overflow:hidden}
.bar span{display:block;height:100%;background:#4c8bd6} .bar.full span{background:#d64c4c}
.kind{font-size:12px;padding:1px 6px;border-radius:8px;background:#e6e9ee}
.kind.summary{background:#dcebfa} .kind.conclusion{background:#dff3e1} .kind.invalid{background:#f8dede}
.outcome{color:#555;font-size:12px}
.block{margin:4px 0} .label{font-size:11px;text-transform:uppercase;color:#777}
pre{white-space:pre-wrap;word-break:break-word;margin:2px 0;padding:6px;background:#f3f4f6;border-radius:4px;
font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;max-height:24em;overflow:auto}
.summary pre{background:#eaf3fd} .conclusion pre{background:#eaf7ec} .invalid{color:#a33}
details summary{cursor:pointer;color:#555;font-size:12px} .pred{font-size:12px;color:#333}
.none,.foot{color:#777;font-size:12px}
"""
