"""Checks a composed config must pass before any process starts.

Each check is a function ``(cfg, choices) -> None`` registered with ``@config_check`` that
raises ``ConfigError`` naming the offending key; ``choices`` are Hydra's group selections
(``backend``, ``recipe``...). ``python -m siri_verl`` runs all of them right after composing,
so an impossible config fails in seconds, not after Ray and the model have started.

:func:`run_checks` runs every check and reports every problem at once: first what is wrong
with the config itself, then the hardware pre-flight (``@hardware_preflight``: GPUs, vLLM, a
Ray cluster), so that a GPU recipe can be put right on a laptop before it meets a cluster.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from typing import Callable, Mapping

from omegaconf import DictConfig, OmegaConf

from siri_verl.errors import ConfigError  # noqa: F401  (the checks raise it; callers catch it from here)
from siri_verl.inftythink.settings import AGENT_NAME as INFTYTHINK_AGENT
from siri_verl.inftythink.settings import InftyThinkSettings
from siri_verl.project_settings import SiriVerlSettings
from siri_verl.siri.schedule import schedule_of

ConfigCheck = Callable[[DictConfig, Mapping[str, str]], None]
_CHECKS: list[ConfigCheck] = []
_PREFLIGHTS: list[ConfigCheck] = []


def config_check(check: ConfigCheck) -> ConfigCheck:
    """A check of the config itself: it can be run, and put right, on any machine."""
    _CHECKS.append(check)
    return check


def hardware_preflight(check: ConfigCheck) -> ConfigCheck:
    """A check of the machine or cluster the config needs; reported after every config problem."""
    _PREFLIGHTS.append(check)
    return check


def _problems(checks: list[ConfigCheck], cfg: DictConfig, choices: Mapping[str, str]) -> list[str]:
    problems = []
    for check in checks:
        try:
            check(cfg, choices)
        except ConfigError as error:
            problems.append(str(error))
    return list(dict.fromkeys(problems))  # two checks reading one bad key report it once


def run_checks(cfg: DictConfig, choices: Mapping[str, str]) -> None:
    """Raise one ``ConfigError`` listing every problem: the config's first, then the hardware's."""
    problems = _problems(_CHECKS, cfg, choices) + _problems(_PREFLIGHTS, cfg, choices)
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        listed = "\n".join(f"{number}. " + problem.replace("\n", "\n   ") for number, problem in enumerate(problems, 1))
        raise ConfigError(f"{len(problems)} problems with recipe={choices.get('recipe', '?')}:\n{listed}")


# The GPU backends, and whether each needs vLLM (backend=gpu_hf serves the rollout with HF transformers).
GPU_BACKENDS_NEED_VLLM = {"gpu": True, "gpu_hf": False}


@hardware_preflight
def gpu_backend_needs_gpus(cfg: DictConfig, choices: Mapping[str, str]) -> None:
    """backend=gpu needs ``trainer.nnodes x trainer.n_gpus_per_node`` GPUs and vLLM where they are;
    backend=gpu_hf the GPUs only.

    Without a cluster address that is this machine (CUDA and vllm here). With one
    (``ray_kwargs.ray_init.address`` or ``RAY_ADDRESS``, see :func:`ray_cluster_address`) it is
    the Ray cluster: a CPU-only head node launching a multi-node job is normal, so the GPUs are
    counted in the cluster's resources and vLLM is left to the workers.
    """
    backend = choices.get("backend")
    if backend not in GPU_BACKENDS_NEED_VLLM:
        return
    recipe = choices.get("recipe", "?")
    gpus = OmegaConf.select(cfg, "trainer.n_gpus_per_node") * OmegaConf.select(cfg, "trainer.nnodes")
    cluster = ray_cluster_address(cfg)
    if cluster is not None:
        key, address = cluster
        available = cluster_gpus(key, address)
        if available < gpus:
            raise ConfigError(
                f"recipe={recipe} needs {gpus} GPU(s) (trainer.nnodes x trainer.n_gpus_per_node) but the Ray "
                f"cluster at {key}={address} has {available:g}; add GPU nodes (ray start --address=...) "
                "or lower trainer.nnodes / trainer.n_gpus_per_node"
            )
        return
    import torch

    missing = []
    if not torch.cuda.is_available():
        missing.append(f"{gpus} CUDA GPU(s) (trainer.nnodes x trainer.n_gpus_per_node); this machine has none")
    if GPU_BACKENDS_NEED_VLLM[backend] and importlib.util.find_spec("vllm") is None:
        missing.append("the vLLM rollout: pip install 'siri-verl[gpu]' (or backend=gpu_hf: no vLLM, small models)")
    if missing:
        raise ConfigError(
            f"recipe={recipe} runs on backend={backend} and needs " + " and ".join(missing) + ".\n"
            "To try the whole pipeline on this machine instead: python -m siri_verl recipe=tiny\n"
            "To run on a Ray cluster: set RAY_ADDRESS or +ray_kwargs.ray_init.address=HOST:PORT"
        )


ADDRESS_KEY = "ray_kwargs.ray_init.address"
# ray.init's own spellings of "start a new local cluster" (address None or "local").
_LOCAL_ADDRESSES = (None, "", "local")


def ray_cluster_address(cfg: DictConfig) -> tuple[str, str] | None:
    """``(setting, address)`` of the Ray cluster verl's ``ray.init`` will join, or None for a local one.

    Mirrors ``ray.init``: ``RAY_ADDRESS`` wins when the configured address is unset or "auto".
    """
    configured = OmegaConf.select(cfg, ADDRESS_KEY, default=None)
    from_env = os.environ.get("RAY_ADDRESS", "").strip()
    if from_env and configured in (None, "", "auto"):
        return "RAY_ADDRESS", from_env
    if configured in _LOCAL_ADDRESSES:
        return None
    return ADDRESS_KEY, str(configured)


CLUSTER_QUERY_TIMEOUT_S = 60
# ray.init retries an unreachable address for minutes, so the query runs in a child process
# under a deadline, and the child's driver never outlives the check.
_CLUSTER_QUERY = (
    "import json, sys, ray\n"
    "ray.init(address=sys.argv[1], log_to_driver=False, logging_level='ERROR')\n"
    "print('SIRI_VERL_GPUS=' + json.dumps(ray.cluster_resources().get('GPU', 0)))\n"
    "ray.shutdown()\n"
)


def cluster_gpus(key: str, address: str, timeout_s: float = CLUSTER_QUERY_TIMEOUT_S) -> float:
    """The GPUs in the resources of the Ray cluster at ``address`` (named by setting ``key``)."""
    unreachable = (
        f"cannot reach the Ray cluster at {key}={address} "
        f"(start it with `ray start --head`, or fix or unset {key}): "
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", _CLUSTER_QUERY, address], capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(unreachable + f"no answer within {timeout_s:g} s") from None
    found = [line for line in result.stdout.splitlines() if line.startswith("SIRI_VERL_GPUS=")]
    if result.returncode != 0 or not found:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(unreachable + last)
    return float(found[-1].split("=", 1)[1])


@config_check
def response_length_covers_schedule(cfg: DictConfig, choices: Mapping[str, str]) -> None:
    """verl truncates at data.max_response_length, so it must be at least the schedule's maximum."""
    if OmegaConf.select(cfg, "schedule") is None:
        return
    schedule = schedule_of(cfg)
    response_length = OmegaConf.select(cfg, "data.max_response_length")
    if response_length < schedule.max_length():
        raise ConfigError(
            f"data.max_response_length ({response_length}) is below the schedule's maximum "
            f"({schedule.max_length()}); set data.max_response_length >= schedule.l_max"
        )


