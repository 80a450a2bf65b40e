"""GPU check helpers (results/gpu_check.md): the cold-start SFT on CUDA and the InftyThink inference loop.

Not part of the package or its tests; run on a machine with a GPU, see results/gpu_check.md for
the exact commands. Subcommands:

  model   a randomly initialised Qwen2 with R1-Distill-Qwen's vocabulary and tokenizer fixture
          (siri_verl/models/r1_distill.py), saved as an HF directory
  data    a train / held-out split of a cold-start parquet (python -m siri_verl.inftythink.coldstart)
  loss    mean cross-entropy of models on held-out cold-start rows, tokenised as the SFT dataset
          does (prompt + assistant prefix: no loss; segment + EOS: loss)
  infer   the InftyThink iterative inference loop (siri_verl.inftythink.inference) with the
          project's HF backend, on a device; checks the per-call cap and measures tokens/s
  template  the R1-Distill tokenizer fixture's contract on the installed transformers
  profile   where the time of the HF backend's decode loop goes on a device (forward passes,
            torch's default-device mode, per-token host syncs), with HF generate() as a reference
  modules   run a python module (``-m``) in-process and write the distributions it imported
  carry     build the carry directory for the device (.gpu/, gitignored): the packages the RL path
            needs that the device lacks, as one xz tarball of cp312 manylinux installs, and the
            toy assets (models, data) in a cache directory; writes .gpu/carry.json with the sizes
  rl        verl's Ray GRPO trainer through `python -m siri_verl`: the toy recipes for a few steps on
            each backend (gpu_hf on CUDA, cpu on the host's cores), a checkpoint saved and reloaded,
            step times; logs and rl_check.json under --out. `--dry-run` prints the commands.

The device run (results/gpu_check.md, "The RL trainer on one GPU"), from the repository root:

  python3 scripts/gpu_check.py rl --site .gpu/site312.tar.xz --cache .gpu/cache --out $OUT
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# R1-Distill-Qwen-1.5B's config.json widths (public Hub copy); --layers picks how many of its 28.
R1_1_5B = dict(
    hidden_size=1536, intermediate_size=8960, num_attention_heads=12, num_key_value_heads=2,
    vocab_size=151936, max_position_embeddings=131072, rope_theta=10000.0, rms_norm_eps=1e-6,
    tie_word_embeddings=False, bos_token_id=151646, eos_token_id=151643, hidden_act="silu",
)  # fmt: skip


def cmd_model(args) -> None:
    import shutil

    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(args.seed)
    widths = dict(R1_1_5B)
    if args.hidden:
        heads = max(1, args.hidden // 128)
        widths.update(hidden_size=args.hidden, intermediate_size=args.hidden * 3, num_attention_heads=heads,
                      num_key_value_heads=1)  # fmt: skip
    config = Qwen2Config(num_hidden_layers=args.layers, **widths)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    out = Path(args.out)
    model.save_pretrained(out)
    GenerationConfig(bos_token_id=151646, eos_token_id=151643, pad_token_id=151643).save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(Path(args.tokenizer) / name, out / name)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"model": str(out), "params": params, "layers": args.layers, **widths}))


def cmd_data(args) -> None:
    import pandas as pd

    frame = pd.read_parquet(args.src)
    train = frame.iloc[: args.train]
    heldout = frame.iloc[len(frame) - args.heldout :]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train.to_parquet(out / "train.parquet")
    heldout.to_parquet(out / "heldout.parquet")
    print(json.dumps({"train": len(train), "heldout": len(heldout), "columns": list(frame.columns)}))


def _rows(path: str, limit: int):
    import pandas as pd

    frame = pd.read_parquet(path).iloc[:limit]
    for index, row in enumerate(frame.itertuples()):
        yield index, [dict(m) for m in row.messages], row.assistant_prefix


def cmd_loss(args) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from siri_verl.inftythink.sft_dataset import segment_tokens

    device = args.device
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    examples = [segment_tokens(tokenizer, messages, prefix, i) for i, messages, prefix in _rows(args.data, args.rows)]
    result = {"rows": len(examples), "target_tokens": sum(len(e.response_ids) for e in examples)}
    for model_path in args.models:
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).to(device).eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for example in examples:
                ids = torch.tensor([example.prompt_ids + example.response_ids], device=device)
                labels = ids.clone()
                labels[0, : len(example.prompt_ids)] = -100
                n = len(example.response_ids)
                loss = model(input_ids=ids, labels=labels).loss
                total += float(loss) * n
                count += n
        result[model_path] = round(total / count, 4)
        del model
    print("LOSS " + json.dumps(result))


def cmd_template(args) -> None:
    import transformers
    from transformers import AutoTokenizer

    from siri_verl.inftythink.protocol import IterativeState, render_summary_segment
    from siri_verl.prompt_render import render_prompt_ids as prompt_ids

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    state = IterativeState("What is 1+2+3?", 4)
    messages, prefix = state.next_prompt()
    first = tokenizer.decode(prompt_ids(tokenizer, messages, prefix))
    segment = render_summary_segment("add 1 and 2", "3 so far")
    ids = tokenizer(segment, add_special_tokens=False)["input_ids"]
    checks = {
        "transformers": transformers.__version__,
        "class": type(tokenizer).__name__,
        "len": len(tokenizer),
        "hello_ids": tokenizer("hello")["input_ids"],
        "bos_eos_pad": [tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id],
        "unk": tokenizer.unk_token,
        "think_ids": tokenizer.convert_tokens_to_ids(["<think>", "</think>"]),
        "first_prompt": first,
        "segment_roundtrip": tokenizer.decode(ids) == segment,
        "skip_special_keeps_think_close": "</think>" in tokenizer.decode(ids + [151643], skip_special_tokens=True),
    }
    expected = {
        "len": 151665, "hello_ids": [151646, 14990], "bos_eos_pad": [151646, 151643, 151643], "unk": None,
        "think_ids": [151648, 151649], "first_prompt": "<｜begin▁of▁sentence｜><｜User｜>What is 1+2+3?<｜Assistant｜><think>\n",
        "segment_roundtrip": True, "skip_special_keeps_think_close": True,
    }  # fmt: skip
    failed = {k: (checks[k], v) for k, v in expected.items() if checks[k] != v}
    print("TEMPLATE " + json.dumps({**checks, "failed": failed}, ensure_ascii=False))
    if failed:
        raise SystemExit(1)


def cmd_infer(args) -> None:
    import torch

    from siri_verl.generation import SamplingSettings
    from siri_verl.generation_backends import make_backend
    from siri_verl.inftythink.inference import run_iterative_batch
    from siri_verl.prompt_render import render_prompt_ids as prompt_ids
    from siri_verl.request_budget import request_max_tokens

    backend = make_backend("cpu", args.model, batch_size=args.batch)
    # The project's HF backend builds its tensors with torch's default device; greedy decoding
    # needs no generator, so the same code runs on CUDA with the default device set there.
    backend.model.to(device=args.device, dtype=getattr(torch, args.dtype))
    torch.set_default_device(args.device)
    settings = SamplingSettings(temperature=0.0)
    questions = [f"Q{i}: what is {i}+{i * 7 % 13}?" for i in range(args.questions)]
    # a small warm-up, then --repeat timed runs of the whole batch (the first pays the rest of the warm-up)
    run_iterative_batch(backend, questions[:2], 1, 4, settings)
    timings = []
    for _ in range(args.repeat):
        if args.device == "cuda":
            torch.cuda.synchronize()
        began = time.perf_counter()
        outcomes = run_iterative_batch(backend, questions, args.segments, args.cap, settings)
        if args.device == "cuda":
            torch.cuda.synchronize()
        timings.append(time.perf_counter() - began)
    seconds = timings[-1]
    generated = sum(r.generation.num_tokens for o in outcomes for r in o.trajectory.records)
    per_call = [r.generation.num_tokens for o in outcomes for r in o.trajectory.records]
    peak = max(o.peak_context for o in outcomes)
    first_prompt = len(prompt_ids(backend.tokenizer, *_first_prompt(questions[0], args.segments)))
    # the per-call budget the agent loops compute from the cap and the context left
    budget = request_max_tokens(args.cap, first_prompt, args.max_model_len)
    result = {
        "device": args.device, "dtype": args.dtype, "questions": len(questions), "segments": args.segments,
        "cap": args.cap, "calls": len(per_call), "max_tokens_in_a_call": max(per_call), "generated": generated,
        "seconds": round(seconds, 3), "tokens_per_s": round(generated / seconds, 1), "peak_context": peak,
        "tokens_per_s_each_run": [round(generated / t, 1) for t in timings],
        "first_prompt_tokens": first_prompt, "request_max_tokens": budget,
        "stop_reasons": sorted({o.trajectory.stop_reason.value for o in outcomes}),
        "cap_respected": max(per_call) <= args.cap,
    }  # fmt: skip
    print("INFER " + json.dumps(result))


def cmd_profile(args) -> None:
    import torch

    from siri_verl.backends.cpu.hf_sampler import generate_batch
    from siri_verl.generation import SamplingSettings
    from siri_verl.generation_backends import make_backend
    from siri_verl.prompt_render import render_prompt_ids as prompt_ids

    device = args.device
    backend = make_backend("cpu", args.model, batch_size=args.questions)
    model = backend.model.to(device=device, dtype=getattr(torch, args.dtype))
    tokenizer = backend.tokenizer
    prompts = [
        prompt_ids(tokenizer, *_first_prompt(f"Q{i}: what is {i}+{i * 7 % 13}?", 1)) for i in range(args.questions)
    ]
    width = max(map(len, prompts))
    ids = torch.full((len(prompts), width), backend.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt)
        mask[row, width - len(prompt) :] = 1
    ids, mask = ids.to(device), mask.to(device)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    @torch.no_grad()
    def decode_loop(steps: int) -> float:
        """Prefill + greedy decode steps, tensors built on the device, no per-token host sync."""
        attention, step_input, past = mask, ids, None
        sync()
        began = time.perf_counter()
        for _ in range(steps):
            position = (attention.cumsum(-1) - 1).clamp(min=0)[:, -step_input.shape[1] :]
            out = model(input_ids=step_input, attention_mask=attention, position_ids=position, past_key_values=past,
                        use_cache=True)  # fmt: skip
            past = out.past_key_values
            step_input = out.logits[:, -1, :].argmax(-1, keepdim=True)
            attention = torch.cat([attention, torch.ones_like(step_input)], dim=-1)
        sync()
        return time.perf_counter() - began

    steps = args.cap
    tokens = steps * len(prompts)
    result = {"device": device, "dtype": args.dtype, "batch": len(prompts), "new_tokens_per_row": steps}
    first = decode_loop(steps)  # the process's first full loop (includes warm-up)
    plain = decode_loop(steps)
    with torch.device(device):  # what torch.set_default_device installs: a TorchFunctionMode
        mode = decode_loop(steps)
    result["forward_loop_first_tokens_per_s"] = round(tokens / first, 1)
    result["forward_loop_tokens_per_s"] = round(tokens / plain, 1)
    result["forward_loop_in_default_device_mode_tokens_per_s"] = round(tokens / mode, 1)

    # The project's sampler (siri_verl.backends.cpu.hf_sampler.generate_batch), as cmd_infer runs it,
    # with the time inside the model's forward measured separately.
    forward_time = [0.0]
    inner = model.forward

    def timed_forward(*a, **k):
        sync()
        began = time.perf_counter()
        out = inner(*a, **k)
        sync()
        forward_time[0] += time.perf_counter() - began
        return out

    model.forward = timed_forward
    settings = SamplingSettings(temperature=0.0)
    with torch.device(device):
        sync()
        began = time.perf_counter()
        generations = generate_batch(model, prompts, [steps] * len(prompts), settings, {-1}, backend.pad_token_id)
        sync()
        total = time.perf_counter() - began
    model.forward = inner
    produced = sum(len(g.token_ids) for g in generations)
    result.update(project_sampler_tokens_per_s=round(produced / total, 1), project_sampler_seconds=round(total, 3),
                  project_sampler_forward_seconds=round(forward_time[0], 3))  # fmt: skip

    # transformers' own generate() on the same batch, greedy, exactly `steps` new tokens per row.
    model.generation_config.pad_token_id = backend.pad_token_id
    with torch.no_grad():
        model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=4, min_new_tokens=4, do_sample=False)
        sync()
        began = time.perf_counter()
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=steps, min_new_tokens=steps,
                             do_sample=False)  # fmt: skip
        sync()
        seconds = time.perf_counter() - began
    result["hf_generate_tokens_per_s"] = round((out.shape[1] - width) * len(prompts) / seconds, 1)
    print("PROFILE " + json.dumps(result))


def _first_prompt(question: str, segments: int):
    from siri_verl.inftythink.protocol import IterativeState

    return IterativeState(question, segments).next_prompt()


def cmd_modules(args) -> None:
    """Run ``-m MODULE ARGS`` in-process, then write the installed distributions it imported."""
    import atexit
    import importlib.metadata as md
    import runpy

    def dump() -> None:
        mapping = md.packages_distributions()
        dists = set()
        for name in list(sys.modules):
            for dist in mapping.get(name.split(".")[0], []):
                dists.add(dist)
        versions = {d: md.version(d) for d in sorted(dists, key=str.lower)}
        Path(args.out).write_text(json.dumps(versions, indent=1))

    atexit.register(dump)
    sys.argv = [args.module, *args.rest]
    runpy.run_module(args.module, run_name="__main__", alter_sys=True)


# --------------------------------------------------------------------------- carry: what travels

CARRY_DIR = Path(".gpu")
SITE_TARBALL = CARRY_DIR / "site312.tar.xz"
ASSET_CACHE = CARRY_DIR / "cache"
# The toy recipes' assets (conf/recipe/_toy_*.yaml): built here, since building them on the
# device (SFT runs on its CPUs) would take most of a call.
TOY_ASSETS = ("toy_warmstart_model", "toy_inftythink_model", "running_sums_train", "running_sums_test",
              "long_sums_train", "long_sums_test")  # fmt: skip
# Installed on the device (the device tool's KINDS.md package list) and acceptable to verl and this
# project at the device's version: not carried, and neither are their own requirements.
DEVICE_HAS = {
    "absl-py", "accelerate", "aiohappyeyeballs", "aiohttp", "aiosignal", "annotated-doc", "anyio", "attrs",
    "certifi", "charset-normalizer", "click", "cloudpickle", "contourpy", "cycler", "filelock", "fonttools",
    "frozenlist", "fsspec", "grpcio", "h11", "hf-xet", "httpcore", "huggingface-hub", "idna", "jinja2", "joblib",
    "kiwisolver", "markdown", "markdown-it-py", "markupsafe", "matplotlib", "mdurl", "mpmath", "msgpack",
    "multidict", "narwhals", "networkx", "numpy", "packaging", "pandas", "peft", "pillow", "prometheus-client",
    "propcache", "protobuf", "psutil", "pyarrow", "pybind11", "pygments", "pyparsing", "python-dateutil",
    "pyyaml", "regex", "requests", "rich", "safetensors", "scikit-learn", "scipy", "setuptools", "shellingham",
    "six", "sympy", "tensorboard", "tensorboard-data-server", "threadpoolctl", "torch", "tqdm", "typer",
    "typing-extensions", "urllib3", "werkzeug", "yarl", "zipp",
}  # fmt: skip
# On the device but at a version verl 0.9.1 refuses (transformers>=5.5.3,<5.11; tokenizers<=0.23.0
# for that transformers): carried at this checkout's versions, installed --no-deps, and first on
# PYTHONPATH so they shadow the device's transformers 5.17 / tokenizers 0.23.2.
CARRY_ANYWAY = {"transformers", "tokenizers"}
# Not carried, with what only they would have brought. mlflow, wandb: the device run logs to the
# console. av (35.8 MB wheel), torchcodec (10.0 MB), qwen-vl-utils: verl's and datasets' video and
# vision inputs, which text-only recipes never import. virtualenv (5.5 MB), py-spy (2.9 MB): Ray's
# runtime-env and profiling tools. pytest and its plugins: requirements of test suites.
LEFT_BEHIND = {"mlflow", "wandb", "av", "torchcodec", "qwen-vl-utils", "virtualenv", "py-spy", "pytest",
               "pytest-asyncio", "pytest-rerunfailures"}  # fmt: skip
# Ray's Java-worker jar (34.5 MB, a third of the wheel): Python-only Ray never loads it.
TRIMMED = ("ray/jars/ray_dist.jar",)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")  # fmt: skip
DEVICE_MARKERS = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
                  "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython",
                  "platform_python_implementation": "CPython", "os_name": "posix"}  # fmt: skip


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def carry_plan(root: str = "siri-verl") -> dict[str, str]:
    """``{distribution: version}`` to carry: ``root``'s requirements, walked through this environment's
    installed metadata with the device's markers (Python 3.12, Linux x86-64), less DEVICE_HAS and
    LEFT_BEHIND and what only they require."""
    import importlib.metadata as md

    from packaging.requirements import Requirement

    def wanted(requirement: Requirement, extras: tuple[str, ...]) -> bool:
        marker = requirement.marker
        return marker is None or any(marker.evaluate({**DEVICE_MARKERS, "extra": e}) for e in ("", *extras))

    plan: dict[str, str] = {}
    seen: set[str] = set()
    todo = [Requirement(r) for r in md.requires(root) or [] if wanted(Requirement(r), ())]
    while todo:
        requirement = todo.pop()
        name = _normalized(requirement.name)
        key = name + str(sorted(requirement.extras))
        if key in seen or name in LEFT_BEHIND or (name in DEVICE_HAS and name not in CARRY_ANYWAY):
            continue
        seen.add(key)
        plan[name] = md.version(requirement.name).split("+")[0]
        extras = tuple(requirement.extras)
        todo += [Requirement(r) for r in md.requires(requirement.name) or [] if wanted(Requirement(r), extras)]
    return dict(sorted(plan.items()))


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True)


def cmd_carry(args) -> None:
    """Download the plan's cp312 wheels, install them into a staging folder, trim, pack; build the assets."""
    plan = carry_plan()
    wheels = Path(args.build) / "wheels"
    stage = Path(args.build) / "stage"
    shutil.rmtree(stage, ignore_errors=True)
    wheels.mkdir(parents=True, exist_ok=True)
    platform_args = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    target = ["--python-version", "3.12", "--implementation", "cp", *platform_args, "--only-binary=:all:"]
    sizes = {}
    for name, version in plan.items():
        def downloaded() -> list[Path]:
            return [w for w in wheels.glob("*.whl") if _normalized(w.name.split("-")[0]) == name and w.name.split("-")[1] == version]

        if not downloaded():
            try:
                _pip("download", "--no-deps", *target, "-d", str(wheels), f"{name}=={version}")
            except subprocess.CalledProcessError:  # an sdist only (antlr4-python3-runtime): a pure-Python build
                _pip("wheel", "--no-deps", "-w", str(wheels), f"{name}=={version}")
        wheel = downloaded()[0]
        sizes[wheel.name] = wheel.stat().st_size
    # The plan's wheels only: the folder may hold others from an earlier plan.
    _pip("install", "--no-deps", "--no-compile", "--target", str(stage), *target, *(str(wheels / name) for name in sizes))
    trimmed = {}
    for relative in TRIMMED:
        path = stage / relative
        if path.exists():
            trimmed[relative] = path.stat().st_size
            path.unlink()
    CARRY_DIR.mkdir(exist_ok=True)
    subprocess.run(f"tar -C {stage} -c . | xz -9e -T0 > {SITE_TARBALL}", shell=True, check=True)
    if not args.no_assets:
        env = {**os.environ, "SIRI_VERL_CACHE": str(ASSET_CACHE.resolve())}
        subprocess.run([sys.executable, "-m", "siri_verl.assets", *TOY_ASSETS], env=env, check=True)
    report = {
        "wheels": sizes, "wheel_bytes": sum(sizes.values()),
        "ray_wheel_bytes": sum(v for k, v in sizes.items() if k.startswith("ray-")),
        "trimmed": trimmed, "tarball_bytes": SITE_TARBALL.stat().st_size,
        "asset_cache_bytes": sum(f.stat().st_size for f in ASSET_CACHE.rglob("*") if f.is_file()),
        "left_behind": sorted(LEFT_BEHIND), "carried_though_on_device": sorted(CARRY_ANYWAY),
    }  # fmt: skip
    (CARRY_DIR / "carry.json").write_text(json.dumps(report, indent=1))
    print("CARRY " + json.dumps({k: v for k, v in report.items() if k != "wheels"}))


