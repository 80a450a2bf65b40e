"""Answer extraction: the final answer is the last ``\\boxed{}`` after the reasoning.

Only the text after the think-end marker counts (the reasoning may box intermediate results),
and only its last ``MAX_TAIL_CHARS`` characters are scanned, so a 4K-token response costs a
few microseconds and hostile input (1 MB strings, 10,000 nested braces) stays linear and bounded.
"""

from __future__ import annotations

import re

THINK_START = "<think>"
THINK_END = "</think>"
MAX_TAIL_CHARS = 4096  # the final answer sits at the end; earlier text is never scanned
MAX_ANSWER_CHARS = 1024  # longest real gold answer is ~250 chars; longer boxes are not answers

# One pass over \boxed{ / \fbox{ openers, escaped braces (literal, not grouping) and plain braces.
_TOKENS = re.compile(r"\\(?:boxed|fbox)\s*\{|\\[{}]|[{}]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def answer_region(text: str, think_end: str | None = THINK_END, require_think_end: bool = False) -> str | None:
    """The part of a response that may hold the final answer, or None when reasoning never ended.

    A response with an opening ``<think>`` but no closing marker was cut off mid-reasoning. Without
    either marker the whole response counts, unless ``require_think_end`` (for chat templates
    that put ``<think>`` in the prompt, so the response never shows it).
    """
    if not think_end:
        return text[-MAX_TAIL_CHARS:]
    cut = text.rfind(think_end)
    if cut >= 0:
        return text[cut + len(think_end) :][-MAX_TAIL_CHARS:]
    if require_think_end or THINK_START in text:
        return None
    return text[-MAX_TAIL_CHARS:]


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` / ``\\fbox{...}`` in ``text`` (brace-matched), or None.

    "Last" means the box that closes last; a box directly wrapping another (``\\boxed{\\boxed{5}}``)
    is unwrapped. Unclosed boxes are ignored rather than read to the end of the text.
    """
    text = text[-MAX_TAIL_CHARS:]
    stack: list[int] = []  # content start of an open box, or -1 for a plain brace
    best: tuple[int, int] | None = None
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok[0] == "\\" and len(tok) == 2:  # \{ or \} is a literal brace
            continue
        if tok == "}":
            if stack and (start := stack.pop()) >= 0:
                best = (start, m.start())
        else:
            stack.append(m.end() if tok != "{" else -1)
    if best is None:
        return None
    content = text[best[0] : best[1]].strip()
    inner = last_boxed(content) if content.startswith(("\\boxed", "\\fbox")) else None
    if inner is not None and content.endswith("}"):
        content = inner
    if not content or len(content) > MAX_ANSWER_CHARS:
        return None
    return _CONTROL.sub(" ", content)
