"""The backend=gpu pre-flight check against a Ray cluster (``checks.gpu_backend_needs_gpus``).

A job launched from a CPU-only head node must be judged by the cluster's GPUs, not the driver's.
The cluster here is FAKE: ``checks.cluster_gpus`` (the one function that asks Ray) is
monkeypatched to report a GPU count, so no Ray cluster runs. Only the unreachable-address test
runs the real query (a child process that cannot connect, stopped by the deadline).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from siri_verl import checks
from siri_verl.checks import ConfigError, gpu_backend_needs_gpus, ray_cluster_address
from siri_verl.config import compose_recipe

GPU_CHOICES = {"backend": "gpu", "recipe": "siri_low"}  # siri_low: 1 node x 8 GPUs


@pytest.fixture(autouse=True)
def no_ray_address_in_env(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


def fake_cluster(monkeypatch, gpus: float) -> list:
    """Answer every cluster query with ``gpus``; returns the list of (key, address) asked."""
    asked = []

    def cluster_gpus(key, address, timeout_s=None):
        asked.append((key, address))
        return gpus

    monkeypatch.setattr(checks, "cluster_gpus", cluster_gpus)
    return asked


def test_a_cluster_with_enough_gpus_passes_on_a_cpu_only_driver_without_vllm(monkeypatch):
    asked = fake_cluster(monkeypatch, gpus=16)
    cfg = compose_recipe("siri_low", ["+ray_kwargs.ray_init.address=10.0.0.1:6379"])
    gpu_backend_needs_gpus(cfg, GPU_CHOICES)  # this machine has no CUDA and no vllm
    assert asked == [("ray_kwargs.ray_init.address", "10.0.0.1:6379")]


def test_a_cluster_short_of_gpus_is_refused_naming_the_address_and_the_counts(monkeypatch):
    fake_cluster(monkeypatch, gpus=4)
    cfg = compose_recipe("siri_low", ["+ray_kwargs.ray_init.address=10.0.0.1:6379"])
    with pytest.raises(ConfigError) as error:
        gpu_backend_needs_gpus(cfg, GPU_CHOICES)
    message = str(error.value)
    assert "needs 8 GPU(s)" in message and "has 4" in message
    assert "ray_kwargs.ray_init.address=10.0.0.1:6379" in message and "trainer.nnodes" in message


def test_ray_address_from_the_environment_names_the_cluster(monkeypatch):
    asked = fake_cluster(monkeypatch, gpus=8)
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    gpu_backend_needs_gpus(compose_recipe("siri_low"), GPU_CHOICES)
    assert asked == [("RAY_ADDRESS", "ray://head:10001")]


@pytest.mark.parametrize(
    ("configured", "env", "expected"),
    [
        (None, None, None),
        ("local", None, None),  # ray.init's "start a new local cluster"
        ("local", "head:6379", None),  # an explicit "local" is kept by ray.init whatever RAY_ADDRESS says
        ("auto", None, ("ray_kwargs.ray_init.address", "auto")),
        ("auto", "head:6379", ("RAY_ADDRESS", "head:6379")),  # ray.init lets RAY_ADDRESS win over auto
        (None, "head:6379", ("RAY_ADDRESS", "head:6379")),
        ("other:6379", "head:6379", ("ray_kwargs.ray_init.address", "other:6379")),
    ],
)
def test_the_cluster_address_is_resolved_as_ray_init_resolves_it(monkeypatch, configured, env, expected):
    if env is not None:
        monkeypatch.setenv("RAY_ADDRESS", env)
    overrides = [] if configured is None else [f"+ray_kwargs.ray_init.address={configured}"]
    assert ray_cluster_address(compose_recipe("tiny", overrides)) == expected


def test_an_unreachable_cluster_is_a_clear_error_naming_the_key():
    # The real query (a child process running ray.init) against an address nothing listens on.
    unreachable = r"cannot reach the Ray cluster at ray_kwargs\.ray_init\.address=127\.0\.0\.1:9"
    with pytest.raises(ConfigError, match=unreachable):
        checks.cluster_gpus("ray_kwargs.ray_init.address", "127.0.0.1:9", timeout_s=8)


def test_without_an_address_the_driver_itself_needs_cuda_and_vllm(monkeypatch):
    def no_cluster_query(*args, **kwargs):
        raise AssertionError("no cluster address: the check must not query Ray")

    monkeypatch.setattr(checks, "cluster_gpus", no_cluster_query)
    with pytest.raises(ConfigError) as error:
        gpu_backend_needs_gpus(compose_recipe("siri_low"), GPU_CHOICES)
    message = str(error.value)
    assert "8 CUDA GPU(s)" in message and "siri-verl[gpu]" in message and "RAY_ADDRESS" in message


REAL_CLUSTER = """
import ray
from siri_verl import checks
ray.init(num_gpus=3, num_cpus=1, include_dashboard=False, log_to_driver=False)
try:
    print("GPUS", checks.cluster_gpus("ray_kwargs.ray_init.address", ray.get_runtime_context().gcs_address))
finally:
    ray.shutdown()
"""


def test_the_real_query_reads_a_real_clusters_gpus():
    # A real single-node Ray cluster with 3 logical GPUs, started (and ended) by a child process
    # so this pytest process never joins it.
    result = subprocess.run([sys.executable, "-c", REAL_CLUSTER], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "GPUS 3.0" in result.stdout