# The tokens around the previous summary in an InftyThink+ segment prompt (``<history>\n``,
# ``\n</history>\n``: 7 tokens in Qwen's BPE), rounded up so another tokenizer fits too.
HISTORY_TAG_TOKENS = 16


def longest_row(cfg: DictConfig) -> tuple[int, str]:
    """The most tokens (prompt + response) one training row of this config can hold, and how.

    ``siri_length`` / single-turn loops: ``data.max_prompt_length`` + the largest cap a training
    request gets (the schedule's maximum, within ``data.max_response_length``). ``inftythink``: a
    segment's prompt is the question plus the previous summary, which was written inside the
    previous segment's η, so the row is ``data.max_prompt_length`` + history tags + η + η, with η
    the schedule's maximum when it moves η. ``rollout.max_model_len``, when set, bounds every row.
    """
    prompt = int(OmegaConf.select(cfg, "data.max_prompt_length"))
    response = int(OmegaConf.select(cfg, "data.max_response_length"))
    schedule = schedule_of(cfg) if OmegaConf.select(cfg, "schedule") is not None else None
    if OmegaConf.select(cfg, "actor_rollout_ref.rollout.agent.default_agent_loop") == INFTYTHINK_AGENT:
        settings = InftyThinkSettings.from_section(OmegaConf.select(cfg, "inftythink"))
        eta = schedule.max_length() if settings.schedule_target == "segment_cap" else settings.segment_cap
        tokens = prompt + HISTORY_TAG_TOKENS + 2 * eta
        how = (f"data.max_prompt_length {prompt} + {HISTORY_TAG_TOKENS} history-tag tokens + a summary of up to "
               f"eta {eta} + a segment of eta {eta}")  # fmt: skip
    else:
        cap = response if schedule is None else min(schedule.max_length(), response)
        tokens = prompt + cap
        how = f"data.max_prompt_length {prompt} + the largest cap {cap}"
    max_model_len = OmegaConf.select(cfg, "actor_rollout_ref.rollout.max_model_len")
    if max_model_len is not None and int(max_model_len) < tokens:
        return int(max_model_len), f"actor_rollout_ref.rollout.max_model_len {max_model_len}"
    return tokens, how


