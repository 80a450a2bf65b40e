"""The checkout's root, for tests at any depth under ``tests/``.

Tests import it as ``from _repo import REPO`` rather than counting ``Path(__file__).parents``,
which changes with the folder a test lives in. ``tests/`` is on ``sys.path``: see conftest.py.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
