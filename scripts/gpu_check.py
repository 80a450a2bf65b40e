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
"""

from __future__ import annotations

import argparse
import json
import sys
import time
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

    from siri_verl.inftythink.inference import prompt_ids
    from siri_verl.inftythink.protocol import IterativeState, render_summary_segment

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
    from siri_verl.backends.cpu.generation import SamplingSettings

    from siri_verl.generation_backends import make_backend
    from siri_verl.inftythink.inference import prompt_ids, run_iterative_batch
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
    from siri_verl.backends.cpu.generation import SamplingSettings, generate_batch

    from siri_verl.generation_backends import make_backend
    from siri_verl.inftythink.inference import prompt_ids

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

    # The project's sampler (siri_verl.backends.cpu.generation.generate_batch), as cmd_infer runs it,
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
    args = parser.parse_args(argv)
    globals()[f"cmd_{args.command}"](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