# --------------------------------------------------------------------------- rl: the trainer on the device

TOY_RECIPES = ("toy_demo", "toy_inftythink_task")
# verl's console logger: `step:3 - ... - timing_s/step:1.234 - ...` (verl/utils/logger/aggregate_logger.py).
# verl's console line, behind Ray's "(TaskRunner pid=...)" prefix when it comes from the actor.
STEP_TIME = re.compile(r"(?:^|\s)step:(\d+) - .*?timing_s/step:([0-9.eE+-]+)", re.MULTILINE)


@dataclass
class Job:
    """One `python -m siri_verl` run: ``steps`` training steps, or one more from ``resume_from``."""

    backend: str
    recipe: str
    steps: int
    run_dir: Path
    resume_from: Path | None = None

    @property
    def name(self) -> str:
        return f"{self.recipe}-{self.backend}" + ("-resumed" if self.resume_from else "")

    def command(self) -> list[str]:
        total = self.steps + (1 if self.resume_from else 0)
        overrides = [
            f"recipe={self.recipe}", f"backend={self.backend}",
            # verl's console logger instead of MLflow (not carried); the compact line too.
            "trainer.logger=[console]",
            f"trainer.total_training_steps={total}", f"trainer.save_freq={self.steps}",
            "trainer.val_before_train=false", "trainer.test_freq=-1",
            "siri_verl.keep_phase_end_checkpoints=false", "trainer.max_actor_ckpt_to_keep=2",
            f"trainer.default_local_dir={self.run_dir / 'checkpoints'}", f"hydra.run.dir={self.run_dir}",
        ]  # fmt: skip
        if self.resume_from:
            overrides += ["trainer.resume_mode=resume_path", f"trainer.resume_from_path={self.resume_from}"]
        else:
            overrides += ["trainer.resume_mode=disable"]
        return [sys.executable, "-m", "siri_verl", *overrides]


