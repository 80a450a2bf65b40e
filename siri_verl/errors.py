"""Errors and validators every module may use: this module imports only the standard library.

It is a leaf of the import graph on purpose: the pure modules (the schedule, the InftyThink
protocol, the reward shaping) validate their inputs with it, and the compose-time checks
(``siri_verl/checks.py``), which import those modules, raise the same :class:`ConfigError`.
"""

from __future__ import annotations

import operator


class ConfigError(ValueError):
    """A config that cannot run; the message names the key and what would fix it."""


class TrainingStopped(RuntimeError):
    """Raised by the trainer at the start of the step after a step hook asked to stop
    (``SiriVerlTrainer.stop_training``). Here, not in siri_verl/trainer.py, so that the launcher
    catches it without importing verl's trainer (3 s of every job's start-up)."""


def require_int(name: str, value, *, minimum: int, error: type[Exception] | None = None) -> int:
    """``value`` as an int >= ``minimum``; errors name the setting ``name``.

    Ints and anything with ``__index__`` (numpy ints) are accepted, bools and floats refused.
    ``error`` is the exception raised for both faults (e.g. a :class:`ConfigError` subclass);
    without it a non-int raises ``TypeError`` and a too-small int ``ValueError``.
    """
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise (error or TypeError)(f"{name} must be an int, got {value!r}") from None
    if number < minimum:
        raise (error or ValueError)(f"{name} must be >= {minimum}, got {number}")
    return number


def require_number(
    name: str, value, *, minimum: float, maximum: float | None = None, error: type[Exception] = ConfigError
) -> float:
    """``value`` as a float in ``[minimum, maximum]`` (``maximum`` None: no upper bound); errors name ``name``.

    Ints and floats are accepted, bools and strings refused.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{name} must be a number, got {value!r}")
    number = float(value)
    if number < minimum or (maximum is not None and number > maximum):
        bounds = f">= {minimum:g}" if maximum is None else f"in [{minimum:g}, {maximum:g}]"
        raise error(f"{name} must be {bounds}, got {value!r}")
    return number


def require_bool(name: str, value, *, error: type[Exception] = ConfigError) -> bool:
    """``value`` if it is a bool (YAML ``true``/``false``); errors name ``name``."""
    if not isinstance(value, bool):
        raise error(f"{name} must be true or false, got {value!r}")
    return value


def require_choice(name: str, value, choices, *, error: type[Exception] = ConfigError):
    """``value`` if it is one of ``choices``; errors name ``name`` and list the choices."""
    if value not in choices:
        raise error(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value
