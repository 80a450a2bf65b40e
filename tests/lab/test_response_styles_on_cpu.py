"""What an arm's responses did (siri_verl/lab/response_styles.py), from eval generation logs."""

from __future__ import annotations

import json

import pytest

from siri_verl.lab import response_styles


def test_loops_styles_and_their_accuracy_from_generation_logs(tmp_path, capsys):
    records = [
        {"text": "S1+2=3\n\nW1+2=3\n</think>\n\n\\boxed{3}", "tokens": 20, "truncated": False, "correct": True},
        {"text": "S1+2=3\n</think>\n\n\\boxed{4}", "tokens": 10, "truncated": False, "correct": False},
        {"text": "S1+2=3\n</think>\n\n\\boxed{3}", "tokens": 12, "truncated": False, "correct": True},
        {"text": "S1+2=3\n\nW1+2=3\n\nW1+2=3", "tokens": 160, "truncated": True, "correct": False},
    ]
    for seed, rows in (("seed0", records[:2]), ("seed1", records[2:])):
        (tmp_path / "arm" / seed / "generations").mkdir(parents=True)
        log = tmp_path / "arm" / seed / "generations" / "running_sums_test.jsonl"
        log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    styles = response_styles.styles_of(response_styles.records_under(tmp_path / "arm"))
    assert (styles.n, styles.loops, styles.verbose_share) == (4, 0.25, pytest.approx(1 / 3))
    assert (styles.verbose_acc, styles.concise_acc, styles.concise_tokens) == (1.0, 0.5, 11.0)
    assert response_styles.main([str(tmp_path / "arm")]) == 0
    assert "| arm | 4 | 25.0 % | 33.3 % | 100.0 % | 50.0 % | 20.0 / 11.0 |" in capsys.readouterr().out


def test_a_directory_without_generations_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no generations/\\*.jsonl under"):
        response_styles.records_under(tmp_path)
