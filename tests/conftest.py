"""Shared fixtures. No tests/__init__.py on purpose: verl's wheel installs a top-level ``tests``
package, and a package of the same name here would shadow or be shadowed by it.

Nor is there an ``__init__.py`` in tests/'s subfolders (see tests/README.md): pytest's default
``prepend`` import mode imports each test module by its basename, with its own folder put first
on ``sys.path``, so basenames must stay unique across tests/. Importing this file puts tests/
itself on ``sys.path`` the same way, which is how tests at any depth import the helpers beside it
(``_repo``, ``_verl_paths``, ``_reference``) as top-level modules.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from _repo import REPO

# Built models and toy data are cached inside the checkout, so CI builds them once per run.
os.environ.setdefault("SIRI_VERL_CACHE", str(REPO / ".cache"))


def shared_data_dir() -> Path:
    return Path(os.environ.get("SIRI_VERL_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only benchmark files beside the checkout; tests that need them skip without them."""
    path = shared_data_dir()
    if not (path / "benchmarks").is_dir():
        pytest.skip(f"shared benchmark data not found at {path} (set SIRI_VERL_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def tiny_model_path() -> Path:
    from siri_verl.lab.tiny import ensure_tiny_model

    return ensure_tiny_model()


@pytest.fixture(scope="session")
def r1_tokenizer_path() -> Path:
    """A tokenizer directory with DeepSeek-R1-Distill-Qwen's contract (siri_verl/models/r1_distill.py)."""
    from siri_verl.models.r1_distill import ensure_r1_distill_tokenizer

    return ensure_r1_distill_tokenizer()


@pytest.fixture(scope="session")
def r1_tokenizer(r1_tokenizer_path):
    """DeepSeek-R1-Distill-Qwen's tokenizer as verl loads it (AutoTokenizer on the directory)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(r1_tokenizer_path)


class DiskFull:
    """A FAKE file (wraps the real one): lets ``budget`` bytes through, then writes half of what
    it is given and raises ``OSError(ENOSPC)``, as a filling disk does."""

    def __init__(self, handle, budget: int):
        self.handle, self.budget = handle, budget

    def write(self, data) -> int:
        if len(data) <= self.budget:
            self.budget -= len(data)
            return self.handle.write(data)
        self.handle.write(bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.handle, name)


@pytest.fixture
def disk_full(monkeypatch):
    """``disk_full(budget)``: every file ``siri_verl.jsonl`` opens from then on is a
    :class:`DiskFull` that takes ``budget`` bytes; ``monkeypatch.undo()`` frees the disk."""
    from siri_verl import jsonl

    def fill(budget: int) -> None:
        monkeypatch.setattr(jsonl, "open", lambda *a, **k: DiskFull(open(*a, **k), budget), raising=False)

    return fill


def pytest_collection_modifyitems(config, items):
    """The e2e files first (each starts verl jobs: minutes), so that under ``make test``'s two
    pytest-xdist workers (``--dist loadfile``, whole files) the fast files fill in around them
    instead of one worker finishing the suite alone on the last e2e job. The order is the same in
    every worker, as xdist requires; within a file it is unchanged."""
    items.sort(key=lambda item: "e2e" not in item.path.parts)
