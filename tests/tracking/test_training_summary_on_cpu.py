"""The end-of-job summary (siri_verl/tracking/runs.py) from a real MLflow store: validation
accuracy and mean generated tokens per benchmark, before -> after (what `make demo` ends with)."""

from __future__ import annotations

import mlflow
from omegaconf import OmegaConf

from siri_verl.tracking.runs import MlflowRun, format_summary, training_summary


def test_summary_reports_accuracy_and_tokens_before_and_after(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    for step, acc, tokens in ((0, 0.50, 54.0), (20, 0.55, 38.5)):
        client.log_metric(run_id, "val-core/toy_running_sum/acc/mean_at_4", acc, step=step)
        client.log_metric(run_id, "val-aux/toy_running_sum/response_tokens/mean_at_4", tokens, step=step)
        client.log_metric(run_id, "training/global_step", step, step=step)
    cfg = OmegaConf.create({"trainer": {"experiment_name": "toy_demo"}})
    summary = training_summary(cfg, MlflowRun(run_id, uri, "e"), 12.0)
    assert summary["val_tokens"] == {"val-aux/toy_running_sum/response_tokens/mean_at_4": (54.0, 38.5)}
    text = format_summary(summary)
    assert "val-core/toy_running_sum/acc/mean_at_4: 0.500 before -> 0.550 after" in text
    assert "val-aux/toy_running_sum/response_tokens/mean_at_4: 54.0 before -> 38.5 after" in text


def test_summary_pairs_the_first_and_last_validation_dumps(tmp_path):
    import json

    dumps = tmp_path / "validation"
    dumps.mkdir()
    for step, acc, tokens in ((0, 0.0, 90.0), (20, 1.0, 60.0)):
        rows = [{"input": f"Q{i}", "score": acc, "acc": acc, "response_tokens": tokens} for i in range(3)]
        (dumps / f"{step}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    cfg = OmegaConf.create({"trainer": {"experiment_name": "toy_demo", "validation_data_dir": str(dumps)}})
    text = format_summary(training_summary(cfg, None, 12.0))  # no MLflow run: the comparison still shows
    assert "paired on 3 validation problems x 4 samples" not in text
    assert "paired on 3 validation problems x 1 samples (step 0 -> 20): accuracy 0.000 -> 1.000" in text
    assert "tokens 90.0 -> 60.0 (x0.67 [0.67, 0.67])" in text
