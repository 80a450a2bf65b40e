"""``prepare`` under corrupted input: one bad row per data source and file format costs that row
only; a truncated ``.json`` list is one clear error; absurd fields are refused; written files
get normal permissions."""

from __future__ import annotations

import json
import os
import stat
import sys
import types

import pandas as pd
import pytest

from siri_verl.data.__main__ import main
from siri_verl.data.prepare import MAX_ANSWER_CHARS, DataSourceUnavailable, prepare
from siri_verl.data.sources import SOURCES

# One usable row per data source, in the layout of its local file (a source missing here fails
# the parametrized test below with a KeyError).
GOOD_ROW = {
    "deepscaler": {"problem": "What is 1+1?", "answer": "2"},
    "aime24": {"problem": "What is 1+1?", "answer": "2"},
    "aime25": {"problem": "What is 1+1?", "answer": "2"},
    "amc23": {"problem": "What is 1+1?", "answer": 2.0},
    "amc": {"problem": "What is 1+1?", "answer": 2.0},
    "math500": {"problem": "What is 1+1?", "answer": "2"},
    "minerva": {"problem": "What is 1+1?", "solution": "Add: \\boxed{2}."},
    "olympiadbench": {"question": "What is 1+1?", "final_answer": ["$2$"]},
    "gpqa_diamond": {"question": "What is 1+1?\nA) 1\nB) 2\nC) 3\nD) 4", "answer": "B"},
}


def write_mirror(root, name: str, corrupt_jsonl: bytes, corrupt_row) -> None:
    """Each local file of ``name``: a good row, a corrupted one, a good row.

    A JSONL file gets ``corrupt_jsonl`` as its middle line (raw bytes); a JSON list, whose bytes
    must all decode for the list to exist at all, gets ``corrupt_row`` as its middle item.
    """
    good = GOOD_ROW[name]
    for relative in SOURCES[name].local_files:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".jsonl":
            line = json.dumps(good).encode()
            path.write_bytes(line + b"\n" + corrupt_jsonl + b"\n" + line + b"\n")
        else:
            path.write_text(json.dumps([good, corrupt_row, good]))


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_bad_byte_or_an_absurd_row_costs_one_row_per_data_source(name, tmp_path, capsys):
    bad_byte = json.dumps(GOOD_ROW[name]).encode().replace(b"What", b"Wh\xffat")  # latin-1 debris
    too_long = {"problem": "What is 1+1?", "answer": "2" * 2000}  # a solution in the answer column, say
    write_mirror(tmp_path / "mirror", name, bad_byte, too_long)
    result = prepare(name, tmp_path / "out", from_dir=tmp_path / "mirror")
    files = SOURCES[name].local_files
    assert result.rows == 2 * len(files) and len(pd.read_parquet(result.path)) == result.rows
    assert [s.index for s in result.skipped] == [1] * len(files)
    for skipped, relative in zip(result.skipped, files):
        assert skipped.file.endswith(relative)
        assert ("not UTF-8" in skipped.reason and "0xff" in skipped.reason) if relative.endswith(".jsonl") else (
            "answer is 2,000 characters" in skipped.reason
        )
    assert f"WARNING {name}: skipped row 1 of" in capsys.readouterr().err


@pytest.mark.parametrize("field, size", [("answer", 5_000_000), ("problem", 60_000)])
def test_an_absurdly_long_field_is_refused_by_name(field, size, tmp_path):
    huge = dict(GOOD_ROW["aime24"], **{field: "9" * size})
    write_mirror(tmp_path / "mirror", "aime24", json.dumps(huge).encode(), None)
    result = prepare("aime24", tmp_path / "out", from_dir=tmp_path / "mirror")
    assert result.rows == 2 and [s.index for s in result.skipped] == [1]
    assert f"{field} is {size:,} characters (limit" in result.skipped[0].reason


def test_an_absurd_answer_from_the_hub_is_refused_too(monkeypatch, tmp_path):
    rows = [GOOD_ROW["aime24"], {"problem": "Q?", "answer": "1" * (MAX_ANSWER_CHARS + 1)}]
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=lambda *a, **k: rows))
    result = prepare("aime24", tmp_path)
    assert result.rows == 1 and result.skipped[0].file == "hf://HuggingFaceH4/aime_2024/train"
    assert "answer is 1,001 characters" in result.skipped[0].reason


def test_a_truncated_json_list_is_one_error_naming_the_file_and_the_position(tmp_path, capsys):
    write_mirror(tmp_path / "mirror", "amc", b"", GOOD_ROW["amc"])
    path = tmp_path / "mirror" / SOURCES["amc"].local_files[0]
    text = path.read_text()
    path.write_text(text[: len(text) // 2])  # a download that stopped half way
    with pytest.raises(DataSourceUnavailable, match="not a valid JSON list") as raised:
        prepare("amc", tmp_path / "out", from_dir=tmp_path / "mirror")
    message = str(raised.value)
    assert str(path) in message and f"of {len(text) // 2})" in message and "line 1, column" in message
    # the command line prints it as one error, no traceback
    assert main(["prepare", "amc", "--from", str(tmp_path / "mirror"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"error: {path}: not a valid JSON list" in err and "Traceback" not in err


def test_a_json_list_with_a_bad_byte_is_one_error_naming_the_file(tmp_path):
    write_mirror(tmp_path / "mirror", "amc", b"", GOOD_ROW["amc"])
    path = tmp_path / "mirror" / SOURCES["amc"].local_files[0]
    path.write_bytes(path.read_bytes().replace(b"What", b"Wh\xe9at", 1))
    with pytest.raises(DataSourceUnavailable, match=r"not UTF-8 \(byte 0xe9 at byte offset \d+\)") as raised:
        prepare("amc", tmp_path / "out", from_dir=tmp_path / "mirror")
    assert str(path) in str(raised.value)


def test_written_parquet_files_get_the_permissions_of_any_new_file(tmp_path):
    write_mirror(tmp_path / "mirror", "aime24", b"{}", None)
    old = os.umask(0o022)
    try:
        result = prepare("aime24", tmp_path / "out", from_dir=tmp_path / "mirror")
    finally:
        os.umask(old)
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o644  # 0666 less the umask, not mkstemp's 0600
    assert not list((tmp_path / "out").glob(".*.tmp"))
