"""``python -m siri_verl.inftythink.coldstart``: long chains of thought -> segmented SFT data.

For each input row (a question and a long trace):

1. the trace's reasoning (inside ``<think>...</think>``, else all but the last paragraph that
   holds ``\\boxed``) and its conclusion (after ``</think>``, else that last paragraph) are split;
2. the reasoning is cut on blank lines, pieces that do not start a sentence are merged, and
   paragraphs are packed greedily up to η tokens of the real tokenizer (segmentation.py);
3. an instruct model summarises the reasoning so far: a first prompt for segment 1, an update
   prompt (previous summary + new segment) after that, retried until it stops cleanly;
4. segment i becomes one SFT example in exactly the RL agent loop's layout: the question, then
   an assistant turn opening with the ``<history>`` prefix (no loss) and the segment's output.

The job is resumable: each finished row (all its examples, or the reason it failed) is appended
to ``<out>/progress.jsonl`` at once; a rerun skips those rows, and ``<out>/train.parquet`` (verl
SFT layout, ``messages`` column) is rewritten atomically from the progress file at the end.
Malformed rows are reported by file and row index and skipped, never dropped silently.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from siri_verl.backends.cpu.generation import SamplingSettings
from siri_verl.inftythink.protocol import (
    DEFAULT_TAGS,
    build_segment_messages,
    render_conclusion_segment,
    render_summary_segment,
)
from siri_verl.inftythink.segmentation import DEFAULT_ETA, segment_trace
from siri_verl.inftythink.sft_dataset import PREFIX_FIELD

# The paper's summariser settings (Qwen3-4B-Instruct-2507 in InftyThink+).
SUMMARY_MAX_TOKENS = 1024
SUMMARY_SAMPLING = SamplingSettings(temperature=0.5, top_p=0.95)
FIRST_PROMPT = (
    "Here is a question and the beginning of a step-by-step solution.\n\nQuestion:\n{question}\n\n"
    "Reasoning so far:\n{segment}\n\nSummarise the reasoning so far in chronological order: keep every "
    "intermediate result needed to continue, drop false starts. Reply with the summary only."
)
UPDATE_PROMPT = (
    "Here is a question, your reasoning history so far, and new reasoning that follows it.\n\n"
    "Question:\n{question}\n\nReasoning history:\n{summary}\n\nNew reasoning:\n{segment}\n\n"
    "Update your reasoning history with the new reasoning, in chronological order, keeping every "
    "intermediate result needed to continue. Reply with the updated history only."
)
QUESTION_KEYS = ("question", "problem", "prompt")
TRACE_KEYS = ("trace", "response", "solution", "reasoning")


@dataclass(frozen=True)
class Trace:
    index: int
    question: str
    reasoning: str
    conclusion: str


def read_rows(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        import pandas as pd

        return pd.read_parquet(path).to_dict("records")
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line) if line.strip() else None)
        except json.JSONDecodeError:
            rows.append(None)
    return rows


def split_trace(text: str) -> tuple[str, str] | None:
    """(reasoning, conclusion) of a trace, or None when either is missing."""
    tags = DEFAULT_TAGS
    if tags.think_close in text:
        reasoning, conclusion = text.rsplit(tags.think_close, 1)
        reasoning = reasoning.replace(tags.think_open, "", 1)
    else:
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        boxed = [i for i, p in enumerate(paragraphs) if "\\boxed" in p]
        if not boxed:
            return None
        reasoning, conclusion = "\n\n".join(paragraphs[: boxed[-1]]), "\n\n".join(paragraphs[boxed[-1] :])
    reasoning, conclusion = reasoning.strip(), conclusion.strip()
    return (reasoning, conclusion) if reasoning and conclusion else None


def parse_traces(path: Path, rows: list) -> Iterator[Trace | tuple[int, str]]:
    """A Trace per usable row, else ``(row index, reason)``."""
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            yield index, "not a JSON object"
            continue
        question = next((row[k] for k in QUESTION_KEYS if isinstance(row.get(k), str) and row[k].strip()), None)
        text = next((row[k] for k in TRACE_KEYS if isinstance(row.get(k), str) and row[k].strip()), None)
        if question is None or text is None:
            yield index, f"needs a question ({'/'.join(QUESTION_KEYS)}) and a trace ({'/'.join(TRACE_KEYS)})"
            continue
        split = split_trace(text)
        if split is None:
            yield index, "trace has no reasoning or no conclusion (no </think>, no \\boxed paragraph)"
            continue
        yield Trace(index, question.strip(), *split)


def _summary_text(text: str) -> str:
    """The model's reply without any think block of its own."""
    return text.split(DEFAULT_TAGS.think_close)[-1].strip()


def summarise(backend, requests: list[str], max_retries: int) -> list[str | None]:
    """Summaries for rendered user prompts, retried until each stops cleanly (None: gave up)."""
    tokenizer = backend.tokenizer
    prompts = [
        tokenizer(
            tokenizer.apply_chat_template([{"role": "user", "content": r}], add_generation_prompt=True, tokenize=False),
            add_special_tokens=False,
        )["input_ids"]
        for r in requests
    ]
    summaries: list[str | None] = [None] * len(requests)
    pending = list(range(len(requests)))
    for _ in range(1 + max_retries):
        if not pending:
            break
        completions = backend.generate([prompts[i] for i in pending], SUMMARY_MAX_TOKENS, SUMMARY_SAMPLING)
        still = []
        for i, completion in zip(pending, completions):
            text = _summary_text(completion.text)
            if completion.finish_reason == "stop" and text:
                summaries[i] = text
            else:
                still.append(i)
        pending = still
    return summaries


