"""The eval protocol: the settings two eval results must share to be compared, recorded with each.

Every eval run (``siri_verl/eval/run.py``) records its protocol as MLflow params
``protocol/<key>``, at the head of ``summary.md`` and under ``protocol`` in ``summary.json``;
``python -m siri_verl.pareto`` refuses to put runs with different protocols on one frontier
unless told to (``--mixed-protocols``), naming the keys that differ. The keys:

``n``, ``temperature``, ``top_p``, ``top_k``
    samples per problem (avg@n) and sampling.
``mode``, and the token budget
    ``max_tokens`` per response in ``long`` mode; ``max_segments`` (φ) and ``segment_cap`` (η)
    in ``inftythink`` mode, where ``max_tokens`` is not used.
``limit``
    the first ``limit`` problems of each benchmark were evaluated (``all``: every one).
``prompt_template``
    sha256 of the model's chat template together with the mode's prompt layout: the token ids
    of the prompts the mode builds for a probe question (``inftythink``: a first and a later
    segment), so a change of template, layout or tokenizer changes it.
``answer_checker``
    siri_verl's version, math-verify's version and a sha256 of ``siri_verl/reward/*.py``.
``backend``, ``backend_version``
    the generation backend and the versions of its engine's packages (vllm and torch on GPU;
    transformers and torch on cpu: ``GenerationBackend.engine_packages``).
``dataset/<benchmark>``
    sha256 of the parquet file the benchmark's problems were read from.

Values are strings (MLflow params are), numbers written canonically so that ``temperature=1``
and ``temperature=1.0`` are one protocol.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import siri_verl

# MLflow params of an eval run: protocol/<key>.
PARAM_PREFIX = "protocol/"
# The key of one benchmark's data file.
DATASET_KEY = "dataset/{benchmark}"
# How a key that a run does not record reads when protocols are compared.
NOT_RECORDED = "(not recorded)"
HASH_CHARS = 16


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:HASH_CHARS]


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (the first :data:`HASH_CHARS` hex digits)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:HASH_CHARS]


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def answer_checker_version() -> str:
    """siri_verl's version, math-verify's, and a hash of the answer checker's source files."""
    reward_dir = Path(siri_verl.__file__).parent / "reward"
    digest = hashlib.sha256()
    for path in sorted(reward_dir.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return (
        f"siri_verl {siri_verl.__version__}, math-verify {_package_version('math-verify')}, "
        f"siri_verl/reward sha256:{digest.hexdigest()[:HASH_CHARS]}"
    )


def backend_version(backend) -> str:
    """The versions of the packages that run the backend's engine (its ``engine_packages``)."""
    packages = getattr(type(backend), "engine_packages", ())
    return ", ".join(f"{name} {_package_version(name)}" for name in packages) or f"siri_verl {siri_verl.__version__}"


def prompt_template_hash(chat_template, layout_token_ids: list[list[int]]) -> str:
    """sha256 of the chat template and the mode's prompts for a probe question, as token ids."""
    return _sha256(json.dumps({"chat_template": chat_template, "layout": layout_token_ids}, sort_keys=True).encode())


def eval_protocol(cfg, backend, layout_token_ids: list[list[int]], dataset_files: dict[str, Path]) -> dict[str, str]:
    """The protocol of an eval run (keys in the module docstring), every value a string."""
    protocol: dict[str, object] = {
        "n": int(cfg.n),
        "temperature": float(cfg.temperature),
        "top_p": float(cfg.top_p),
        "top_k": int(cfg.top_k),
        "mode": cfg.mode,
    }
    if cfg.mode == "inftythink":
        protocol.update(max_segments=int(cfg.inftythink.max_segments), segment_cap=int(cfg.inftythink.segment_cap))
    else:
        protocol["max_tokens"] = int(cfg.max_tokens)
    protocol["limit"] = int(cfg.limit) if cfg.limit else "all"
    protocol["prompt_template"] = prompt_template_hash(getattr(backend.tokenizer, "chat_template", None), layout_token_ids)
    protocol["answer_checker"] = answer_checker_version()
    protocol["backend"] = cfg.backend
    protocol["backend_version"] = backend_version(backend)
    for benchmark, path in dataset_files.items():
        protocol[DATASET_KEY.format(benchmark=benchmark)] = file_sha256(path)
    return {key: str(value) for key, value in protocol.items()}


def protocol_markdown(protocol: dict[str, str]) -> str:
    """The protocol as the header of ``summary.md``."""
    lines = [f"## Eval protocol (MLflow params {PARAM_PREFIX}*)", "", "| key | value |", "|---|---|"]
    lines += [f"| {key} | `{value}` |" for key, value in protocol.items()]
    return "\n".join(lines) + "\n"


def for_benchmark(params: dict[str, str], benchmark: str) -> dict[str, str]:
    """A run's protocol as far as one benchmark is concerned: its ``protocol/*`` params without
    the prefix, the benchmark's data file under ``dataset`` and other benchmarks' files dropped."""
    protocol = {}
    dataset_key = DATASET_KEY.format(benchmark=benchmark)
    for key, value in params.items():
        if not key.startswith(PARAM_PREFIX):
            continue
        key = key[len(PARAM_PREFIX) :]
        if key == dataset_key:
            protocol["dataset"] = value
        elif not key.startswith(DATASET_KEY.format(benchmark="")):
            protocol[key] = value
    return protocol


def differences(protocols: list[tuple[str, dict[str, str]]]) -> dict[str, list[tuple[str, str]]]:
    """The keys whose values differ between the named protocols: ``{key: [(name, value), ...]}``.

    A key one protocol records and another does not differs (the other reads
    :data:`NOT_RECORDED`); protocols that record nothing at all have nothing to compare.
    """
    keys = list(dict.fromkeys(key for _, protocol in protocols for key in protocol))
    found = {}
    for key in keys:
        values = [(name, protocol.get(key, NOT_RECORDED)) for name, protocol in protocols]
        if len({value for _, value in values}) > 1:
            found[key] = values
    return found


def describe_differences(found: dict[str, list[tuple[str, str]]]) -> str:
    """One line per differing key: ``  n: run_a=1, run_b=2``."""
    return "\n".join(f"  {key}: " + ", ".join(f"{name}={value}" for name, value in values) for key, values in found.items())
