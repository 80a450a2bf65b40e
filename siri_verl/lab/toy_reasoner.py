"""The toy reasoner of the toy-scale study: a character tokenizer, a 1M Qwen2, and its SFT builds.

Everything is made offline and cached under ``cache_root()`` keyed by what it was built from:

1. :func:`build_tokenizer`: one token per character of printable ASCII and ``\\n``, plus single
   tokens for the R1-style tags, ``\\boxed{`` and the paragraph break ``\\n\\n``, with the
   DeepSeek-R1-Distill special tokens and chat template of :mod:`siri_verl.lab.tiny`. Token
   counts are predictable: a running-sum step such as ``S10+8=18`` and its paragraph break are
   9 tokens.
2. :func:`ensure_toy_reasoner_base`: a randomly initialised Qwen2 (hidden 128, 4 layers, about
   1M parameters) with that tokenizer: asset ``toy_reasoner_base``.
3. :func:`ensure_toy_warmstart`: the warm start every study and demo starts from, one build of
   ``python -m siri_verl.sft recipe=toy_warmstart`` (verl's SFT trainer, one CPU process, on
   concise and verbose running-sum solutions from the base model) shipped in the package
   (``siri_verl/lab/toy_warmstart/``, its PROVENANCE.json): asset ``toy_warmstart_model``.
   The build is float-order sensitive (two builds of one cache key scored 56 % and 76.5 %,
   results/toy_study_noise.md), so a study that rebuilt it would measure which build it drew.
   :func:`build_toy_warmstart` runs the recipe itself: asset ``toy_warmstart_build``.
4. :func:`ensure_toy_inftythink`: the InftyThink+ cold start through the real pipeline: long
   traces -> ``python -m siri_verl.inftythink.coldstart --backend toy_rule`` (segments of η
   tokens, rule-written summaries) -> ``python -m siri_verl.sft recipe=toy_inftythink_coldstart``
   from the warm start: asset ``toy_inftythink_model``.
5. :func:`ensure_toy_longcot`: the long-CoT baseline's starting policy, the same long traces
   unsegmented (one response per question) -> ``python -m siri_verl.sft recipe=toy_longcot``
   from the warm start: asset ``toy_longcot_model``. It stands for the paper's base model, which
   already reasons in one long chain before any RL.

Each SFT build runs the recipe as a subprocess, takes the last ``global_step_N/huggingface``
directory it saved, and publishes it atomically with the run's log and MLflow store under
``build/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from siri_verl import console
from siri_verl.assets import cache_root, publish_atomically
from siri_verl.lab.tiny import (
    ASSISTANT,
    BOS,
    CHAT_TEMPLATE,
    EOS,
    PAD,
    TAG_TOKENS,
    USER,
    build_model,
)

# One token each: every printable ASCII character and the line break.
CHARACTERS = [chr(code) for code in range(32, 127)] + ["\n"]
# Multi-character tokens of the task's layout (added, not special: decoding keeps them).
LAYOUT_TOKENS = [*TAG_TOKENS, "\\boxed{", "\n\n"]
# Any other character (none occurs in the task or the cold-start prompts) becomes this token.
UNK = "<|endoftext|>"

# The InftyThink+ cold start's η: most reasoning tokens per segment (about 5 steps).
TOY_ETA = 48


@dataclass(frozen=True)
class ToyReasonerSpec:
    """Every setting of the base model (part of every cache key built on it)."""

    hidden_size: int = 128
    intermediate_size: int = 512
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 512
    seed: int = 0
    # Bumped whenever the tokenizer or model code changes, so stale caches are not reused.
    builder_version: int = 1

    def cache_key(self) -> str:
        return _digest(asdict(self))


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


def build_tokenizer():
    """A character-level ``PreTrainedTokenizerFast`` with R1-style specials and chat template.

    Written as a byte-level BPE with no merges, so that it is one token per character both as
    built and as reloaded by ``AutoTokenizer`` (which, for a ``qwen2`` model directory, rebuilds
    the tokenizer as ``Qwen2Tokenizer`` with byte-level pre-tokenisation and ``<|endoftext|>`` as
    its unknown token: anything else would lose spaces and line breaks on reload).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    byte_chars = _bytes_to_unicode()
    specials = [BOS, EOS, PAD, USER, ASSISTANT, UNK]
    characters = [byte_chars[ord(c)] for c in CHARACTERS]
    vocab = {token: index for index, token in enumerate(specials + characters)}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=[USER, ASSISTANT],
        clean_up_tokenization_spaces=False,
    )
    tokenizer.add_tokens(LAYOUT_TOKENS)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table, the alphabet of byte-level BPE."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, shift = {b: chr(b) for b in printable}, 0
    for byte in range(256):
        if byte not in table:
            table[byte] = chr(256 + shift)
            shift += 1
    return table


