"""Metric names MLflow accepts from the start (siri_verl/tracking/metric_names.py), checked
against verl's own MLflow logger: the names are the ones it would have stored, and it has
nothing left to rewrite (no "Metric key ... sanitized" warning)."""

from __future__ import annotations

import logging

from verl.utils.tracking import _MlflowLoggingAdapter

from siri_verl.tracking.metric_names import mlflow_metric_name, rename_for_mlflow

KEYS = [
    "val-core/toy_running_sum/acc/mean@4",
    "val-core/toy_running_sum/acc/best@4/mean",
    "val-aux/toy_running_sum/response_tokens/mean@4",
    "train/total_tokens(B)",
    "timing_s//step",
    "siri/max_response_length",
    "critic/score/mean",
]


def test_names_are_what_verls_logger_stores_and_it_rewrites_none_of_them(caplog):
    adapter = _MlflowLoggingAdapter()
    with caplog.at_level(logging.WARNING):
        verl_names = [adapter._sanitize_key(key) for key in KEYS]
    assert [mlflow_metric_name(key) for key in KEYS] == verl_names
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = [_MlflowLoggingAdapter()._sanitize_key(mlflow_metric_name(key)) for key in KEYS]
    assert again == verl_names and not [r for r in caplog.records if "sanitized" in r.getMessage()]


def test_rename_keeps_values_and_order():
    metrics = {"a/b": 1.0, "val-core/x/acc/mean@2": 0.5, "c": 2}
    assert rename_for_mlflow(metrics) is metrics
    assert metrics == {"a/b": 1.0, "c": 2, "val-core/x/acc/mean_at_2": 0.5}
