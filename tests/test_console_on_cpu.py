"""The training console (siri_verl/console.py, siri_verl/task_runner.py, conf/): one compact line
per step instead of verl's every-metric line, verl's prints in a file, no thread warnings.

- the compact line, from the metrics dict verl logs, for a SIRI step and an InftyThink step;
- which steps get a line (``siri_verl.console.every_steps``);
- the default config leaves verl's console logger out, and ``trainer.logger=[console,mlflow]``
  brings it back with verl's prints on the console;
- verl's prints go to the file while the compact line reaches the real stdout;
- the cpu backend's TransferQueue thread setting does not trip TransferQueue's per-call warning.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from siri_verl import console
from siri_verl.config import compose_recipe

SIRI_STEP = {
    "training/global_step": 3,
    "siri/max_response_length": 36.0,
    "siri/phase": -1,
    "siri/truncation_rate": 0.125,
    "siri/response_length/mean": 18.125,
    "siri/response_length/p90": 30.0,
    "critic/score/mean": np.float64(0.25),
    "reward/accuracy": 0.25,
    "response_length/mean": 18.125,
    "health/zero_variance_groups": 0.5,
    "timing_s/step": 2.04,
    "actor/entropy": 0.71,  # one of verl's many others: not on the line
}
INFTYTHINK_STEP = {
    "inftythink/segment_cap": 48.0,
    "inftythink/max_segments": 4.0,
    "inftythink/segments/mean": 2.25,
    "inftythink/segments/max": 4.0,
    "inftythink/segment_tokens/mean": 31.25,
    "inftythink/stopped_by_segment_cap_rate": 0.25,
    "inftythink/stopped_by_max_segments_rate": 0.125,
    "inftythink/stopped_by_context_full_rate": 0.0,
    "inftythink/invalid_format_rate": 0.125,
    "critic/score/mean": 0.5,
    "reward/accuracy": 0.5,
    "response_length/mean": 31.25,  # per segment row: tok/seg says it, no second length
    "val-core/toy_sums/acc/mean@1": np.float64(0.4),
    "timing_s/step": 10.0,
}


def test_siri_line_has_step_cap_phase_score_accuracy_lengths_truncation_and_speed():
    assert console.compact_line(3, 12, SIRI_STEP) == (
        "step  3/12  L=36 compress  score 0.250  acc 0.250  len 18.1 p90 30  trunc 0.12  flat 0.50  2.0 s/step"
    )


def test_inftythink_line_has_segments_tokens_per_segment_and_stop_reasons():
    assert console.compact_line(12, 12, INFTYTHINK_STEP) == (
        "step 12/12  eta=48 phi=4  score 0.500  acc 0.500  seg 2.25 max 4  tok/seg 31.2  "
        "stop concl 0.50 cap 0.25 phi 0.12 ctx 0.00 fmt 0.12  val toy_sums acc@1 0.400  10.0 s/step"
    )


def test_a_field_without_its_metrics_is_left_out():
    assert console.compact_line(1, None, {"response_length/mean": 7.0}) == "step 1  len 7.0"


@pytest.mark.parametrize(
    ("every", "printed"), [(1, [1, 2, 3, 4, 5]), (2, [2, 4, 5]), (0, [])], ids=["every", "every-2", "off"]
)
def test_lines_every_k_steps_and_at_the_last(every, printed):
    assert [step for step in range(1, 6) if console.is_line_step(step, 5, every)] == printed


def test_default_config_drops_verls_console_and_one_setting_restores_it(tmp_path):
    default = compose_recipe("tiny")
    assert "console" not in default.trainer.logger and "mlflow" in default.trainer.logger
    assert console.every_steps(default) == 1
    assert console.verl_prints_path(default, str(tmp_path)) == str(tmp_path / "verl_prints.log")

    verl_console = compose_recipe("tiny", ["trainer.logger=[console,mlflow]"])
    assert console.uses_verl_console(verl_console)
    assert console.verl_prints_path(verl_console, str(tmp_path)) is None  # verl's prints stay on the console


def test_verl_prints_go_to_the_file_and_the_compact_line_to_the_console(tmp_path, capfd):
    path = tmp_path / "run" / "verl_prints.log"
    config = compose_recipe("tiny")
    with console.verl_prints_to(str(path)):
        print("{'actor_rollout_ref': ...}")  # what verl's TaskRunner pprints
        console.print_step(config, 3, 12, SIRI_STEP)
    out = capfd.readouterr().out
    assert path.read_text() == "{'actor_rollout_ref': ...}\n"
    assert out.splitlines() == [console.compact_line(3, 12, SIRI_STEP)]


def test_cpu_backends_transfer_queue_threads_raise_no_warning(caplog):
    """TransferQueue warns on every put/get whose thread count exceeds the physical cores."""
    from transfer_queue.utils.common import limit_pytorch_auto_parallel_threads

    env = compose_recipe("tiny").ray_kwargs.ray_init.runtime_env.env_vars
    threads = int(env.get("TQ_NUM_THREADS", 8))  # TransferQueue's own default when unset
    with caplog.at_level(logging.WARNING, logger="transfer_queue.utils.common"):
        with limit_pytorch_auto_parallel_threads(target_num_threads=threads):
            pass
    assert not [r for r in caplog.records if "target_num_threads" in r.getMessage()], (
        f"TQ_NUM_THREADS={threads} exceeds this machine's {os.cpu_count()} cores"
    )


# verl's validation as the trainer logs it (names already MLflow's, siri_verl/tracking/metric_names.py).
VALIDATION = {
    "val-core/toy_running_sum/acc/mean_at_4": 0.92,
    "val-core/toy_running_sum/acc/best_at_4/mean": 0.97,
    "val-core/toy_running_sum/acc/maj_at_4/mean": 0.93,
    "val-aux/toy_running_sum/acc/std_at_4": 0.2,
    "val-aux/toy_running_sum/response_tokens/mean_at_4": 41.94,
    "val-aux/toy_running_sum/response_tokens/mean_at_1": 40.0,
}


def test_validation_figures_are_labelled_accuracy_and_tokens_per_source():
    assert console.validation_figures(VALIDATION) == ["toy_running_sum acc@4 0.920 tokens 41.9"]
    assert console.compact_line(20, 20, VALIDATION) == "step 20/20  val toy_running_sum acc@4 0.920 tokens 41.9"


def test_the_validation_before_training_gets_its_own_line(capsys):
    console.print_validation(compose_recipe("tiny"), 0, VALIDATION)
    assert capsys.readouterr().out == "validation at step 0: toy_running_sum acc@4 0.920 tokens 41.9\n"


def test_on_the_driver_only_the_trainers_lines_reach_the_console(tmp_path, capsys):
    import warnings

    path = tmp_path / "verl_prints.log"
    with console.verl_prints_to(str(path), keep=console.is_console_line):
        print("ray init kwargs: {'num_cpus': 8}")
        print("\x1b[36m(WorkerDict pid=7)\x1b[0m Before FSDP, memory allocated (GB): 0.00")
        print("\x1b[36m(TaskRunner pid=5)\x1b[0m step 1/2  L=40 compress  score 0.250", end="")
        print("\n(TaskRunner pid=5) validation at step 0: toy acc@1 0.100")
        # The line as compact_line writes it for a one-digit step of a two-digit run ("step  3/20").
        print(f"\x1b[36m(TaskRunner pid=5)\x1b[0m {console.compact_line(3, 20, VALIDATION)}")
        warnings.warn("Disabled critic as algorithm.adv_estimator != gae", UserWarning)
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        "\x1b[36m(TaskRunner pid=5)\x1b[0m step 1/2  L=40 compress  score 0.250",
        "(TaskRunner pid=5) validation at step 0: toy acc@1 0.100",
        "\x1b[36m(TaskRunner pid=5)\x1b[0m step  3/20  val toy_running_sum acc@4 0.920 tokens 41.9",
    ]
    assert "Disabled critic" not in out.err
    kept = path.read_text()
    assert "ray init kwargs" in kept and "Before FSDP" in kept and "Disabled critic" in kept


def test_a_long_build_shows_its_progress(tmp_path):
    """``run_logged`` (the warm-start build): the command's output in its log, a progress line
    from verl's SFT step lines on the console meanwhile (the command is a stand-in: a real SFT
    build takes minutes; it writes as verl's does to a file: tqdm's bar, ending in a carriage
    return, then the step's record on the same line)."""
    import io
    import sys

    script = (
        "import time\n"
        "print(\"{'trainer': {'total_training_steps': 400}}\", flush=True)\n"
        "for step in (1, 2, 3):\n"
        "    print(f'\\rEpoch 1/10:   0%|          | {step - 1}/250 [00:0{step}<00:10]', end='', flush=True)\n"
        "    print(f'step:{step} - train/loss:1.0', flush=True)\n"
        "    time.sleep(0.4)\n"
    )
    stream = io.StringIO()
    log = tmp_path / "sft.log"
    assert console.run_logged([sys.executable, "-c", script], str(log), "building toy-warmstart", every_s=0.5,
                              stream=stream) == 0  # fmt: skip
    shown = stream.getvalue().splitlines()
    assert shown and all(line.startswith("  building toy-warmstart: step ") for line in shown)
    assert "/400, " in shown[-1] and "step:3 - train/loss" in log.read_text()
    assert shown[-1].startswith("  building toy-warmstart: step 3/400, "), shown