def ensure_toy_reasoner_base(spec: ToyReasonerSpec | None = None, root: Path | None = None) -> Path:
    """The randomly initialised toy reasoner and its tokenizer (an HF directory), built once."""
    spec = spec or ToyReasonerSpec()
    target = (root or cache_root()) / "models" / f"toy-reasoner-base-{spec.cache_key()}"
    if (target / "config.json").exists():
        return target

    def write(staging: Path) -> None:
        tokenizer = build_tokenizer()
        build_model(spec, tokenizer).save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "siri_verl_spec.json").write_text(json.dumps(asdict(spec), indent=2))

    return publish_atomically(target, write)


# ---------------------------------------------------------------------------------------------
# SFT builds
# ---------------------------------------------------------------------------------------------


def _recipe_settings(recipe: str) -> str:
    """The recipe file without its comment and blank lines: what a build depends on."""
    from siri_verl.config import conf_dir

    lines = (Path(conf_dir()) / "sft" / "recipe" / f"{recipe}.yaml").read_text().splitlines()
    return "\n".join(line for line in lines if line.strip() and not line.lstrip().startswith("#"))


def _final_hf_dir(checkpoints: Path) -> Path:
    """The ``huggingface`` directory of the highest ``global_step_N`` under ``checkpoints``."""
    steps = sorted(
        (int(path.parent.name.removeprefix("global_step_")), path)
        for path in checkpoints.glob("global_step_*/huggingface")
        if (path / "config.json").exists()
    )
    if not steps:
        raise FileNotFoundError(f"no global_step_*/huggingface with a config.json under {checkpoints}")
    return steps[-1][1]


def fingerprint(path: Path) -> str:
    """A digest of a file's bytes, or of a directory's file names and bytes (recursively)."""
    digest = hashlib.sha256()
    if not path.is_dir():
        digest.update(path.read_bytes())
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


# Thread caps a caller set for its own processes, not for a build: the CPU backend exports
# OMP_NUM_THREADS and TQ_NUM_THREADS for its Ray workers before the config's assets resolve, and
# the toy study's lanes split the cores. A warm start built under the backend's cap of the time
# (OMP_NUM_THREADS=1) by `make demo` was not the one
# `python -m siri_verl.assets` builds on the same machine: 1.0 s a step instead of 0.63, and 0.54
# sampled accuracy (T = 0.6) instead of 0.89, the float order having changed the SFT run.
_CALLER_THREAD_CAPS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TQ_NUM_THREADS")


def build_environment(environ) -> dict[str, str]:
    """The environment of an SFT build process: the caller's, less its MLflow run (the build's run
    is its own, never a child of whatever run resolved the asset) and its thread caps (torch takes
    every core, as when ``python -m siri_verl.assets`` builds it)."""
    from siri_verl.tracking.runs import PARENT_RUN_ENV

    dropped = (PARENT_RUN_ENV, *_CALLER_THREAD_CAPS)
    return {k: v for k, v in environ.items() if not k.startswith("MLFLOW_") and k not in dropped}


def run_sft_build(
    name: str, recipe: str, inputs: dict[str, Path], settings: dict[str, str] | None = None, root: Path | None = None
) -> Path:
    """Run ``python -m siri_verl.sft recipe=<recipe> <inputs> <settings>`` once; cache its final model.

    ``inputs`` are path overrides (``model.path``, ``data.train_files``), ``settings`` any other
    overrides. The cache key covers the recipe file (comments aside), the settings and the content
    of the inputs (not their paths), so the same build from regenerated identical data is reused.
    A failed run raises, naming its log (kept beside the cache entry).
    """
    settings = settings or {}
    key = _digest({
        "recipe": recipe,
        "recipe_settings": _recipe_settings(recipe),
        "settings": settings,
        "inputs": {k: fingerprint(Path(v)) for k, v in inputs.items()},
    })  # fmt: skip
    target = (root or cache_root()) / "models" / f"{name}-{key}"
    if (target / "config.json").exists():
        return target
    overrides = {**{k: str(v) for k, v in inputs.items()}, **settings}

    def write(staging: Path) -> None:
        build = staging / "build"
        command = [
            sys.executable, "-m", "siri_verl.sft", f"recipe={recipe}",
            *(f"{k}={v}" for k, v in overrides.items()),
            f"hydra.run.dir={build}",
            f"trainer.default_local_dir={build / 'checkpoints'}",
            f"siri_verl.mlflow.tracking_uri=sqlite:///{build / 'mlflow.db'}",
        ]  # fmt: skip
        env = build_environment(os.environ)
        build.mkdir(parents=True)
        log_path = build / "sft.log"
        print(f"siri_verl: building {name} ({' '.join(command[1:])}); log: {log_path}", file=sys.stderr, flush=True)
        returncode = console.run_logged(command, str(log_path), f"building {name}", env=env, cwd=staging)
        if returncode != 0:
            kept = target.with_name(target.name + ".failed.log")
            shutil.copyfile(log_path, kept)
            raise RuntimeError(f"building {name} failed (exit {returncode}): {' '.join(command)}; log: {kept}")
        hf_dir = _final_hf_dir(build / "checkpoints")
        for item in hf_dir.iterdir():
            shutil.move(str(item), staging / item.name)
        shutil.rmtree(build / "checkpoints")
        spec = {"recipe": recipe, "overrides": overrides, "from": hf_dir.parent.name, "key": key}
        (staging / "siri_verl_spec.json").write_text(json.dumps(spec, indent=2))

    return publish_atomically(target, write)


