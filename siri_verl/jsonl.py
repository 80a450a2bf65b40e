"""JSON Lines files that lose nothing to a bad byte, a kill or a full disk.

Two kinds of JSONL file, two sets of functions:

* **input** someone else wrote (``prepare``'s data sets): :func:`read_lines` decodes and parses
  every line on its own, so a stray non-UTF-8 byte or a broken line costs that row only, and
  says which line and why. A last line without a newline is an ordinary line here.
* **logs** this project appends to and resumes from (eval generations, cold-start progress):
  a record exists once its whole line, newline included, is on disk. :func:`read_log` returns
  those records and reports every other line; :class:`JsonlLog` opens a log for appending after
  cutting off an unterminated last line (the fragment of a write a kill interrupted, which would
  otherwise glue itself to the next record and take it down with it), writes whole records,
  then flushes and fsyncs; when a write fails (``ENOSPC``...) it cuts the file back to its last
  complete record and raises :class:`LogWriteError` naming the file, so a rerun resumes from
  exactly the records that were written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

__all__ = ["JsonLine", "JsonlLog", "LogContents", "LogWriteError", "read_lines", "read_log"]

# Bytes read per step when looking backwards for a log's last newline.
_TAIL_BLOCK = 1 << 16


class JsonLine(NamedTuple):
    """One non-blank line of an input file: its 0-based index, and its value or why it has none."""

    index: int
    value: object = None
    error: str | None = None


def _parse(raw: bytes, first: bool) -> tuple[object, str | None]:
    """``(value, None)`` for a line that decodes as UTF-8 and parses as JSON, else ``(None, why)``."""
    try:
        # A byte-order mark is legal at the start of a UTF-8 file and nowhere else.
        text = raw.decode("utf-8-sig" if first else "utf-8")
    except UnicodeDecodeError as error:
        return None, f"not UTF-8 (byte 0x{raw[error.start]:02x} at byte {error.start} of the line)"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        return None, f"invalid JSON ({error.msg} at column {error.colno})"


def read_lines(path: str | os.PathLike) -> Iterator[JsonLine]:
    """Every non-blank line of an input JSONL file, decoded and parsed on its own.

    Blank lines are skipped but still counted, so ``index`` is always the line number - 1.
    """
    with open(path, "rb") as handle:
        for index, raw in enumerate(handle):
            if not raw.strip():
                continue
            value, error = _parse(raw, first=index == 0)
            yield JsonLine(index, value, error)


@dataclass
class LogContents:
    """What :func:`read_log` found: the records of complete lines, and every line that is not one."""

    records: list = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "<file> line N: why", in file order


def read_log(path: str | os.PathLike) -> LogContents:
    """The records of an append-only log (none when the file does not exist yet).

    A line that does not decode or parse is reported and skipped; so is an unterminated last
    line, even one that parses, because :class:`JsonlLog` cuts it off before appending.
    """
    contents = LogContents()
    path = Path(path)
    if not path.exists():
        return contents
    with path.open("rb") as handle:
        for index, raw in enumerate(handle):
            number = index + 1
            if not raw.endswith(b"\n"):
                contents.problems.append(
                    f"{path} line {number}: cut off ({len(raw)} bytes, no newline): an interrupted write, "
                    "dropped before the next append"
                )
                break
            if not raw.strip():
                continue
            value, error = _parse(raw, first=index == 0)
            if error is None:
                contents.records.append(value)
            else:
                contents.problems.append(f"{path} line {number}: {error}")
    return contents


class LogWriteError(OSError):
    """A log could not be appended to (disk full, quota, I/O error); the message names the file.

    ``path`` is the log; the ``OSError`` that stopped the write is ``__cause__``.
    """

    def __init__(self, path: Path, cause: OSError):
        super().__init__(
            f"could not append to {path}: {cause.strerror or cause}. Every record written before "
            "stays in it; rerun with the same output to resume from them"
        )
        self.path = path


def _complete_length(handle) -> int:
    """The length of ``handle``'s file up to and including its last newline (0 if none)."""
    end = os.fstat(handle.fileno()).st_size
    position = end
    while position > 0:
        start = max(0, position - _TAIL_BLOCK)
        handle.seek(start)
        block = handle.read(position - start)
        newline = block.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        position = start
    return 0


class JsonlLog:
    """An append-only JSONL log, opened as a context manager.

    ``with JsonlLog(path) as log: log.append(records)``: each :meth:`append` writes its records
    as whole lines in one write, then flushes and fsyncs, so after it returns they survive a
    kill or a power cut. The file and its parent directories are created when missing.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._handle = None

    def __enter__(self) -> JsonlLog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered: a failed write leaves nothing in a Python buffer to be flushed at close.
        self._handle = open(self.path, "a+b", buffering=0)
        complete = _complete_length(self._handle)
        if complete < os.fstat(self._handle.fileno()).st_size:
            self._cut_back(complete, "dropping its cut-off last line")
        return self

    def __exit__(self, *exc_info) -> None:
        self._handle.close()

    def append(self, records: Iterable) -> None:
        """Write ``records`` (JSON-serialisable values) as lines, then flush and fsync.

        On failure the file is cut back to what it held before and :class:`LogWriteError` is
        raised: no half record is ever left behind by this call.
        """
        data = b"".join(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n" for record in records)
        if not data:
            return
        before = os.fstat(self._handle.fileno()).st_size
        try:
            view = memoryview(data)
            while view:  # an unbuffered write may take only part of the data
                view = view[self._handle.write(view) :]
            os.fsync(self._handle.fileno())
        except OSError as error:
            self._cut_back(before, "after a failed write")
            raise LogWriteError(self.path, error) from error

    def _cut_back(self, length: int, why: str) -> None:
        try:
            os.ftruncate(self._handle.fileno(), length)
            os.fsync(self._handle.fileno())
        except OSError as error:  # the next open cuts it back instead
            print(f"WARNING {self.path}: could not truncate {why}: {error}", flush=True)
