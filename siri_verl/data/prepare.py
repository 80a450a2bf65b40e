"""Turn a registered data set into verl's RL parquet: ``<out>/<name>.parquet``.

Raw rows come either from the Hugging Face hub (``datasets.load_dataset``, imported only when
needed) or from a local mirror laid out like ``../shared/data`` (``from_dir``). Each row goes
through its source's extractor (``siri_verl.data.sources``) and becomes one verl row:

    data_source   the registry name (``aime24``, ...): the reward and the eval key on it
    prompt        [{"role": "user", "content": problem + "\\n" + instruction}]
                  (DeepSeek-R1-Distill layout: the chat template opens the assistant turn)
    ability       "math" or "science"
    reward_model  {"style": "rule", "ground_truth": answer}
    extra_info    {"split": "test"|"train", "index": i, "source_id": where the row came from}

A row that cannot be used is never dropped silently: it is printed as a warning naming the
data set, file and row index, counted in a summary line, and returned in ``Prepared.skipped``.
That covers a JSONL line with a non-UTF-8 byte or broken JSON (each line is decoded on its own,
``siri_verl.jsonl.read_lines``) and a field too long to be real (:data:`MAX_PROBLEM_CHARS`,
:data:`MAX_ANSWER_CHARS`). A ``.json`` file that is not one whole JSON list (truncated, say)
stops its data set with one error naming the file and the position.

Parquet files are written atomically (temporary file + rename) with the permissions of any
new file (0666 less the umask), so they are readable wherever the data directory is shared.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, NamedTuple

from siri_verl.data.sources import ALL, SOURCES, BadRow, Source, get_source, source_id
from siri_verl.jsonl import read_lines

# Where ``python -m siri_verl.data prepare`` writes when no --out is given (verl's examples use
# ~/data/<name> too, so existing run scripts find the files).
# The recipes read the same directory (conf/config.yaml: siri_verl.data_dir).
DEFAULT_OUT = Path(os.environ.get("SIRI_VERL_DATA_DIR", "~/data/siri_verl")).expanduser()

# Longest problem and answer (in characters) a row may have; a longer one is reported and
# skipped as not a real problem or final answer (a mis-parsed file, a solution in the answer
# column). The real data sets stay far below: problems reach about 5,700 characters (GPQA,
# DeepScaleR) and final answers about 210 (Minerva).
MAX_PROBLEM_CHARS = 50_000
MAX_ANSWER_CHARS = 1_000


class DataSourceUnavailable(RuntimeError):
    """The hub (or the local mirror) could not provide the data set."""


class SkippedRow(NamedTuple):
    index: int  # the row's position in its file (0-based, as read)
    reason: str
    file: str


class RawRow(NamedTuple):
    file: str
    index: int
    row: object  # a dict when well formed; anything else is reported as a bad row
    error: str | None = None  # why the row could not even be read (e.g. a broken JSON line)


@dataclass
class Prepared:
    name: str
    path: Path
    rows: int
    skipped: list[SkippedRow] = field(default_factory=list)


# ---------------------------------------------------------------------------- reading


def read_json_list(path: Path) -> list:
    """The rows of a ``.json`` file holding one list; any other content is one clear error."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataSourceUnavailable(
            f"{path}: not UTF-8 (byte 0x{data[error.start]:02x} at byte offset {error.start}); "
            "re-download or re-encode the file"
        ) from None
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataSourceUnavailable(
            f"{path}: not a valid JSON list: {error.msg} at line {error.lineno}, column {error.colno} "
            f"(character {error.pos} of {len(text)}); a file that ends early is truncated: re-download it"
        ) from None
    if not isinstance(rows, list):
        raise DataSourceUnavailable(f"{path}: expected a JSON list of rows, got {type(rows).__name__}")
    return rows


def read_local_file(path: Path) -> Iterator[RawRow]:
    """Rows of a ``.jsonl`` (one object a line) or ``.json`` (one list) file.

    A JSONL line that is not UTF-8 or not JSON is yielded with an ``error`` so that it is
    reported, not lost, and the lines after it are read as usual.
    """
    if path.suffix == ".jsonl":
        for line in read_lines(path):
            yield RawRow(str(path), line.index, line.value, line.error)
    else:
        for index, row in enumerate(read_json_list(path)):
            yield RawRow(str(path), index, row)


def read_local(source: Source, from_dir: Path) -> Iterator[RawRow]:
    for relative in source.local_files:
        path = Path(from_dir) / relative
        if not path.is_file():
            raise DataSourceUnavailable(f"{source.name}: local file {path} not found (looked under --from {from_dir})")
        yield from read_local_file(path)


