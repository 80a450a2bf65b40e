"""Answer comparison: cheap exact paths first, math-verify (gold first) for the rest.

``fast_check`` settles most responses in microseconds with rules that can only agree with
math-verify: normalised string equality, exact comparison of plain numbers, multiple-choice
letters. ``math_verify_check`` is the slow, unbounded path; ``check_answer`` runs it in a
worker process under a deadline (see ``deadline.py``) so no input can hang the caller.

Hostile text never reaches sympy: ``is_safe`` rejects Python-looking identifiers and power
towers, and only math-verify's LaTeX extraction is used (an ANTLR grammar; its plain-expression
extraction goes through sympy's ``parse_expr``, which calls ``eval``).
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

from siri_verl.reward.deadline import DeadlinePool, get_pool, warn_once

DEFAULT_TIMEOUT_S = 5.0
# The reason of an answer that could not be checked at all (no worker could run math-verify on
# it, or it raised): not a verdict. It scores 0 for training, since there is no better number,
# and is counted apart everywhere (``reward/checker_errors`` per step, ``checker_errors`` in eval).
CHECKER_ERROR = "checker_error"
# A real parse-and-verify each worker runs before its first item (loads the LaTeX grammar and
# sympy's simplification paths), so no item's deadline pays for a cold start.
WARM_UP_ITEM = ("\\sqrt{2}/2", "\\frac{\\sqrt{2}}{2}")

# --- normalisation --------------------------------------------------------------------------

_SPACING = re.compile(r"\\(?:left|right|displaystyle|[,;:! ]|[qm]?quad)(?![a-zA-Z])|\s+|\$")
_TEXT_WRAP = re.compile(r"^\\(?:text|textbf|mathrm|mathbf|textrm)\{([^{}]*)\}$")
_DEGREE = re.compile(r"\^\{?\\circ\}?$|\\%$|%$")
_LETTER = re.compile(r"^\(?([A-J])\)?[.:]?$")


def normalize(answer: str) -> str:
    """Layout-only normalisation: spacing, ``$``, ``\\left``, ``\\dfrac``, a trailing period."""
    s = _SPACING.sub("", answer).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.rstrip(".")
    while (m := _TEXT_WRAP.match(s)) is not None:
        s = m.group(1).strip()
    return s


def gold_to_str(gold) -> str:
    """Gold answers come as str, int, float (``142.0``) or lists (OlympiadBench ``final_answer``)."""
    if isinstance(gold, (list, tuple)):
        return ", ".join(gold_to_str(g) for g in gold)
    if isinstance(gold, float) and gold.is_integer():
        return str(int(gold))
    gold = str(gold).strip()
    if len(gold) > 1 and gold[0] == gold[-1] == "$":  # OlympiadBench writes "$\\frac{2}{5}$"
        gold = gold.strip("$").strip()
    return gold


def choice_letter(answer: str) -> str | None:
    """``C``, ``(C)``, ``\\text{C}``, ``\\textbf{(C)}`` -> ``C``; anything else -> None."""
    m = _LETTER.match(normalize(answer))
    return m.group(1) if m else None


_NUMBER = re.compile(r"^[+-]?(?:\d{1,200}(?:\.\d{0,200})?|\.\d{1,200})$")
_FRACTION = re.compile(r"^(-?)(?:\\frac(?:\{(-?\d{1,50})\}|(\d))(?:\{(\d{1,50})\}|(\d))|(-?\d{1,50})/(\d{1,50}))$")


def as_number(answer: str) -> tuple[Fraction, bool] | None:
    """An exact value for plain numbers and fractions, and whether it was a decimal literal."""
    s = _DEGREE.sub("", answer)
    if _NUMBER.match(s):
        return Fraction(s), True
    m = _FRACTION.match(s)
    if m is None:
        return None
    sign, *parts = m.groups()
    num, den = [p for p in parts if p is not None]  # \frac{a}{b}, \frac ab or a/b
    if int(den) == 0:
        return None
    value = Fraction(int(num), int(den))
    return (-value if sign else value), False


_BASE = re.compile(r"^([0-9A-Z]{1,64})_\{?(\d{1,2})\}?$")  # 52_8: math-verify drops the subscript
_PARENS = re.compile(r"^\((.*)\)$")


def _exact_number(s: str) -> tuple[Fraction, bool] | None:
    """as_number, also reading ``(073)`` (AMC-style) as 73."""
    m = _PARENS.match(s)
    return as_number(m.group(1) if m else s)


_BRACKETS = re.compile(r"^(\(|\[|\\\{)(.*)(\)|\]|\\\})$")


def _number_list(s: str) -> tuple[str, set, list] | None:
    """``(1,2)``, ``\\{3,-4\\}``, ``2,3,9`` -> (brackets, set, list) of exact values, else None."""
    m = _BRACKETS.match(s)
    brackets, body = (m.group(1) + m.group(3), m.group(2)) if m else ("", s)
    values = []
    for part in body.split(","):
        x = as_number(part)
        if x is None or (x[1] and x[0].denominator != 1):  # non-integer decimals round under math-verify
            return None
        values.append(x[0])
    return (brackets, set(values), values) if len(values) > 1 else None


def fast_check(pred: str, gold: str) -> bool | None:
    """True/False when a cheap exact rule decides, None when math-verify must."""
    p, g = normalize(pred), normalize(gold)
    if p == g:
        return True
    if (gl := choice_letter(gold)) is not None:
        return choice_letter(pred) == gl
    if (gb := _BASE.match(g)) is not None:
        pb = _BASE.match(p)
        digits = pb.group(1) if pb else p
        return digits.lstrip("0") == gb.group(1).lstrip("0") and (pb is None or pb.group(2) == gb.group(2))
    pn, gn = _exact_number(p), _exact_number(g)
    if pn is not None and gn is not None:
        if pn[0] == gn[0]:
            return True
        # A non-integer decimal may still match a fraction under math-verify's rounding (0.333 vs
        # 1/3); integers, fractions and decimals compared among themselves are exact.
        inexact = [x[1] and x[0].denominator != 1 for x in (pn, gn)]
        if inexact[0] == inexact[1] or not any(inexact):
            return False
    pl, gl = _number_list(p), _number_list(g)
    if pl is not None and gl is not None:
        if pl[1] != gl[1]:  # different values: no reading (tuple, set, interval) can match
            return False
        if pl[0] == gl[0] and pl[2] == gl[2]:
            return True
    return None


# --- safety guard -------------------------------------------------------------------------

_PYTHONISH = re.compile(
    r"__|\b(?:import|eval|exec|lambda|compile|getattr|setattr|globals|locals|open|system|subprocess|"
    r"builtins|os\.|sys\.|input|breakpoint)\b|[`@]"
)
# 10^{10^{10}} or 99999! would make sympy build a number with billions of digits.
_BIG_EXPONENT = re.compile(r"\^\s*\{[^{}]*(?:\^|\d{5})|\^\s*\d{5}|\d{4,}\s*!|!!")


def is_safe(expr: str, max_chars: int = 512) -> bool:
    """Whether ``expr`` may be handed to math-verify/sympy: short, no Python, no power towers."""
    return len(expr) <= max_chars and not _PYTHONISH.search(expr) and not _BIG_EXPONENT.search(expr)


# --- math-verify ----------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _parse(answer: str):
    from math_verify import LatexExtractionConfig, parse

    # Gold answers repeat across a GRPO group, so parsed answers are cached per worker.
    return parse("\\boxed{" + answer + "}", [LatexExtractionConfig()], parsing_timeout=None)


def math_verify_check(pred: str, gold: str) -> bool:
    """math-verify's verdict, gold first. No time bound: call through ``check_answer`` or a pool."""
    from math_verify import verify

    parsed_gold, parsed_pred = _parse(gold), _parse(pred)
    if not parsed_gold or not parsed_pred:
        return False
    return bool(verify(parsed_gold, parsed_pred, timeout_seconds=None))


