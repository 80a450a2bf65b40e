"""``siri_verl.jsonl``: input lines decoded one by one, and append-only logs that survive a cut-off
line and a full disk (simulated by a file whose writes raise ``ENOSPC``)."""

from __future__ import annotations

import errno
import json

import pytest

from siri_verl import jsonl
from siri_verl.jsonl import JsonlLog, LogWriteError, read_lines, read_log


def test_read_lines_decodes_each_line_on_its_own(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"a": 1}\n'  # a UTF-8 byte-order mark on the first line
        b'{"a": "caf\xe9"}\n'  # latin-1, not UTF-8
        b"\n"
        b"{broken\n"
        b'{"a": 4}'  # an input file's last line needs no newline
    )
    lines = list(read_lines(path))
    assert [line.index for line in lines] == [0, 1, 3, 4]  # the blank line is skipped, still counted
    assert lines[0].value == {"a": 1} and lines[3].value == {"a": 4}
    assert lines[1].value is None and "not UTF-8" in lines[1].error and "0xe9" in lines[1].error
    assert "invalid JSON" in lines[2].error


def test_read_log_reports_a_cut_off_last_line_and_skips_it_even_when_it_parses(tmp_path):
    path = tmp_path / "log.jsonl"
    assert read_log(path).records == []  # no file yet: nothing done
    path.write_text('{"k": 0}\n{"k": 1}')  # the newline of record 1 never made it
    contents = read_log(path)
    assert contents.records == [{"k": 0}]
    assert len(contents.problems) == 1 and "line 2: cut off" in contents.problems[0] and str(path) in contents.problems[0]


def test_appending_after_a_cut_off_line_loses_no_record(tmp_path):
    path = tmp_path / "log.jsonl"
    with JsonlLog(path) as log:
        log.append([{"k": 0}, {"k": 1}])
    with path.open("a") as sink:
        sink.write('{"k": 2, "te')  # a kill in the middle of a write
    with JsonlLog(path) as log:
        log.append([{"k": 2}])
        log.append([{"k": 3}])
    assert read_log(path).records == [{"k": 0}, {"k": 1}, {"k": 2}, {"k": 3}]
    assert read_log(path).problems == []
    assert path.read_text().endswith('{"k": 3}\n')


def test_a_log_longer_than_one_tail_block_is_repaired_at_its_last_newline(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "_TAIL_BLOCK", 7)  # look backwards in several small steps
    path = tmp_path / "log.jsonl"
    path.write_text('{"k": "first"}\n' + '{"k": "a long cut-off fragment')
    with JsonlLog(path) as log:
        log.append(["next"])
    assert read_log(path).records == [{"k": "first"}, "next"]
    path.write_text("no newline at all")
    with JsonlLog(path) as log:
        log.append(["only"])
    assert path.read_text() == '"only"\n'


def test_a_full_disk_names_the_file_and_leaves_only_whole_records(tmp_path, monkeypatch, disk_full):
    path = tmp_path / "log.jsonl"
    first = json.dumps({"k": 0}) + "\n"
    disk_full(budget=len(first))
    with JsonlLog(path) as log:
        log.append([{"k": 0}])
        with pytest.raises(LogWriteError, match="No space left on device") as raised:
            log.append([{"k": 1}, {"k": 2}])
    assert str(path) in str(raised.value) and "resume" in str(raised.value)
    assert raised.value.__cause__.errno == errno.ENOSPC
    assert path.read_text() == first  # the half-written chunk was cut back
    monkeypatch.undo()  # space again: resume
    with JsonlLog(path) as log:
        log.append([{"k": 1}, {"k": 2}])
    assert read_log(path).records == [{"k": 0}, {"k": 1}, {"k": 2}]
