"""Metric names MLflow accepts, given at the source: verl's validation names carry ``@``.

verl names validation metrics ``val-core/<source>/acc/mean@4`` and its MLflow logger rewrites
every name MLflow refuses (``@`` -> ``_at_``, then any character but letters, digits, ``_ - . / :``
and space -> ``_``, runs of ``/`` -> one), warning once per name: some sixty warnings on a
console. The ``siri_verl`` trainer renames its metrics the same way before verl logs them
(:func:`rename_for_mlflow`), so MLflow stores the very names it stored before
(``mean_at_4``: what ``siri_verl.tracking.pareto`` and the saved view read) and verl's logger
has nothing left to rewrite.
"""

from __future__ import annotations

import re
from typing import MutableMapping

_REFUSED = re.compile(r"[^/\w.\- :]")
_SLASHES = re.compile(r"/+")


def mlflow_metric_name(key: str) -> str:
    """``key`` as verl's MLflow logger would store it (``mean@4`` -> ``mean_at_4``)."""
    return _REFUSED.sub("_", _SLASHES.sub("/", key.replace("@", "_at_")))


def rename_for_mlflow(metrics: MutableMapping) -> MutableMapping:
    """Rename in place every key of ``metrics`` MLflow would refuse (it moves to the end); returns it."""
    for key in list(metrics):
        name = mlflow_metric_name(key) if isinstance(key, str) else key
        if name != key:
            metrics[name] = metrics.pop(key)
    return metrics