def warm_up() -> None:
    """Check :data:`WARM_UP_ITEM` (equal); raise if math-verify does not say so."""
    if not math_verify_check(*WARM_UP_ITEM):
        raise RuntimeError(f"math-verify warm-up: {WARM_UP_ITEM[0]!r} vs {WARM_UP_ITEM[1]!r} was not found equal")


def math_verify_pool(num_workers: int | None = None) -> DeadlinePool:
    """The process-wide pool that runs :func:`math_verify_check` under a deadline, each worker
    warmed up by :func:`warm_up` (size: ``SIRI_VERL_REWARD_WORKERS`` or 1 by default, enough for
    one-at-a-time ``compute_score``, whose fast path runs in-process and sends only the hard
    items here)."""
    return get_pool(num_workers, warm_up=warm_up)


def check_answer(pred: str | None, gold, timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[bool, str]:
    """(acc, reason) for an extracted answer against a gold answer; reason is one of
    ``correct``, ``wrong``, ``no_answer``, ``timeout``, ``checker_error``. Never raises;
    math-verify runs in a worker process that is killed when it overruns ``timeout_s``."""
    verdict, reason = decide_fast(pred, gold)
    if reason is not None:
        return verdict, reason
    status, value = math_verify_pool().run(math_verify_check, (pred, gold_to_str(gold)), timeout_s)
    return _verdict(status, value)


def decide_fast(pred: str | None, gold) -> tuple[bool, str | None]:
    """The in-process part of ``check_answer``: a final (acc, reason), or (False, None) for math-verify."""
    if pred is None or not pred.strip():
        return False, "no_answer"
    gold = gold_to_str(gold)
    try:
        fast = fast_check(pred, gold)
    except Exception:  # a malformed number must not escape; let math-verify (or the guard) decide
        fast = None
    if fast is not None:
        return fast, "correct" if fast else "wrong"
    if not is_safe(normalize(pred)) or not is_safe(normalize(gold), max_chars=4096):
        return False, "wrong"
    return False, None


def _verdict(status: str, value) -> tuple[bool, str]:
    """(acc, reason) from a pool's ``(status, value)`` (``deadline.DeadlinePool.run``)."""
    if status == "timeout":
        return False, "timeout"
    if status != "ok":
        warn_once(CHECKER_ERROR, f"siri_verl answer checker: an answer could not be checked ({value}). It is "
                                 f"scored 0 with reason {CHECKER_ERROR!r}, counted in reward/{CHECKER_ERROR}s; "
                                 f"this warning is shown once per process.")
        return False, CHECKER_ERROR
    return bool(value), "correct" if value else "wrong"
