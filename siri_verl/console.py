"""What a person sees while ``python -m siri_verl`` trains: a few lines, not verl's every metric.

Every metric still goes to MLflow (``trainer.logger``); the console gets, from the ``siri_verl``
trainer, one compact line every ``siri_verl.console.every_steps`` steps beside verl's own
progress bar over the training steps (``Training Progress``)::

    step  3/12  L=36 compress  score 0.250  acc 0.250  len 18.1 p90 30  trunc 0.12  flat 0.50  2.0 s/step

Each field shows only when its metrics exist that step: L(t) and phase, length mean and p90 and
truncation against the cap come from SIRI's collector (``siri/...``); InftyThink runs show η and
φ, segments per trajectory, tokens per segment and the share of trajectories each stop reason
ended (``inftythink/...``); ``score`` is verl's mean reward, ``acc`` the share of sampled
trajectories answered correctly (``reward/accuracy``), ``flat`` the share of GRPO groups whose
scores are all alike (``health/zero_variance_groups``: no learning signal), ``val`` the
validation accuracy (mean over the N samples per problem) and mean tokens per data source on the
steps that validate; the validation before training gets its own line (:func:`print_validation`).

verl's own console output is one setting away: ``trainer.logger=[console,mlflow]`` prints its
full metric line each step and leaves its prints in the driver process (the resolved config it
dumps at start, its validation dicts) on the console. Without it those prints go to the file
``siri_verl.console.verl_prints`` (:func:`verl_prints_path`, used by ``siri_verl/task_runner.py``).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from typing import Callable, Iterator, Mapping, TextIO

from omegaconf import OmegaConf

from siri_verl.project_settings import SiriVerlSettings

PHASE_NAMES = {-1: "compress", 0: "hold", 1: "expand"}
# The console while verl's prints are routed to a file (verl_prints_to): sys.stdout before that.
_console: TextIO | None = None
# InftyThink's stop reasons other than a conclusion, as the console abbreviates them.
STOP_RATES = (
    ("cap", "inftythink/stopped_by_segment_cap_rate"),
    ("phi", "inftythink/stopped_by_max_segments_rate"),
    ("ctx", "inftythink/stopped_by_context_full_rate"),
    ("fmt", "inftythink/invalid_format_rate"),
)


def _value(metrics: Mapping, key: str) -> float | None:
    value = metrics.get(key)
    return None if value is None else float(value)


def _cap(metrics: Mapping) -> str | None:
    cap, phase = _value(metrics, "siri/max_response_length"), _value(metrics, "siri/phase")
    parts = []
    if cap is not None:
        parts.append(f"L={cap:g}" + (f" {PHASE_NAMES.get(int(phase), phase)}" if phase is not None else ""))
    eta, phi = _value(metrics, "inftythink/segment_cap"), _value(metrics, "inftythink/max_segments")
    if eta is not None:
        parts.append(f"eta={eta:g} phi={phi:g}" if phi is not None else f"eta={eta:g}")
    return "  ".join(parts) or None


def _score(metrics: Mapping) -> str | None:
    score = _value(metrics, "critic/score/mean")
    return None if score is None else f"score {score:.3f}"


def _accuracy(metrics: Mapping) -> str | None:
    accuracy = _value(metrics, "reward/accuracy")
    return None if accuracy is None else f"acc {accuracy:.3f}"


def _length(metrics: Mapping) -> str | None:
    mean, p90 = _value(metrics, "siri/response_length/mean"), _value(metrics, "siri/response_length/p90")
    if mean is not None:
        return f"len {mean:.1f}" + (f" p90 {p90:g}" if p90 is not None else "")
    if "inftythink/segments/mean" in metrics:  # a row is a segment: tokens per segment say it
        return None
    mean = _value(metrics, "response_length/mean")
    return None if mean is None else f"len {mean:.1f}"


def _truncation(metrics: Mapping) -> str | None:
    rate = _value(metrics, "siri/truncation_rate")
    return None if rate is None else f"trunc {rate:.2f}"


def _segments(metrics: Mapping) -> str | None:
    mean, top = _value(metrics, "inftythink/segments/mean"), _value(metrics, "inftythink/segments/max")
    if mean is None:
        return None
    text = f"seg {mean:.2f}" + (f" max {top:g}" if top is not None else "")
    per_segment = _value(metrics, "inftythink/segment_tokens/mean")
    return text + (f"  tok/seg {per_segment:.1f}" if per_segment is not None else "")


def _stops(metrics: Mapping) -> str | None:
    rates = [(name, _value(metrics, key)) for name, key in STOP_RATES if key in metrics]
    if not rates:
        return None
    concluded = 1.0 - sum(rate for _, rate in rates)
    return "stop " + " ".join(f"{name} {rate:.2f}" for name, rate in [("concl", concluded), *rates])


def _flat_groups(metrics: Mapping) -> str | None:
    share = _value(metrics, "health/zero_variance_groups")
    return None if share is None else f"flat {share:.2f}"


# verl's validation accuracy and tokens of a data source, ``mean@N`` (``mean_at_N`` once renamed
# for MLflow, siri_verl/tracking/metric_names.py).
_VAL_METRIC = re.compile(r"val-(?:core|aux)/(?P<source>.+)/(?P<var>acc|response_tokens)/mean(?:@|_at_)(?P<n>\d+)$")


def validation_figures(metrics: Mapping) -> list[str]:
    """Per data source, ``<source> acc@N 0.920 tokens 41.9``: the mean accuracy over the N samples
    per problem (the largest N logged) and their mean generated tokens."""
    found: dict[str, dict[str, tuple[int, float]]] = {}
    for key, value in metrics.items():
        match = _VAL_METRIC.match(key)
        if match:
            n, figures = int(match["n"]), found.setdefault(match["source"], {})
            if n >= figures.get(match["var"], (0, 0.0))[0]:
                figures[match["var"]] = (n, float(value))
    texts = []
    for source, figures in sorted(found.items()):
        if "acc" not in figures:
            continue
        n, accuracy = figures["acc"]
        tokens = figures.get("response_tokens")
        texts.append(f"{source} acc@{n} {accuracy:.3f}" + (f" tokens {tokens[1]:.1f}" if tokens else ""))
    return texts


def _validation(metrics: Mapping) -> str | None:
    figures = validation_figures(metrics)
    return "val " + ", ".join(figures) if figures else None


def _seconds_per_step(metrics: Mapping) -> str | None:
    seconds = _value(metrics, "timing_s/step")
    return None if seconds is None else f"{seconds:.1f} s/step"


# The compact line's fields, in order; each returns None when its metrics are absent.
FIELDS: tuple[Callable[[Mapping], str | None], ...] = (
    _cap,
    _score,
    _accuracy,
    _length,
    _truncation,
    _segments,
    _stops,
    _flat_groups,
    _validation,
    _seconds_per_step,
)


def compact_line(step: int, total_steps: int | None, metrics: Mapping) -> str:
    """One step's console line from its metrics (the dict verl logs), e.g.
    ``step  3/12  L=36 compress  score 0.250  acc 0.250  len 18.1 p90 30  trunc 0.12  2.0 s/step``."""
    width = len(str(total_steps)) if total_steps else 0
    head = f"step {step:>{width}}/{total_steps}" if total_steps else f"step {step}"
    return "  ".join([head, *filter(None, (field(metrics) for field in FIELDS))])


def every_steps(config) -> int:
    """``siri_verl.console.every_steps``: print a line every this many steps (0: never)."""
    return SiriVerlSettings.of(config).console.every_steps


def is_line_step(step: int, total_steps: int | None, every: int) -> bool:
    """Whether ``step`` gets a line: every ``every``-th step and the last one (``every`` > 0)."""
    return every > 0 and (step % every == 0 or step == total_steps)


def print_step(config, step: int, total_steps: int | None, metrics: Mapping, stream: TextIO | None = None) -> None:
    """Print ``step``'s compact line if it is a line step, to the console: verl's prints may be
    routed to a file around the trainer (:func:`verl_prints_to`), this line is not."""
    if is_line_step(step, total_steps, every_steps(config)):
        print(compact_line(step, total_steps, metrics), file=stream or _console or sys.stdout, flush=True)


def print_validation(config, step: int, metrics: Mapping, stream: TextIO | None = None) -> None:
    """The validation before training, labelled: ``validation at step 0: toy acc@4 0.892 tokens 44.6``."""
    figures = validation_figures(metrics)
    if figures and every_steps(config) > 0:
        print(f"validation at step {step}: " + ", ".join(figures), file=stream or _console or sys.stdout, flush=True)


def uses_verl_console(config) -> bool:
    """Whether ``trainer.logger`` asks for verl's own console logger."""
    loggers = OmegaConf.select(config, "trainer.logger", default=None) or []
    return "console" in ([loggers] if isinstance(loggers, str) else list(loggers))


def verl_prints_path(config, output_dir: str) -> str | None:
    """Where verl's prints in its driver process go: ``siri_verl.console.verl_prints``, relative
    to ``output_dir``; None (the console) when it is null or ``trainer.logger`` has ``console``."""
    path = SiriVerlSettings.of(config).console.verl_prints
    if not path or uses_verl_console(config):
        return None
    return os.path.join(output_dir, str(path))


@contextlib.contextmanager
def verl_prints_to(path: str | None) -> Iterator[None]:
    """Route this process's ``sys.stdout`` (``print``, ``pprint``) to the file ``path`` (appended,
    line-buffered) for the duration, except :func:`print_step`'s lines; stderr, and with it
    logging and progress bars, stays."""
    global _console
    if path is None:
        yield
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    previous, _console = _console, sys.stdout
    try:
        with open(path, "a", buffering=1, encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
            yield
    finally:
        _console = previous