def rl_jobs(backends: list[str], recipes: list[str], steps: int, resume: list[str], work: Path) -> list[Job]:
    """Per backend and recipe: ``steps`` steps saving a checkpoint at the last; where the backend is
    in ``resume``, a second job that reloads that checkpoint and trains one step more."""
    jobs = []
    for backend in backends:
        for recipe in recipes:
            first = Job(backend, recipe, steps, work / f"{recipe}-{backend}")
            jobs.append(first)
            if backend in resume:
                checkpoint = first.run_dir / "checkpoints" / f"global_step_{steps}"
                jobs.append(Job(backend, recipe, steps, first.run_dir, resume_from=checkpoint))
    return jobs


def run_job(job: Job, out: Path, env: dict[str, str], timeout_s: float) -> dict:
    """Run one job, its output to ``out/<name>.log``; its verl step times and checkpoint."""
    log = out / f"{job.name}.log"
    started = time.time()
    try:
        with open(log, "w") as sink:
            rc = subprocess.run(job.command(), stdout=sink, stderr=subprocess.STDOUT, env=env, timeout=timeout_s).returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    text = log.read_text(errors="replace")
    step_times = {int(step): float(seconds) for step, seconds in STEP_TIME.findall(text)}
    expected = [job.steps + 1] if job.resume_from else list(range(1, job.steps + 1))
    saved = job.run_dir / "checkpoints" / f"global_step_{expected[-1]}"
    errors = [line for line in text.splitlines() if "Error" in line or "error:" in line][-5:]
    return {
        "job": job.name, "backend": job.backend, "recipe": job.recipe, "command": " ".join(job.command()[1:]),
        "rc": rc, "wall_s": round(time.time() - started, 1), "step_times_s": step_times,
        "steps_as_expected": sorted(step_times) == expected, "checkpoint_saved": saved.is_dir(),
        "resumed_from": str(job.resume_from) if job.resume_from else None, "last_errors": errors,
    }  # fmt: skip


