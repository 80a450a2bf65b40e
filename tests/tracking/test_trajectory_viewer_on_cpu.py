"""The trajectory viewer (``siri_verl/tracking/viewer.py``): rows in, one self-contained HTML page out.

The page is checked as text (every segment with its summary, tokens against η, stop reason and
reward; responses against L(t); model text escaped; nothing external) and in a real browser:
headless Chromium (Debian's ``chromium``) renders it, its DOM is read back and a screenshot is
taken. With ``SIRI_VERL_WRITE_RESULTS=1`` the screenshot is kept as
``results/trajectory_viewer.png`` (without it the repository is left untouched):

    SIRI_VERL_WRITE_RESULTS=1 .venv/bin/pytest -q tests/tracking/test_trajectory_viewer_on_cpu.py
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest
import torch
from _repo import REPO
from tensordict import NonTensorStack, TensorDict

from siri_verl.tracking.viewer import SampleRow, artifact_path, group_trajectories, render_viewer

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
HOSTILE = '<script>alert("x")</script></pre><img src=x onerror=alert(1)>'
ETA, PHI = 48, 4


def segment(trajectory: str, index: int, text: str, tokens: int, score: float, **final) -> SampleRow:
    fields = {"inftythink_segment_index": index, "inftythink_segment_tokens": tokens, "inftythink_is_final": bool(final)}
    if final:
        fields.update(inftythink_segment_cap=ETA, inftythink_max_segments=PHI, **final)
    return SampleRow(trajectory, index, "<｜User｜>Q3528417<｜Assistant｜><think>\n", text, tokens, score, fields)


def inftythink_rows() -> list[SampleRow]:
    """Two trajectories, their rows shuffled as verl may hand them over."""
    solved = [
        segment("a_0", 0, "S3+5=8\n\nS8+2=10\n</think>\n<summary>\n10|8417\n</summary>", 21, 1.0),
        segment("a_0", 1, "S10+8=18\n\nS18+4=22\n</think>\n<summary>\n22|17\n</summary>", 23, 1.0),
        segment("a_0", 2, "S22+1=23\n\nS23+7=30\n</think>\n\n\\boxed{30}", 19, 1.0,
                inftythink_stop_reason="conclusion", reward_extra_info={"reason": "correct", "acc": True, "pred": "30"}),
    ]  # fmt: skip
    cut = [
        segment("b_0", 0, "S3+5=8\n\nW3+5=8\n</think>\n<summary>\n8|28417\n</summary>", 24, 0.0),
        segment("b_0", 1, "S8+2=10\n\nW8+2=10\n\nS10+8=18\n\nW10+8=18\n\nS18+4=2" + HOSTILE, ETA, 0.0,
                inftythink_stop_reason="token_cap", reward_extra_info={"reason": "truncated", "acc": False, "pred": None}),
    ]  # fmt: skip
    return [cut[1], solved[2], solved[0], cut[0], solved[1]]


def siri_rows() -> list[SampleRow]:
    def response(uid, text, tokens, truncated, score, reason):
        fields = {"siri_cap": 64, "truncated": truncated, "response_tokens": tokens,
                  "reward_extra_info": {"reason": reason, "pred": "30" if reason == "correct" else None}}  # fmt: skip
        return SampleRow(uid, 0, "<｜User｜>What is 3+5+2+8+4+1+7?<｜Assistant｜>", text, tokens, score, fields)

    return [
        response("c_0", "3+5=8, 8+2=10, 10+8=18, 18+4=22, 22+1=23, 23+7=30. \\boxed{30}", 30, False, 1.0, "correct"),
        response("d_0", "Wait, let me add again: 3+5=8. Wait, 8+2=10. Wait, " + HOSTILE, 64, True, 0.0, "truncated"),
    ]


def test_inftythink_trajectories_are_shown_segment_by_segment():
    page = render_viewer(inftythink_rows(), step=6)
    groups = group_trajectories(inftythink_rows())
    assert [[row.index for row in group] for group in groups] == [[0, 1], [0, 1, 2]]
    solved = page[page.index("trajectory 2") :]
    # Each segment in order, with its summary and its tokens against eta.
    positions = [solved.index(f"segment {i}") for i in (1, 2, 3)]
    assert positions == sorted(positions)
    for summary in ("10|8417", "22|17"):
        assert f"<pre>{summary}</pre>" in solved
    for tokens in (21, 23, 19):
        assert f"{tokens} / {ETA} tokens (η)" in solved
    assert "3 segments of φ = 4" in solved and "stop: conclusion" in solved and "reward 1" in solved
    assert "<pre>\\boxed{30}</pre>" in solved  # the conclusion the checker read
    cut = page[: page.index("trajectory 2")]
    assert "stop: token_cap" in cut and "reward 0" in cut and "answer: truncated" in cut
    assert f"{ETA} / {ETA} tokens (η)" in cut and 'class="bar full"' in cut
    assert "→ next segment" in cut  # the first segment went on with its summary


def test_siri_responses_are_shown_against_the_current_cap():
    page = render_viewer(siri_rows(), step=3, length_cap=40)
    assert "training cap L(t) = 40 tokens" in page
    first, second = page.split("sample 2")
    assert "30 / 40 tokens (L(t))" in first and "30 / 64 tokens (cap generated under)" in first
    assert "score 1" in first and "not truncated" in first and "answer: correct" in first
    assert "64 / 40 tokens (L(t))" in second and " truncated" in second and "score 0" in second


def test_one_bar_where_the_cap_generated_under_is_l_of_t():
    # Validation at a step whose L(t) is the full budget: one cap, one bar.
    first = render_viewer(siri_rows(), step=20, length_cap=64).split("sample 2")[0]
    assert first.count('class="bar ') == 1 and "30 / 64 tokens (L(t), the cap generated under)" in first


def test_model_text_is_escaped_and_the_page_needs_nothing_external():
    page = render_viewer([*inftythink_rows(), *siri_rows()], step=0, length_cap=40)
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;｜User｜&gt;" in page  # prompts are escaped too
    lowered = page.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<link" not in lowered
    # No element of the page loads anything: no src/href attribute, no CSS url(), no address.
    assert not re.search(r"<[^>]*\s(src|href)\s*=", lowered) and "url(" not in lowered and "http" not in lowered


def test_artifact_path_and_an_empty_pass():
    assert artifact_path(12) == "trajectories/val_step_12.html"
    assert "no validation samples were read" in render_viewer([], step=0)


def test_the_trainer_reads_the_first_trajectories_of_a_validation_batch(monkeypatch):
    """``siri_verl/trainer.py`` groups TransferQueue keys ``{uid}_{session}_{index}`` into
    trajectories and decodes the rows of the first ones; here TransferQueue's read is a fake
    returning verl's field types (jagged tensors, a NonTensorStack of dicts)."""
    import transfer_queue as tq
    from transfer_queue import KVBatchMeta

    from siri_verl.trainer import _sample_rows_of

    class Tokenizer:
        def decode(self, ids, skip_special_tokens=True):
            return " ".join(map(str, ids))

    store = {
        "u1_0_0": ([1, 2], [10, 11, 12], {"inftythink_segment_index": 0}),
        "u1_0_1": ([1, 2, 9], [13], {"inftythink_segment_index": 1, "inftythink_stop_reason": "conclusion"}),
        "u2_0_0": ([3], [20, 21], {"inftythink_segment_index": 0}),
        "u3_0_0": ([4], [30], {"inftythink_segment_index": 0}),
    }

    def kv_batch_get(keys, partition_id, select_fields):
        assert partition_id == "val" and set(select_fields) == {"prompts", "responses", "extra_fields", "rm_scores"}
        jagged = lambda column: torch.nested.as_nested_tensor(  # noqa: E731
            [torch.tensor(store[k][column]) for k in keys], layout=torch.jagged
        )
        return TensorDict(
            {"prompts": jagged(0), "responses": jagged(1), "rm_scores": jagged(1).float() * 0 + 0.5,
             "extra_fields": NonTensorStack(*[store[k][2] for k in keys])},
            batch_size=len(keys),
        )  # fmt: skip

    monkeypatch.setattr(tq, "kv_batch_get", kv_batch_get)
    keys = ["u1_0_1", "u2_0_0", "u1_0_0", "u3_0_0"]
    batch = KVBatchMeta(partition_id="val", keys=keys, tags=[{} for _ in keys])
    rows = _sample_rows_of(batch, limit=2, tokenizer=Tokenizer(), with_scores=True)
    assert [(r.trajectory_id, r.index) for r in rows] == [("u1_0", 0), ("u1_0", 1), ("u2_0", 0)]
    assert rows[0].prompt == "1 2" and rows[0].response == "10 11 12" and rows[0].response_tokens == 3
    assert rows[0].score == pytest.approx(1.5) and rows[1].extra_fields["inftythink_stop_reason"] == "conclusion"


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it when run as root)")
def test_the_page_renders_in_headless_chromium(tmp_path):
    page = tmp_path / "val_step_6.html"
    page.write_text(render_viewer([*siri_rows(), *inftythink_rows()], step=6, length_cap=40), encoding="utf-8")
    screenshot = tmp_path / "trajectory_viewer.png"
    profile = tmp_path / f"profile{time.monotonic_ns()}"
    command = [
        CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", f"--screenshot={screenshot}",
        "--window-size=1100,1500", page.as_uri(),
    ]  # fmt: skip
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    # The browser built the page: its headings and summaries are there, and the hostile model text
    # stayed text (no script or img element was created from it).
    assert "Validation samples" in dom and "trajectory 3" in dom and "10|8417" in dom
    assert "<script" not in dom and "<img" not in dom and "&lt;script&gt;" in dom
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000
    if os.environ.get("SIRI_VERL_WRITE_RESULTS") == "1":
        shutil.copy(screenshot, REPO / "results" / "trajectory_viewer.png")
