"""The MLflow tracking URI as every process of a job must see it (a leaf: standard library only)."""

from __future__ import annotations

from pathlib import Path


def absolute_tracking_uri(uri: str) -> str:
    """Make a relative ``sqlite:///file.db`` absolute: Ray actors do not share the driver's cwd."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(Path(uri[len(prefix) :]).resolve())
    return uri