def examples_for(trace: Trace, segments: list[str], summaries: list[str]) -> list[dict]:
    """One SFT example per segment, in the agent loop's layout (prefix without loss)."""
    examples, previous = [], None
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        _, prefix = build_segment_messages(trace.question, previous)
        target = render_conclusion_segment(segment, trace.conclusion) if last else render_summary_segment(segment, summaries[i])
        examples.append(
            {
                "messages": [
                    {"role": "user", "content": trace.question, PREFIX_FIELD: ""},
                    {"role": "assistant", "content": prefix + target, PREFIX_FIELD: prefix},
                ],
                "segment_index": i,
                "num_segments": len(segments),
                "source_index": trace.index,
            }
        )
        previous = None if last else summaries[i]
    return examples


def process_batch(backend, traces: list[Trace], count_tokens, eta: int, max_retries: int) -> dict[int, dict]:
    """Segment and summarise several traces in lock-step (one backend call per segment position)."""
    segments = {t.index: segment_trace(t.reasoning, count_tokens, eta) for t in traces}
    summaries: dict[int, list[str]] = {t.index: [] for t in traces}
    failed: dict[int, str] = {}
    position = 0
    while True:
        # Every segment but the last of each trace gets a summary.
        wanted = [t for t in traces if t.index not in failed and position < len(segments[t.index]) - 1]
        if not wanted:
            break
        requests = [
            FIRST_PROMPT.format(question=t.question, segment=segments[t.index][0])
            if position == 0
            else UPDATE_PROMPT.format(question=t.question, summary=summaries[t.index][-1], segment=segments[t.index][position])
            for t in wanted
        ]
        for trace, summary in zip(wanted, summarise(backend, requests, max_retries)):
            if summary is None:
                failed[trace.index] = f"summary of segment {position + 1} did not stop cleanly after {max_retries} retries"
            else:
                summaries[trace.index].append(summary)
        position += 1
    return {
        t.index: {"index": t.index, "failed": failed[t.index]}
        if t.index in failed
        else {"index": t.index, "examples": examples_for(t, segments[t.index], summaries[t.index])}
        for t in traces
    }


def _finished(progress: Path) -> dict[int, dict]:
    done = {}
    if progress.exists():
        for line in progress.read_text().splitlines():
            try:
                record = json.loads(line)
                done[record["index"]] = record
            except (json.JSONDecodeError, KeyError):
                continue  # a line cut off by an interruption: that row is done again
    return done


def write_parquet(records: dict[int, dict], path: Path) -> int:
    import pandas as pd

    rows = [example for _, record in sorted(records.items()) for example in record.get("examples", [])]
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".parquet.tmp", delete=False) as handle:
        staging = Path(handle.name)
    pd.DataFrame(rows).to_parquet(staging)
    os.replace(staging, path)
    return len(rows)


def token_counter(tokenizer_spec: str):
    if tokenizer_spec == "qwen":
        from siri_verl.inftythink.segmentation import load_qwen_tokenizer

        tokenizer = load_qwen_tokenizer()
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_spec)
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def run(args, backend=None) -> dict:
    """Run the job; ``backend`` may be given by tests, else it is built from the arguments."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = out / "progress.jsonl"
    records = _finished(progress)
    rows = read_rows(Path(args.input))[: args.limit]
    todo, skipped = [], 0
    for item in parse_traces(Path(args.input), rows):
        if isinstance(item, tuple):
            skipped += 1
            print(f"WARNING {args.input}: skipped row {item[0]}: {item[1]}", file=sys.stderr)
        elif item.index not in records:
            todo.append(item)
    if todo and backend is None:
        from siri_verl.eval.run import resolve_model
        from siri_verl.generation import make_backend

        backend = make_backend(args.backend, resolve_model(args.summarizer), seed=args.seed)
    count_tokens = token_counter(args.tokenizer)
    with progress.open("a") as sink, tqdm(total=len(rows), initial=len(rows) - len(todo), desc="cold start") as bar:
        for start in range(0, len(todo), args.batch):
            batch = todo[start : start + args.batch]
            for index, record in process_batch(backend, batch, count_tokens, args.eta, args.max_retries).items():
                records[index] = record
                sink.write(json.dumps(record) + "\n")
                if "failed" in record:
                    print(f"WARNING {args.input}: row {index} failed: {record['failed']}", file=sys.stderr)
            sink.flush()
            bar.update(len(batch))
    examples = write_parquet(records, out / "train.parquet")
    failed = sum("failed" in r for r in records.values())
    summary = {"rows": len(rows), "skipped": skipped, "failed": failed, "examples": examples}
    print(f"cold start: {json.dumps(summary)} -> {out / 'train.parquet'}", file=sys.stderr)
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m siri_verl.inftythink.coldstart", description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True, help="JSONL or parquet of {question, trace} rows")
    parser.add_argument("--out", required=True, help="output directory (progress.jsonl, train.parquet)")
    parser.add_argument("--summarizer", default="Qwen/Qwen3-4B-Instruct-2507", help="HF dir/id, or an asset name")
    parser.add_argument("--backend", default="vllm", help="generation backend: vllm (GPU) or cpu")
    parser.add_argument("--tokenizer", default="qwen", help="token counter for η: qwen (R1-Distill BPE) or an HF dir")
    parser.add_argument("--eta", type=int, default=DEFAULT_ETA, help="η: most tokens per segment")
    parser.add_argument("--max-retries", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64, help="rows summarised together per backend call")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    run(parse_args(argv))


if __name__ == "__main__":
    main()
