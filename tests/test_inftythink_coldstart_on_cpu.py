"""The InftyThink+ cold start on CPU: traces -> segmented SFT data -> verl's SFT trainer (no fakes).

The tiny offline model stands in for the instruct summariser and for the model being trained;
its summaries are nonsense, which does not matter to what is checked: layout, resumability, the
loss mask on the history prefix, and that verl's SFT trainer trains on the data and saves an
HF model the RL recipes can start from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from omegaconf import OmegaConf
from transformers import AutoTokenizer

from siri_verl.inftythink import coldstart
from siri_verl.inftythink.protocol import parse_segment
from siri_verl.inftythink.sft_dataset import InftyThinkSFTDataset


def write_traces(path, count):
    rows = []
    for i in range(count):
        think = "\n\n".join(f"Step {k}: add {k}, which gives {k * (k + 1) // 2} so far." for k in range(1, 7))
        rows.append({"question": f"What is 1+...+6 (copy {i})?", "trace": f"<think>\n{think}\n</think>\n\nSo \\boxed{{21}}."})
    lines = [json.dumps(r) for r in rows] + [json.dumps({"question": "no trace"}), "not json"]
    path.write_text("\n".join(lines) + "\n")


class CountingBackend:
    """A spy around the real CPU backend: counts the rows it is asked to summarise."""

    def __init__(self, backend):
        self.backend, self.tokenizer, self.prompts = backend, backend.tokenizer, 0

    def generate(self, prompts, max_tokens, settings):
        self.prompts += len(prompts)
        return self.backend.generate(prompts, max_tokens, settings)


@pytest.fixture(scope="module")
def coldstart_run(tmp_path_factory, tiny_model_path):
    from siri_verl.generation import make_backend

    tmp = tmp_path_factory.mktemp("coldstart")
    write_traces(tmp / "traces.jsonl", 3)
    backend = CountingBackend(make_backend("cpu", str(tiny_model_path)))
    args = coldstart.parse_args(
        ["--input", str(tmp / "traces.jsonl"), "--out", str(tmp / "out"), "--tokenizer", str(tiny_model_path),
         "--eta", "30", "--max-retries", "2", "--limit", "2"]
    )  # fmt: skip
    first = coldstart.run(args, backend=backend)
    prompts_first = backend.prompts
    args.limit = None
    second = coldstart.run(args, backend=backend)
    return tmp, first, second, prompts_first, backend.prompts - prompts_first


def test_every_segment_becomes_an_example_in_the_agent_loop_layout(coldstart_run):
    tmp, first, second, *_ = coldstart_run
    frame = pd.read_parquet(tmp / "out" / "train.parquet")
    assert second["examples"] == len(frame) and second["skipped"] == 2
    for row in frame.itertuples():
        assistant = row.messages[1]
        prefix = assistant["no_loss_prefix"]
        output = assistant["content"][len(prefix) :]
        kind = parse_segment(prefix[-len("<think>\n") :] + output).kind
        assert kind == ("conclusion" if row.segment_index == row.num_segments - 1 else "summary")
        assert ("<history>" in prefix) == (row.segment_index > 0)


def test_a_rerun_keeps_finished_rows_and_reports_bad_ones(coldstart_run, capfd):
    _, first, second, prompts_first, prompts_second = coldstart_run
    assert first["rows"] == 2 and second["rows"] == 5
    # the third trace needs as many summaries as each of the first two: only it was summarised again
    assert prompts_second * 2 == prompts_first


def test_sft_dataset_masks_the_history_prefix(coldstart_run, tiny_model_path):
    tmp, *_ = coldstart_run
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    config = OmegaConf.create({"max_length": 256, "pad_mode": "no_padding", "messages_key": "messages"})
    dataset = InftyThinkSFTDataset(str(tmp / "out" / "train.parquet"), tokenizer, config)
    frame = pd.read_parquet(tmp / "out" / "train.parquet")
    later = next(i for i, row in enumerate(frame.itertuples()) if row.segment_index > 0)
    item = dataset[later]
    ids, mask = item["input_ids"].tolist(), item["loss_mask"].tolist()
    masked = tokenizer.decode([t for t, m in zip(ids, mask) if m == 0])
    trained = tokenizer.decode([t for t, m in zip(ids, mask) if m == 1])
    assert masked.endswith("</history>\n<think>\n") and "<history>" in masked
    assert "<history>" not in trained and "</think>" in trained


def test_verl_sft_trainer_trains_on_the_cold_start_data(coldstart_run, tmp_path):
    tmp, *_ = coldstart_run
    command = [
        sys.executable, "-m", "siri_verl.sft", f"data.train_files={tmp / 'out' / 'train.parquet'}", "data.max_length=256",
        f"siri_verl.mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}", f"hydra.run.dir={tmp_path / 'run'}",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID")}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "train/loss" in result.stdout
    (hf_dir,) = (tmp_path / "run" / "checkpoints").glob("global_step_*/huggingface")
    assert (hf_dir / "config.json").exists() and (hf_dir / "model.safetensors").exists()
