"""Errors and validators every module may use: this module imports only the standard library.

It is a leaf of the import graph on purpose: the pure modules (the schedule, the InftyThink
protocol, the reward shaping) validate their inputs with it, and the compose-time checks
(``siri_verl/checks.py``), which import those modules, raise the same :class:`ConfigError`.
"""

from __future__ import annotations

import operator


class ConfigError(ValueError):
    """A config that cannot run; the message names the key and what would fix it."""


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
