"""siri_verl/checks.py: compose-time checks refuse an impossible config, naming the key."""

from __future__ import annotations

import pytest

from siri_verl.checks import ConfigError, run_checks
from siri_verl.config import compose_recipe


def choices_of(cfg) -> dict:
    return dict(cfg.hydra.runtime.choices)


def test_an_impossible_schedule_is_refused_naming_the_key():
    cfg = compose_recipe("tiny", ["schedule.l_min=100"])
    with pytest.raises(ConfigError, match=r"schedule\.l_min"):
        run_checks(cfg, choices_of(cfg))


def test_response_length_below_schedule_maximum_is_refused():
    cfg = compose_recipe("tiny", ["data.max_response_length=30"])
    with pytest.raises(ConfigError, match=r"data\.max_response_length"):
        run_checks(cfg, choices_of(cfg))