SHIPPED_WARMSTART = Path(__file__).with_name("toy_warmstart")


def ensure_toy_warmstart(root: Path | None = None) -> Path:
    """The warm-start policy every study and demo starts from: the shipped build
    (``siri_verl/lab/toy_warmstart``), checked against the digest in its PROVENANCE.json.

    ``root`` is accepted for the callers that build on it (the cold start, the long-CoT start);
    the shipped files are read in place, never copied.
    """
    provenance = json.loads((SHIPPED_WARMSTART / "PROVENANCE.json").read_text())
    weights = SHIPPED_WARMSTART / "model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    if digest != provenance["model_sha256"]:
        raise RuntimeError(
            f"{weights}: sha256 {digest} is not the shipped warm start's ({provenance['model_sha256']}): "
            "a damaged install (reinstall siri-verl), or a Git LFS pointer in a checkout"
        )
    return SHIPPED_WARMSTART


def build_toy_warmstart(root: Path | None = None) -> Path:
    """A fresh warm start: ``recipe=toy_warmstart`` from the base model on the SFT rows, cached.
    Not the shipped one unless float order happens to agree (module doc, item 3)."""
    from siri_verl.lab.running_sums import ensure_dataset

    base, rows = ensure_toy_reasoner_base(root=root), ensure_dataset(root=root)["running_sums_sft"]
    return run_sft_build("toy-warmstart", "toy_warmstart", {"model.path": base, "data.train_files": rows}, root=root)


def build_coldstart_data(out: Path, traces: Path, tokenizer_dir: Path, eta: int = TOY_ETA) -> Path:
    """The cold start (``siri_verl.inftythink.coldstart``) on the long traces with the rule
    summariser; returns ``<out>/train.parquet``."""
    from siri_verl.inftythink import coldstart

    job = coldstart.ColdStartJob(input=str(traces), out=str(out), backend="toy_rule", summarizer=str(tokenizer_dir),
                                 tokenizer=str(tokenizer_dir), eta=eta, max_retries=0)  # fmt: skip
    summary = coldstart.run(job)
    if summary["malformed"] or summary["failed"]:
        raise RuntimeError(f"cold start on {traces}: {summary}")
    return out / "train.parquet"


def ensure_toy_inftythink(root: Path | None = None, eta: int = TOY_ETA) -> Path:
    """The InftyThink+ cold-start policy: segmented long traces, then
    ``recipe=toy_inftythink_coldstart`` from the warm start (which already adds digits, as
    R1-Distill already reasons before the paper's cold start)."""
    from siri_verl.lab.running_sums import ensure_dataset

    warmstart = ensure_toy_warmstart(root)
    data = ensure_dataset(root=root)
    segmented = data["long_sums_traces"].parent / f"coldstart-eta{eta}-{warmstart.name}"
    if not segmented.is_dir():
        traces = data["long_sums_traces"]
        publish_atomically(segmented, lambda staging: build_coldstart_data(staging, traces, warmstart, eta))
    inputs = {"model.path": warmstart, "data.train_files": segmented / "train.parquet"}
    return run_sft_build("toy-inftythink", "toy_inftythink_coldstart", inputs, root=root)


def build_longcot_data(out: Path, traces: Path) -> Path:
    """The long traces as single-turn SFT rows (question, then the whole trace as one response,
    ``<think>\\n`` without loss): ``<out>/train.parquet``."""
    from siri_verl.jsonl import read_lines
    from siri_verl.lab.running_sums import ASSISTANT_PREFIX, write_sft_parquet

    rows = []
    for line in read_lines(traces):
        if line.error:
            raise ValueError(f"{traces} line {line.index + 1}: {line.error}")
        row = line.value
        messages = [{"role": "user", "content": row["question"]}, {"role": "assistant", "content": row["trace"]}]
        rows.append({"messages": messages, "assistant_prefix": ASSISTANT_PREFIX})
    return write_sft_parquet(rows, out / "train.parquet")


def ensure_toy_longcot(root: Path | None = None) -> Path:
    """The long-CoT baseline's starting policy: the cold start's long traces, unsegmented, then
    ``recipe=toy_longcot`` from the warm start."""
    from siri_verl.lab.running_sums import ensure_dataset

    warmstart = ensure_toy_warmstart(root)
    traces = ensure_dataset(root=root)["long_sums_traces"]
    rows = traces.parent / "longcot-sft"
    if not rows.is_dir():
        publish_atomically(rows, lambda staging: build_longcot_data(staging, traces))
    inputs = {"model.path": warmstart, "data.train_files": rows / "train.parquet"}
    return run_sft_build("toy-longcot", "toy_longcot", inputs, root=root)