def read_hub(source: Source) -> Iterator[RawRow]:
    try:
        import datasets

        table = datasets.load_dataset(source.hf_id, source.hf_config, split=source.hf_split)
    except Exception as error:  # no network, gated repo, renamed split: all end the same way
        raise DataSourceUnavailable(
            f"{source.name}: could not load {source.hf_id}"
            f"{f' ({source.hf_config})' if source.hf_config else ''} from the Hugging Face hub: "
            f"{type(error).__name__}: {error}\n"
            f"Without network access, read a local mirror instead: --from DIR "
            f"(expects {', '.join(source.local_files)} under DIR)"
        ) from error
    label = f"hf://{source.hf_id}/{source.hf_split}"
    for index, row in enumerate(table):
        yield RawRow(label, index, row)


# ---------------------------------------------------------------------------- converting


def to_verl_row(source: Source, problem: str, answer: str, index: int, origin: str) -> dict:
    return {
        "data_source": source.name,
        "prompt": [{"role": "user", "content": f"{problem}\n{source.instruction}"}],
        "ability": source.ability,
        "reward_model": {"style": "rule", "ground_truth": answer},
        "extra_info": {"split": source.split, "index": index, "source_id": origin},
    }


def check_lengths(problem: str, answer: str) -> None:
    """Raise :class:`BadRow` for a problem or answer longer than any real one could be."""
    for what, text, limit in (("problem", problem, MAX_PROBLEM_CHARS), ("answer", answer, MAX_ANSWER_CHARS)):
        if len(text) > limit:
            raise BadRow(f"{what} is {len(text):,} characters (limit {limit:,}): not a real {what}")


def convert(source: Source, raw_rows: Iterator[RawRow], from_hub: bool, limit: int | None = None
            ) -> tuple[list[dict], list[SkippedRow]]:
    """verl rows and the skipped rows (with reasons), in file order; stops after ``limit`` rows."""
    extract = source.extract_hf if from_hub else source.extract
    rows: list[dict] = []
    skipped: list[SkippedRow] = []
    for raw in raw_rows:
        if limit is not None and len(rows) >= limit:
            break
        try:
            if raw.error:
                raise BadRow(raw.error)
            if not isinstance(raw.row, dict):
                raise BadRow(f"row is a {type(raw.row).__name__}, expected an object")
            problem, answer = extract(raw.row, raw.index)
            check_lengths(problem, answer)
        except BadRow as error:
            skipped.append(SkippedRow(raw.index, str(error), raw.file))
            continue
        origin = source_id(raw.row, f"{Path(raw.file).name}:{raw.index}")
        rows.append(to_verl_row(source, problem, answer, len(rows), origin))
    return rows, skipped


def write_parquet_atomic(rows: list[dict], path: Path, columns: list[str] | None = None) -> None:
    """Write to a temporary file beside ``path``, then rename: readers never see half a file.

    The temporary file is created with mode 0666 less the umask, as any new file (``mkstemp``
    would make it, and so the result, 0600). ``columns`` fixes the columns (and their order),
    which an empty ``rows`` needs.
    """
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        pd.DataFrame(rows, columns=columns).to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------- the entry point


def prepare(name: str, out_dir: str | Path = DEFAULT_OUT, from_dir: str | Path | None = None,
            limit: int | None = None) -> Prepared:
    """Write ``<out_dir>/<name>.parquet`` and return what was written and what was skipped."""
    source = get_source(name)
    raw_rows = read_local(source, Path(from_dir)) if from_dir is not None else read_hub(source)
    rows, skipped = convert(source, raw_rows, from_hub=from_dir is None, limit=limit)
    for bad in skipped:
        print(f"WARNING {name}: skipped row {bad.index} of {bad.file}: {bad.reason}", file=sys.stderr)
    if not rows:
        raise DataSourceUnavailable(f"{name}: no usable rows ({len(skipped)} skipped)")
    path = Path(out_dir).expanduser() / f"{name}.parquet"
    write_parquet_atomic(rows, path)
    print(f"{name}: wrote {len(rows)} rows to {path} ({len(skipped)} bad rows skipped)")
    return Prepared(name, path, len(rows), skipped)


def expand_names(names: list[str]) -> list[str]:
    """``all`` stands for every registered data set; unknown names fail before any work."""
    expanded: list[str] = []
    for name in names:
        for one in (list(SOURCES) if name == ALL else [name]):
            get_source(one)
            if one not in expanded:
                expanded.append(one)
    return expanded