# verl's per-GPU token budgets under dynamic batching: (budget key, the switch that turns dynamic
# batching on for it, its Ulysses sequence-parallel size key). verl multiplies the budget by the
# SP size (verl/workers/engine/utils.py: prepare_micro_batches) and asserts the product covers
# the longest row (verl/utils/seqlen_balancing.py: rearrange_micro_batches).
_ACTOR = "actor_rollout_ref.actor"
TOKEN_BUDGETS = (
    (f"{_ACTOR}.ppo_max_token_len_per_gpu", f"{_ACTOR}.use_dynamic_bsz", f"{_ACTOR}.ulysses_sequence_parallel_size"),
    ("actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu", "actor_rollout_ref.rollout.log_prob_use_dynamic_bsz",
     f"{_ACTOR}.ulysses_sequence_parallel_size"),
    ("actor_rollout_ref.ref.log_prob_max_token_len_per_gpu", "actor_rollout_ref.ref.log_prob_use_dynamic_bsz",
     "actor_rollout_ref.ref.ulysses_sequence_parallel_size"),
)  # fmt: skip


# The switches of a KL term: verl builds a reference model when either is on
# (``verl.trainer.ppo.utils.need_reference_policy``).
KL_SWITCHES = (f"{_ACTOR}.use_kl_loss", "algorithm.use_kl_in_reward")


def _kl_switches_on(cfg: DictConfig) -> list[str]:
    return [key for key in KL_SWITCHES if OmegaConf.select(cfg, key)]


def _uses_reference_policy(cfg: DictConfig) -> bool:
    """verl builds a reference model only for a KL term."""
    return bool(_kl_switches_on(cfg))


@config_check
def token_budgets_cover_the_longest_row(cfg: DictConfig, choices: Mapping[str, str]) -> None:
    """Every per-GPU token budget verl splits rows by holds the longest row the recipe can make.

    Under dynamic batching verl asserts ``max_token_len >= max_seq_len`` for each micro-batch
    split (actor update, old and reference log-probs): a smaller budget aborts the first step
    whose longest row does not fit, hours into a run.
    """
    tokens, how = longest_row(cfg)
    short = []
    for key, switch, sp_key in TOKEN_BUDGETS:
        if not OmegaConf.select(cfg, switch) or (".ref." in key and not _uses_reference_policy(cfg)):
            continue
        sp_size = int(OmegaConf.select(cfg, sp_key, default=1) or 1)
        budget = int(OmegaConf.select(cfg, key)) * sp_size
        if budget < tokens:
            short.append(f"{key} = {budget // sp_size}" + (f" x {sp_key} {sp_size}" if sp_size > 1 else ""))
    if short:
        raise ConfigError(
            f"token budget per GPU below the longest row, {tokens} tokens ({how}): " + "; ".join(short)
            + f". verl's dynamic batching asserts each budget >= the longest row; set them to at least {tokens}"
        )