def install_carried(site_tarball: Path, site: Path) -> None:
    """Unpack the carried packages and install this checkout (for its `verl.plugins` entry point) there."""
    site.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-xJf", str(site_tarball), "-C", str(site)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-build-isolation",
                    "--no-compile", "--target", str(site), "."], check=True)  # fmt: skip


def cmd_rl(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work)
    jobs = rl_jobs(args.backends, args.recipes, args.steps, args.resume, work)
    if args.dry_run:
        for job in jobs:
            print(" ".join(job.command()[1:]))
        return
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if args.site:
        began = time.time()
        install_carried(Path(args.site), Path(args.site_dir))
        env["PYTHONPATH"] = os.pathsep.join([args.site_dir, str(Path.cwd()), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        print(f"installed the carried packages in {time.time() - began:.0f} s", flush=True)
    if args.cache:
        env["SIRI_VERL_CACHE"] = str(Path(args.cache).resolve())
    deadline = time.time() + args.budget_s
    results = []
    for job in jobs:
        left = deadline - time.time()
        if left < 30:
            results.append({"job": job.name, "rc": "skipped: out of --budget-s"})
            continue
        if not job.resume_from:  # a fresh start: no checkpoint of an earlier call to resume from by mistake
            shutil.rmtree(job.run_dir, ignore_errors=True)
        results.append(run_job(job, out, env, min(args.job_timeout_s, left)))
        print("RL " + json.dumps(results[-1]), flush=True)
    (out / "rl_check.json").write_text(json.dumps(results, indent=1))
    for result in results:
        times = result.get("step_times_s") or {}
        shown = ", ".join(f"{step}: {seconds:.2f}" for step, seconds in times.items())
        print(f"{result['job']:<40} rc={result['rc']}  s/step {{{shown}}}  checkpoint={result.get('checkpoint_saved')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/gpu_check.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("model")
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--hidden", type=int, default=0, help="0: R1-Distill-Qwen-1.5B's widths")
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("data")
    p.add_argument("--src", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--train", type=int, default=512)
    p.add_argument("--heldout", type=int, default=64)
    p = sub.add_parser("loss")
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--rows", type=int, default=64)
    p.add_argument("--device", default="cuda")
    p.add_argument("models", nargs="+")
    p = sub.add_parser("template")
    p.add_argument("--tokenizer", required=True)
    p = sub.add_parser("infer")
    p.add_argument("--model", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--questions", type=int, default=32)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--segments", type=int, default=3)
    p.add_argument("--cap", type=int, default=64)
    p.add_argument("--max-model-len", type=int, default=16384)
    p.add_argument("--repeat", type=int, default=1, help="timed runs; the last is reported")
    p = sub.add_parser("profile")
    p.add_argument("--model", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--questions", type=int, default=32)
    p.add_argument("--cap", type=int, default=64)
    p = sub.add_parser("modules")
    p.add_argument("--out", required=True)
    p.add_argument("module")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p = sub.add_parser("carry")
    p.add_argument("--build", default="/tmp/siri_verl_gpu_carry", help="wheels and the staging install (not carried)")
    p.add_argument("--no-assets", action="store_true", help="skip building the toy assets into .gpu/cache")
    p = sub.add_parser("rl")
    p.add_argument("--backends", nargs="+", default=["gpu_hf", "cpu"])
    p.add_argument("--recipes", nargs="+", default=list(TOY_RECIPES))
    p.add_argument("--steps", type=int, default=2, help="steps of each first job; a checkpoint is saved at the last")
    p.add_argument("--resume", nargs="*", default=["gpu_hf"], help="backends whose checkpoint is reloaded for a step")
    p.add_argument("--out", default=os.environ.get("OUT", "gpu_check_out"))
    p.add_argument("--work", default="/tmp/siri_verl_rl_check", help="run directories and checkpoints (not in --out)")
    p.add_argument("--site", help="the carried tarball (.gpu/site312.tar.xz) to install first")
    p.add_argument("--site-dir", default="/tmp/site")
    p.add_argument("--cache", help="SIRI_VERL_CACHE for the jobs (.gpu/cache: the carried toy assets)")
    p.add_argument("--budget-s", type=float, default=400, help="no job starts with less than 30 s of this left")
    p.add_argument("--job-timeout-s", type=float, default=150)
    p.add_argument("--dry-run", action="store_true", help="print the jobs' commands only")
    args = parser.parse_args(argv)
    globals()[f"cmd_{args.command}"](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
