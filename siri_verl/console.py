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

The start-up prints of verl and its workers on the driver (Ray's arguments, FSDP memory, verl's
warnings) go to the same file (:func:`verl_prints_to` with ``keep``), so the console shows the
trainer's lines, Ray's start, the progress bar and the summary.

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


# verl's SFT trainer logs "step:N - ..." per step, after its config dump names the total. Its
# tqdm bar, written to a file, ends in a carriage return, not a newline, so a step's record usually
# follows the bar on the same line ("Epoch 1/10: ... 52/250 [02:27<10:00]step:53 - ...").
_SFT_STEP = re.compile(r"step:(\d+) - ")
_SFT_TOTAL = re.compile(r"'total_training_steps': (\d+)")


def _progress_of(log_path: str) -> tuple[int, int | None]:
    """The last ``step:N`` of a verl SFT log and its total steps (None until known)."""
    step, total = 0, None
    with open(log_path, encoding="utf-8", errors="replace") as log:
        for line in log:
            if total is None and (found := _SFT_TOTAL.search(line)):
                total = int(found.group(1))
            for found in _SFT_STEP.finditer(line):
                step = int(found.group(1))
    return step, total


def run_logged(command: list[str], log_path: str, label: str, every_s: float = 10.0, stream: TextIO | None = None,
               **popen) -> int:
    """Run ``command`` with its output in ``log_path``; every ``every_s`` seconds, one progress
    line (``label: step 120/400, 2.0 min``) on ``stream`` (stderr), redrawn in place on a
    terminal. Returns the exit status."""
    import subprocess
    import time

    stream = stream or sys.stderr
    started = time.monotonic()
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **popen)
        shown = False
        while process.poll() is None:
            try:
                process.wait(timeout=every_s)
            except subprocess.TimeoutExpired:
                step, total = _progress_of(log_path)
                minutes = (time.monotonic() - started) / 60
                text = f"  {label}: step {step}/{total or '?'}, {minutes:.1f} min"
                stream.write(("\r" + text) if stream.isatty() else text + "\n")
                stream.flush()
                shown = True
        if shown and stream.isatty():
            stream.write("\n")
    return process.returncode


# A line Ray forwards from a worker: "(TaskRunner pid=123) text", the prefix coloured on a terminal.
_RAY_PREFIX = re.compile(r"^(?:\x1b\[[0-9;]*m)?\((?P<actor>[^)]*)\)(?:\x1b\[[0-9;]*m)? ?")
# The trainer's own console lines (print_step, print_validation); compact_line right-aligns the
# step to the width of the total ("step  3/20").
_CONSOLE_LINE = re.compile(r"^(step +\d|validation at step )")


def is_console_line(line: str) -> bool:
    """Whether a line printed on the driver is one of the trainer's console lines, also as Ray
    forwards it from the TaskRunner actor (``(TaskRunner pid=1) step 3/20 ...``)."""
    match = _RAY_PREFIX.match(line)
    return bool(_CONSOLE_LINE.match(line[match.end() :] if match else line))


class _LineSplitter:
    """A text stream that writes each complete line to ``console`` when ``keep(line)``, else to ``sink``."""

    def __init__(self, sink: TextIO, console: TextIO, keep: Callable[[str], bool]) -> None:
        self.sink, self.console, self.keep, self.pending = sink, console, keep, ""

    def write(self, text: str) -> int:
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        for line in lines:
            (self.console if self.keep(line) else self.sink).write(line + "\n")
        return len(text)

    def flush(self) -> None:
        if self.pending:
            (self.console if self.keep(self.pending) else self.sink).write(self.pending)
            self.pending = ""
        self.sink.flush()
        self.console.flush()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def verl_prints_to(path: str | None, keep: Callable[[str], bool] | None = None) -> Iterator[None]:
    """Route this process's ``sys.stdout`` (``print``, ``pprint``) and Python's warnings to the
    file ``path`` (appended, line-buffered) for the duration, except :func:`print_step`'s lines
    and, with ``keep``, the lines it keeps; stderr, and with it logging and progress bars, stays.

    On the driver, around verl's ``run_ppo``, ``keep=is_console_line`` leaves the trainer's lines
    that Ray forwards from the TaskRunner on the console and sends the start-up prints of verl and
    its workers (Ray's arguments, NUMA, FSDP memory...) to the file.
    """
    global _console
    if path is None:
        yield
        return
    import warnings

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    previous, _console = _console, sys.stdout
    show_warning = warnings.showwarning
    try:
        with open(path, "a", buffering=1, encoding="utf-8") as sink:
            stream = sink if keep is None else _LineSplitter(sink, sys.stdout, keep)

            def to_sink(message, category, filename, lineno, file=None, line=None):
                sink.write(warnings.formatwarning(message, category, filename, lineno, line))

            warnings.showwarning = to_sink
            with contextlib.redirect_stdout(stream):
                try:
                    yield
                finally:
                    if keep is not None:
                        stream.flush()
    finally:
        warnings.showwarning = show_warning
        _console = previous