@config_check
def no_reference_model_on_cpu(cfg: DictConfig, choices: Mapping[str, str]) -> None:
    """A KL term needs verl's reference model, which its FSDP engine shards forward-only with
    ``CPUOffloadPolicy(pin_memory=True)`` (``verl/workers/engine/fsdp/transformer_impl.py``);
    pinning memory needs an accelerator, so on ``trainer.device=cpu`` the reference's
    ``init_model`` raises "Cannot access accelerator device" a minute into the job."""
    keys = _kl_switches_on(cfg)
    if OmegaConf.select(cfg, "trainer.device") != "cpu" or not keys:
        return
    raise ConfigError(
        f"{' and '.join(f'{key}=true' for key in keys)} needs a reference model, which verl's FSDP engine "
        "builds with pinned CPU offload (CPUOffloadPolicy(pin_memory=True), verl/workers/engine/fsdp/"
        "transformer_impl.py): that needs an accelerator and fails on trainer.device=cpu. Drop the KL term "
        "on the CPU backend, or run on a GPU backend"
    )


@config_check
def siri_verl_settings_are_valid(cfg: DictConfig, choices: Mapping[str, str]) -> None:
    """The ``siri_verl`` section (``siri_verl/project_settings.py``), every key read once."""
    SiriVerlSettings.of(cfg)


@config_check
def inftythink_settings_are_possible(cfg: DictConfig, choices: Mapping[str, str]) -> None:
    if OmegaConf.select(cfg, "actor_rollout_ref.rollout.agent.default_agent_loop") != INFTYTHINK_AGENT:
        return
    settings = InftyThinkSettings.from_section(OmegaConf.select(cfg, "inftythink"))
    settings.validate(response_length=int(OmegaConf.select(cfg, "data.max_response_length")))


DATA_FILE_KEYS = ("data.train_files", "data.val_files")


def _local_data_files(cfg: DictConfig, key: str) -> list[str]:
    """The local paths under ``key`` (a path or a list of paths), resolved.

    Left out: built assets (``${siri_verl_asset:...}``: resolving one builds it, which the
    launcher does on the driver right after these checks), remote URIs (``hdfs://``, ``s3://``:
    verl or the loader fetch them), and unset or unresolvable values (reported elsewhere).
    """
    import re

    from omegaconf.errors import OmegaConfBaseException

    from siri_verl.assets import RESOLVER_NAME

    parent_key, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key)
    if parent is None or leaf not in parent.keys() or OmegaConf.is_missing(parent, leaf):  # `in` would resolve
        return []
    raw = OmegaConf.to_container(parent, resolve=False)[leaf]

    def built(unresolved) -> bool:
        return f"${{{RESOLVER_NAME}:" in str(unresolved)

    try:  # element by element: reading an asset's element would build it
        if isinstance(raw, list):
            paths = [str(parent[leaf][i]) for i, item in enumerate(raw) if not built(item)]
        elif raw is None or built(raw):
            paths = []
        else:
            value = parent[leaf]
            paths = [value] if isinstance(value, str) else [str(item) for item in value]
    except OmegaConfBaseException:
        return []
    return [path for path in paths if not re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", path)]


@config_check
def data_files_exist(cfg: DictConfig, choices: Mapping[str, str]) -> None:
    """Every local ``data.train_files`` / ``data.val_files`` entry is a file.

    verl opens them only in its TaskRunner, after Ray has started: half a minute later, under a
    Ray traceback. Paths are taken as verl takes them: relative to the working directory, with
    no ``~`` expansion. The error names the key and the file, and the ``prepare`` command that
    writes the data sets it knows.
    """
    from siri_verl.data.sources import SOURCES

    missing = [(key, path) for key in DATA_FILE_KEYS for path in _local_data_files(cfg, key) if not os.path.isfile(path)]
    if not missing:
        return
    lines = [f"{key}: {path} not found" + (" (verl does not expand ~)" if path.startswith("~") else "") for key, path in missing]
    by_dir: dict[str, list[str]] = {}
    for _, path in missing:
        name, suffix = os.path.splitext(os.path.basename(path))
        if suffix == ".parquet" and name in SOURCES:
            by_dir.setdefault(os.path.dirname(path) or ".", []).append(name)
    for out, names in by_dir.items():
        lines.append(
            f"write them with: python -m siri_verl.data prepare {' '.join(dict.fromkeys(names))} --out {out}"
            " (add --from DIR to read a local mirror instead of the Hugging Face hub)"
        )
    raise ConfigError("missing data files:\n  " + "\n  ".join(lines))

