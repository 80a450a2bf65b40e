"""Response-length schedules L(t) for SIRI (docs/siri.md) and the length curricula it is compared with.

A schedule is a *pure function of the training step*: ``schedule.length(t)`` depends on nothing
but ``t`` and the schedule's frozen settings, so a run resumed at step ``k`` gets exactly the
``L(k)`` an uninterrupted run would have used, whatever was evaluated before.

Step convention
---------------
``t`` is the training step exactly as verl counts it (``trainer.global_steps``): the first policy
update is step ``t = 1`` and a run of ``total_steps`` steps ends at ``t = total_steps``. Callers
pass verl's step straight through, with no ``- 1``. Every schedule is also defined at ``t = 0``,
the curve's origin (``L_max`` for the periodic shapes: the paper's "starts at L_max"), which is
the value before any update (verl's ``val_before_train``, a preview's first point).

With this convention the paper's step numbers are the schedule's own: for cosine with
``T = 640`` the trough ``L_min`` is *used by* step 320 and the checkpoint verl saves as
``global_step_320`` is the one trained through the end of that compression. Over 1920 steps,
:meth:`Schedule.phase_ends` gives troughs 320, 960, 1600 (SIRI-low = 1600) and peaks 640, 1280,
1920 (SIRI-high = 1920, the run's last step).

Phases
------
``phase(t)`` says what step ``t``'s cap did relative to step ``t - 1``: ``"compress"`` if
``L(t) < L(t-1)``, ``"expand"`` if ``L(t) > L(t-1)``, ``"hold"`` if equal; ``phase(0)`` is
``"hold"`` (nothing precedes it). The comparison uses the *unrounded* curve (:meth:`raw`), so the
flat spots that rounding creates around a trough or peak do not move it. Consequences:

* a trough (peak) step is the *last* step of its compression (expansion): cosine's step
  ``T/2`` is ``"compress"`` and ``T/2 + 1`` is ``"expand"``; step ``T`` is ``"expand"``.
* a compression (expansion) *ends* at step ``t`` when ``phase(t)`` is ``"compress"``
  (``"expand"``) and ``phase(t + 1)`` is not; :meth:`phase_ends` lists those ``t`` in
  ``1..total_steps`` (``t + 1`` may lie past the run: the schedule is defined there).
* plateaus are ``"hold"``; a jump (stair, stages) is a single ``"compress"``/``"expand"`` step,
  the first step at the new length.
* an odd cosine period has a two-step flat bottom/top; the trough/peak is the first of the two.

Rounding
--------
Lengths are ints. The curve value is rounded half up to the nearest multiple of ``granularity``
(values within 1e-9 of a half are treated as the half, so floating-point noise in ``cos`` cannot
flip the direction), then clamped into the schedule's ``[lower, upper]`` bounds (``[l_min, l_max]``
for the periodic shapes). A bound that is not itself a multiple of ``granularity`` is therefore
returned as-is where the clamp applies. :meth:`Schedule.max_length` is the largest length the
schedule ever returns (verl's ``data.max_response_length`` / ``rollout.response_length`` must
be at least this).

Shapes (registry names)
-----------------------
``constant``      ``L(t) = length``.
``cosine``        ``mid + amp * cos(2 pi t / T)``: L_max at t = 0, L_min at T/2, L_max at T.
``stair``         Square wave: L_max for the first half of each cycle (``t mod T < T/2``), L_min
                  for the second half. The paper only draws this shape; the offset is chosen so
                  that a cycle starts at L_max like cosine and the drop/rise steps (T/2 + kT and
                  kT) are exactly cosine's trough/peak steps, so the SIRI-low/high checkpoint
                  steps are the same for both shapes.
``stair_cosine``  ``phi = 2 pi (t mod T) / T``: L_max for phi < pi/4 or phi >= 7pi/4; cosine
                  descent ``mid + amp cos(2(phi - pi/4))`` on [pi/4, 3pi/4); L_min on
                  [3pi/4, 5pi/4); cosine ascent ``mid + amp cos(2(phi - 3pi/4))`` on
                  [5pi/4, 7pi/4). Piece boundaries are decided on integers (``8 (t mod T)``
                  against ``T, 3T, 5T, 7T``) so they are exact. Troughs at ceil(3T/8) + kT,
                  peaks at ceil(7T/8) + kT.
``stages``        Piecewise constant ``[(start_step, length), ...]``; the first start_step is 0,
                  start steps strictly increase; stage i holds from its start_step until the next
                  stage's. Named presets (``schedule.preset``), see :data:`STAGE_PRESETS`.

New shapes: subclass :class:`Schedule` as a frozen, ``kw_only`` dataclass, implement
:meth:`Schedule.raw` and :meth:`Schedule.bounds`, and decorate with ``@register_schedule("name")``;
:func:`build_schedule` then fills its dataclass fields from the config keys of the same names.

A run's schedule comes from its config through :func:`schedule_of`, the one reader of the
``schedule:`` section: the agent loops, the trainer, the checkpoint keeper, the compose-time
checks and the preview all call it.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import (
    Any,
    Callable,
    ClassVar,
    Literal,
    Mapping,
    NamedTuple,
    TypeVar,
)

from omegaconf import OmegaConf

from siri_verl.errors import ConfigError, require_int

__all__ = [
    "COMPRESS",
    "EXPAND",
    "HOLD",
    "SCHEDULES",
    "STAGE_PRESETS",
    "THINKPRUNE_ROUND_STEPS",
    "ConstantSchedule",
    "CosineSchedule",
    "PhaseEnds",
    "Schedule",
    "ScheduleConfigError",
    "Stage",
    "StagesSchedule",
    "StairCosineSchedule",
    "StairSchedule",
    "build_schedule",
    "register_schedule",
    "schedule_of",
]

Phase = Literal["compress", "expand", "hold"]
COMPRESS: Phase = "compress"
EXPAND: Phase = "expand"
HOLD: Phase = "hold"

_PREFIX = "schedule."


class ScheduleConfigError(ConfigError):
    """An impossible schedule setting; the message names the key as ``schedule.<key>``."""


class PhaseEnds(NamedTuple):
    """Steps (ascending, within ``1..total_steps``) at which a phase ends."""

    troughs: list[int]
    """Last step of each compression: SIRI-low checkpoint candidates."""
    peaks: list[int]
    """Last step of each expansion: SIRI-high checkpoint candidates."""


# --------------------------------------------------------------------------------------------
# base class and registry


@dataclass(frozen=True, kw_only=True)
class Schedule(abc.ABC):
    """A response-length cap L(t) as a pure function of the training step (see module doc)."""

    granularity: int = 1
    """Lengths are rounded half up to a multiple of this many tokens, then clamped into bounds."""

    name: ClassVar[str] = "?"
    """Registry name, set by :func:`register_schedule`."""

    def __post_init__(self) -> None:
        require_int(f"{_PREFIX}granularity", self.granularity, minimum=1, error=ScheduleConfigError)

    # -- what a shape implements -------------------------------------------------------------

    @abc.abstractmethod
    def raw(self, t: int) -> float:
        """The unrounded curve at step ``t >= 0`` (phases are read from it)."""

    @abc.abstractmethod
    def bounds(self) -> tuple[int, int]:
        """``(lower, upper)``: the least and greatest value :meth:`raw` takes."""

    # -- derived -----------------------------------------------------------------------------

    def _quantize(self, value: float) -> int:
        g = self.granularity
        rounded = math.floor(round(value / g, 9) + 0.5) * g
        lower, upper = self.bounds()
        return int(min(max(rounded, lower), upper))

    def length(self, t: int) -> int:
        """L(t): the response-length cap (tokens) of training step ``t`` (verl's global_steps)."""
        return self._quantize(self.raw(require_int("step", t, minimum=0)))

    def __call__(self, t: int) -> int:
        """Same as :meth:`length`."""
        return self.length(t)

    def max_length(self) -> int:
        """The largest length this schedule returns; verl's response_length must cover it."""
        return self._quantize(self.bounds()[1])

    def min_length(self) -> int:
        """The smallest length this schedule returns."""
        return self._quantize(self.bounds()[0])

    def phase(self, t: int) -> Phase:
        """``"compress"``/``"expand"``/``"hold"``: the unrounded L(t) against L(t-1); step 0 holds."""
        t = require_int("step", t, minimum=0)
        if t == 0:
            return HOLD
        now, before = self.raw(t), self.raw(t - 1)
        if now < before:
            return COMPRESS
        if now > before:
            return EXPAND
        return HOLD

    def phase_ends(self, total_steps: int) -> PhaseEnds:
        """Steps in ``1..total_steps`` that end a compression (troughs) or an expansion (peaks)."""
        total_steps = require_int("total_steps", total_steps, minimum=0)
        troughs: list[int] = []
        peaks: list[int] = []
        current = self.phase(1) if total_steps >= 1 else HOLD
        for t in range(1, total_steps + 1):
            following = self.phase(t + 1)
            if current != following:
                if current == COMPRESS:
                    troughs.append(t)
                elif current == EXPAND:
                    peaks.append(t)
            current = following
        return PhaseEnds(troughs, peaks)

    # -- config ------------------------------------------------------------------------------

    @classmethod
    def config_keys(cls) -> frozenset[str]:
        """The ``schedule.*`` keys this shape reads (besides ``shape``)."""
        return frozenset(f.name for f in dataclasses.fields(cls) if f.init)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "Schedule":
        """Build from ``schedule.*`` settings; ``cfg`` holds only this shape's keys, None = unset."""
        kwargs = {}
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            value = cfg.get(f.name)
            if value is not None:
                kwargs[f.name] = value
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ScheduleConfigError(f"{_PREFIX}{f.name} is required for shape {cls.name!r}")
        return cls(**kwargs)


SCHEDULES: dict[str, type[Schedule]] = {}
"""Registry: shape name -> Schedule subclass (filled by :func:`register_schedule`)."""

S = TypeVar("S", bound=type[Schedule])


def register_schedule(name: str) -> Callable[[S], S]:
    """Class decorator: make a :class:`Schedule` subclass available as ``schedule.shape=name``."""

    def decorate(cls: S) -> S:
        if name in SCHEDULES and SCHEDULES[name] is not cls:
            raise ValueError(f"schedule shape {name!r} is already registered ({SCHEDULES[name].__qualname__})")
        cls.name = name
        SCHEDULES[name] = cls
        return cls

    return decorate


# --------------------------------------------------------------------------------------------
# shapes


@register_schedule("constant")
@dataclass(frozen=True, kw_only=True)
class ConstantSchedule(Schedule):
    """L(t) = cap for every step: plain GRPO with a fixed response cap.

    The setting is the config key ``schedule.length``; it is stored as ``cap`` because
    ``length`` is the :meth:`Schedule.length` method.
    """

    cap: int
    """The fixed length in tokens (config key ``schedule.length``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(f"{_PREFIX}length", self.cap, minimum=1, error=ScheduleConfigError)

    def raw(self, t: int) -> float:
        return float(self.cap)

    def bounds(self) -> tuple[int, int]:
        return (self.cap, self.cap)

    @classmethod
    def config_keys(cls) -> frozenset[str]:
        return frozenset({"length", "granularity"})

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "ConstantSchedule":
        if cfg.get("length") is None:
            raise ScheduleConfigError(f"{_PREFIX}length is required for shape 'constant'")
        kwargs = {"cap": cfg["length"]}
        if cfg.get("granularity") is not None:
            kwargs["granularity"] = cfg["granularity"]
        return cls(**kwargs)


@dataclass(frozen=True, kw_only=True)
class _Periodic(Schedule):
    """Shared settings of the shapes that cycle between l_max and l_min."""

    l_max: int
    """Longest cap (tokens); each cycle starts here."""
    l_min: int
    """Shortest cap (tokens)."""
    period: int
    """Cycle length T in training steps (the paper's main runs: 640)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(f"{_PREFIX}l_max", self.l_max, minimum=1, error=ScheduleConfigError)
        require_int(f"{_PREFIX}l_min", self.l_min, minimum=1, error=ScheduleConfigError)
        if self.l_min > self.l_max:
            raise ScheduleConfigError(
                f"{_PREFIX}l_min ({self.l_min}) must be <= {_PREFIX}l_max ({self.l_max})"
            )
        require_int(f"{_PREFIX}period", self.period, minimum=1, error=ScheduleConfigError)

    @property
    def _mid(self) -> float:
        return (self.l_max + self.l_min) / 2

    @property
    def _amp(self) -> float:
        return (self.l_max - self.l_min) / 2

    def bounds(self) -> tuple[int, int]:
        return (self.l_min, self.l_max)


@register_schedule("cosine")
@dataclass(frozen=True, kw_only=True)
class CosineSchedule(_Periodic):
    """SIRI's main schedule: ``mid + amp * cos(2 pi t / T)``; L_max at 0, L_min at T/2."""

    def raw(self, t: int) -> float:
        p = t % self.period
        p = min(p, self.period - p)  # cos is symmetric: equal steps give bit-equal values
        return self._mid + self._amp * math.cos(2 * math.pi * p / self.period)


@register_schedule("stair")
@dataclass(frozen=True, kw_only=True)
class StairSchedule(_Periodic):
    """Square wave: L_max while ``t mod T < T/2``, L_min for the rest of the cycle."""

    def raw(self, t: int) -> float:
        return float(self.l_max if 2 * (t % self.period) < self.period else self.l_min)


@register_schedule("stair_cosine")
@dataclass(frozen=True, kw_only=True)
class StairCosineSchedule(_Periodic):
    """Plateaus at L_max and L_min joined by half-cosine descents/ascents (module doc)."""

    def raw(self, t: int) -> float:
        T = self.period
        e = 8 * (t % T)  # phi = 2 pi (t mod T) / T  <=>  phi / (pi/4) = e / T
        if e < T or e >= 7 * T:
            return float(self.l_max)
        if e < 3 * T:  # 2 (phi - pi/4) = pi (e - T) / (2T)
            return self._mid + self._amp * math.cos(math.pi * (e - T) / (2 * T))
        if e < 5 * T:
            return float(self.l_min)
        # 2 (phi - 3pi/4) = pi (e - 3T) / (2T)
        return self._mid + self._amp * math.cos(math.pi * (e - 3 * T) / (2 * T))


@dataclass(frozen=True)
class Stage:
    """One piece of a :class:`StagesSchedule`."""

    start_step: int
    """First training step that uses ``length``."""
    length: int
    """The cap (tokens) from ``start_step`` until the next stage starts."""


THINKPRUNE_ROUND_STEPS = 320
"""UNSTATED: steps per ThinkPrune round (docs/siri.md gives only the limits 4K -> 3K -> 2K).
320 mirrors the DAPO-DeepScaleR-16K stage switch; override with ``schedule.period``."""


def _deepscaler(period: int | None) -> list[Stage]:
    # DeepScaleR's boundaries are "around steps 1040 and 1520" in the doc; taken as exact.
    return [Stage(0, 8192), Stage(1040, 16384), Stage(1520, 24576)]


def _thinkprune(period: int | None) -> list[Stage]:
    n = THINKPRUNE_ROUND_STEPS if period is None else require_int(f"{_PREFIX}period", period, minimum=1, error=ScheduleConfigError)
    return [Stage(0, 4096), Stage(n, 3072), Stage(2 * n, 2048)]


def _dapo_deepscaler_16k(period: int | None) -> list[Stage]:
    # The paper's 1.5B baseline switches at step 320 (its 7B one at 360: give `stages` for that).
    return [Stage(0, 8192), Stage(320, 16384)]


STAGE_PRESETS: dict[str, Callable[[int | None], list[Stage]]] = {
    "deepscaler": _deepscaler,
    "thinkprune": _thinkprune,
    "dapo_deepscaler_16k": _dapo_deepscaler_16k,
}
"""``schedule.preset`` name -> stages builder; the argument is ``schedule.period`` (only
``thinkprune`` reads it: steps per round, default :data:`THINKPRUNE_ROUND_STEPS`)."""

_PRESETS_USING_PERIOD = frozenset({"thinkprune"})


@register_schedule("stages")
@dataclass(frozen=True, kw_only=True)
class StagesSchedule(Schedule):
    """Piecewise-constant caps (DeepScaleR-style curricula, ThinkPrune rounds, DAPO 8K->16K)."""

    stages: tuple[Stage, ...]
    """Stages by ascending start_step; the first starts at 0."""

    def __post_init__(self) -> None:
        super().__post_init__()
        stages = tuple(self.stages)
        object.__setattr__(self, "stages", stages)
        if not stages:
            raise ScheduleConfigError(f"{_PREFIX}stages must not be empty (or set {_PREFIX}preset)")
        for i, stage in enumerate(stages):
            key = f"stages[{i}]"
            require_int(f"{_PREFIX}{key}.start_step", stage.start_step, minimum=0, error=ScheduleConfigError)
            require_int(f"{_PREFIX}{key}.length", stage.length, minimum=1, error=ScheduleConfigError)
            if i == 0 and stage.start_step != 0:
                raise ScheduleConfigError(f"{_PREFIX}{key}.start_step must be 0, got {stage.start_step}")
            if i > 0 and stage.start_step <= stages[i - 1].start_step:
                raise ScheduleConfigError(
                    f"{_PREFIX}{key}.start_step ({stage.start_step}) must be greater than "
                    f"{_PREFIX}stages[{i - 1}].start_step ({stages[i - 1].start_step})"
                )

    def raw(self, t: int) -> float:
        current = self.stages[0].length
        for stage in self.stages:
            if stage.start_step > t:
                break
            current = stage.length
        return float(current)

    def bounds(self) -> tuple[int, int]:
        lengths = [s.length for s in self.stages]
        return (min(lengths), max(lengths))

    @classmethod
    def config_keys(cls) -> frozenset[str]:
        return frozenset({"stages", "preset", "period", "granularity"})

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "StagesSchedule":
        preset, raw_stages, period = cfg.get("preset"), cfg.get("stages"), cfg.get("period")
        if preset is not None:
            if raw_stages:
                raise ScheduleConfigError(
                    f"set either {_PREFIX}preset ({preset!r}) or {_PREFIX}stages, not both"
                )
            if preset not in STAGE_PRESETS:
                raise ScheduleConfigError(
                    f"{_PREFIX}preset {preset!r} is not a known preset; known: {', '.join(sorted(STAGE_PRESETS))}"
                )
            if period is not None and preset not in _PRESETS_USING_PERIOD:
                raise ScheduleConfigError(f"{_PREFIX}period is not used by {_PREFIX}preset {preset!r}")
            stages = STAGE_PRESETS[preset](period)
        else:
            if period is not None:
                raise ScheduleConfigError(
                    f"{_PREFIX}period is not used by shape 'stages' without a {_PREFIX}preset"
                )
            stages = [_stage_from_config(i, s) for i, s in enumerate(raw_stages or [])]
        kwargs: dict[str, Any] = {"stages": tuple(stages)}
        if cfg.get("granularity") is not None:
            kwargs["granularity"] = cfg["granularity"]
        return cls(**kwargs)


def _stage_from_config(i: int, item: Any) -> Stage:
    if isinstance(item, Stage):
        return item
    if isinstance(item, Mapping):
        extra = set(item) - {"start_step", "length"}
        missing = {"start_step", "length"} - set(item)
        if extra or missing:
            raise ScheduleConfigError(
                f"{_PREFIX}stages[{i}] must have exactly the keys start_step and length, got {sorted(item)}"
            )
        return Stage(item["start_step"], item["length"])
    if isinstance(item, (list, tuple)) and len(item) == 2:
        return Stage(item[0], item[1])
    raise ScheduleConfigError(f"{_PREFIX}stages[{i}] must be {{start_step, length}}, got {item!r}")


# --------------------------------------------------------------------------------------------
# factory


def build_schedule(cfg: Mapping[str, Any]) -> Schedule:
    """A :class:`Schedule` from the ``schedule`` config section (plain mapping, resolved).

    Keys: ``shape`` (registry name, required), ``l_max``/``l_min``/``period`` (periodic shapes),
    ``length`` (constant), ``stages`` (list of ``{start_step, length}``) or ``preset``
    (stages), ``period`` (also thinkprune's steps per round), ``granularity`` (all shapes).
    A key set (not None) that the chosen shape does not read is an error, so a typo or a
    leftover from another shape cannot silently do nothing.
    """
    if not isinstance(cfg, Mapping):
        raise ScheduleConfigError(f"schedule must be a mapping, got {type(cfg).__name__}")
    shape = cfg.get("shape")
    if shape is None:
        raise ScheduleConfigError(f"{_PREFIX}shape is required; known: {', '.join(sorted(SCHEDULES))}")
    cls = SCHEDULES.get(shape)
    if cls is None:
        raise ScheduleConfigError(
            f"{_PREFIX}shape {shape!r} is not a known shape; known: {', '.join(sorted(SCHEDULES))}"
        )
    accepted = cls.config_keys()
    for key, value in cfg.items():
        if key == "shape" or value is None or key in accepted:
            continue
        if key == "stages" and value == []:  # conf/schedule/stages.yaml's empty default
            continue
        raise ScheduleConfigError(
            f"{_PREFIX}{key} is not used by shape {shape!r}; it reads {', '.join(sorted(accepted))}"
        )
    return cls.from_config({k: v for k, v in cfg.items() if k in accepted})


@lru_cache(maxsize=8)
def _schedule_from_yaml(schedule_yaml: str) -> Schedule:
    return build_schedule(OmegaConf.to_container(OmegaConf.create(schedule_yaml), resolve=True))


def schedule_of(config) -> Schedule:
    """The run's schedule from a config's ``schedule`` section: a composed config (interpolations
    are resolved against it) or verl's trainer config. Built once per distinct section (cached),
    since the agent loops ask for it on every request."""
    section = OmegaConf.select(config, "schedule")
    if section is None:
        raise ScheduleConfigError("the config has no `schedule` section (conf/schedule/*.yaml)")
    return _schedule_from_yaml(OmegaConf.to_yaml(section, resolve=True))
