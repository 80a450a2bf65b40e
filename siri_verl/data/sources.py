"""The registry of data sets ``prepare`` knows: where each lives and how to read one row.

A :class:`Source` names a data set by the short name used everywhere else in the project
(``data_source`` in the parquet, ``eval/<name>/...`` in MLflow) and records

* where to fetch it from the Hugging Face hub (id, config, split) — what users run;
* which files under a local mirror (``--from DIR``, laid out like ``../shared/data``) hold the
  same problems — what offline machines and tests run;
* how to turn one raw row into ``(problem, answer)``. Extractors raise :class:`BadRow` with a
  reason instead of guessing; ``prepare`` reports and skips such rows.

Add a data set with ``@register("name", ...)`` on its extractor; nothing else changes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from siri_verl.reward.extract import last_boxed

# The DeepSeek-R1-Distill models were trained to answer with this instruction after the problem.
MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
# GPQA is multiple choice: the checker compares letters, so ask for the letter only.
MCQ_INSTRUCTION = (
    "Please reason step by step, and put the letter of the correct option (A, B, C or D) "
    "within \\boxed{}."
)

Extractor = Callable[[dict, int], tuple[str, str]]


class BadRow(ValueError):
    """A raw row that cannot become a training or evaluation example (the message says why)."""


@dataclass(frozen=True)
class Source:
    name: str
    hf_id: str
    split: str  # "test" for benchmarks, "train" for training sets (goes to extra_info.split)
    extract: Extractor  # local-file row -> (problem, answer)
    local_files: tuple[str, ...]  # relative to the --from directory
    hf_config: str | None = None
    hf_split: str = "test"  # the split name on the hub, which is often not "test"
    hf_extract: Extractor | None = None  # hub rows when their fields differ from the local file's
    instruction: str = MATH_INSTRUCTION
    ability: str = "math"
    note: str = ""  # shown by ``prepare --list``: what differs between hub and local copy

    @property
    def extract_hf(self) -> Extractor:
        return self.hf_extract or self.extract


SOURCES: dict[str, Source] = {}


def register(name: str, **fields) -> Callable[[Extractor], Extractor]:
    def decorator(extract: Extractor) -> Extractor:
        SOURCES[name] = Source(name=name, extract=extract, **fields)
        return extract

    return decorator


def get_source(name: str) -> Source:
    if name not in SOURCES:
        raise KeyError(f"unknown data set {name!r}; known: {', '.join(sorted(SOURCES))}")
    return SOURCES[name]


# ---------------------------------------------------------------------------- field helpers


def _text(row: dict, *keys: str) -> str:
    """The first of ``keys`` present in ``row``, as a non-empty string."""
    for key in keys:
        if key in row and row[key] is not None:
            value = row[key]
            if not isinstance(value, str):
                raise BadRow(f"field {key!r} is {type(value).__name__}, expected text")
            if not value.strip():
                raise BadRow(f"field {key!r} is empty")
            return value.strip()
    raise BadRow(f"none of the fields {list(keys)} is present")


def _number_or_text(row: dict, key: str) -> str:
    """An answer that may be stored as a number: ``142.0`` becomes ``"142"``."""
    value = row.get(key)
    if value is None:
        raise BadRow(f"no {key!r}")
    if isinstance(value, bool):  # bool is an int subclass; never a valid answer
        raise BadRow(f"field {key!r} is a bool")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    return _text(row, key)


# ---------------------------------------------------------------------------- training set


def _problem_answer(row: dict, index: int) -> tuple[str, str]:
    return _text(row, "problem", "question"), _number_or_text(row, "answer")


register(
    "deepscaler",
    hf_id="agentica-org/DeepScaleR-Preview-Dataset",
    hf_split="train",
    split="train",
    # Offline stand-in: only the AIME 1983-2023 and MATH-train parts of the 40,315-row mix are
    # mirrored locally (the AMC, Omni-MATH and STILL parts are not), so --from gives a subset.
    local_files=("train/aime_1983_2023.json", "train/math_train.json"),
    note="--from reads the local AIME 1983-2023 + MATH-train subset (8,449 rows), not the full 40,315",
)(_problem_answer)


# ---------------------------------------------------------------------------- math benchmarks

register("aime24", hf_id="HuggingFaceH4/aime_2024", hf_split="train", split="test",
         local_files=("benchmarks/aime24.jsonl",))(_problem_answer)
register("aime25", hf_id="math-ai/aime25", hf_split="test", split="test",
         local_files=("benchmarks/aime25.jsonl",))(_problem_answer)
register("amc23", hf_id="math-ai/amc23", hf_split="test", split="test",
         local_files=("benchmarks/amc23.jsonl",))(_problem_answer)
register("amc", hf_id="AI-MO/aimo-validation-amc", hf_split="train", split="test",
         local_files=("benchmarks/amc_2022_2023.json",),
         note="the 83-problem AMC 2022-2023 set DeepScaleR reports")(_problem_answer)
register("math500", hf_id="HuggingFaceH4/MATH-500", hf_split="test", split="test",
         local_files=("benchmarks/math500.jsonl",))(_problem_answer)


@register("minerva", hf_id="math-ai/minervamath", hf_split="test", split="test",
          local_files=("benchmarks/minerva_math.jsonl",))
def _minerva(row: dict, index: int) -> tuple[str, str]:
    problem = _text(row, "problem", "question")
    if row.get("answer") not in (None, ""):  # the hub copy carries an answer column
        return problem, _number_or_text(row, "answer")
    # The local copy has the answer only inside the solution's last \boxed{}, read with the
    # answer checker's own rule (an unclosed box is skipped), so gold and prediction agree.
    answer = last_boxed(_text(row, "solution"))
    if not answer:
        raise BadRow("no \\boxed{} answer in the solution")
    return problem, answer


@register("olympiadbench", hf_id="Hothan/OlympiadBench", hf_config="OE_TO_maths_en_COMP",
          hf_split="train", split="test", local_files=("benchmarks/olympiadbench.jsonl",))
def _olympiadbench(row: dict, index: int) -> tuple[str, str]:
    problem = _text(row, "question", "problem")
    answers = row.get("final_answer")
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, (list, tuple)) or not answers:
        raise BadRow(f"final_answer is {answers!r}, expected a non-empty list")
    # Multi-part answers are kept together, comma separated; the $ delimiters only get in the
    # checker's way.
    answer = ", ".join(str(a).strip().strip("$").strip() for a in answers)
    if not answer:
        raise BadRow("final_answer is blank")
    return problem, answer


# ---------------------------------------------------------------------------- GPQA

_LETTERS = "ABCD"


def _gpqa_mcq(row: dict, index: int) -> tuple[str, str]:
    """Local copy: the question already lists lettered options; the answer is the letter."""
    problem = _text(row, "question", "problem")
    answer = _text(row, "answer").strip("() .").upper()
    if answer not in _LETTERS:
        raise BadRow(f"answer {answer!r} is not one of the letters {_LETTERS}")
    return problem, answer


def _gpqa_raw(row: dict, index: int) -> tuple[str, str]:
    """Hub copy: one correct and three incorrect answers; shuffle them into lettered options.

    The shuffle is seeded by the row index so that re-running ``prepare`` gives the same letters.
    """
    question = _text(row, "Question")
    options = [_text(row, "Correct Answer")] + [_text(row, f"Incorrect Answer {k}") for k in (1, 2, 3)]
    order = list(range(4))
    random.Random(index).shuffle(order)
    lines = [f"{_LETTERS[pos]}) {options[k]}" for pos, k in enumerate(order)]
    return question + "\n\n" + "\n".join(lines), _LETTERS[order.index(0)]


register("gpqa_diamond", hf_id="Idavidrein/gpqa", hf_config="gpqa_diamond", hf_split="train",
         split="test", local_files=("benchmarks/gpqa_diamond_mcq.jsonl",), hf_extract=_gpqa_raw,
         instruction=MCQ_INSTRUCTION, ability="science",
         note="gated on the hub; options are shuffled with a per-row seed")(_gpqa_mcq)

# ``prepare all`` expands to every registered name, training set included.
ALL = "all"
BENCHMARKS = tuple(name for name, source in SOURCES.items() if source.split == "test")


def source_id(row: dict, fallback: str) -> str:
    """The row's own identifier where it has one, so a parquet row can be traced back."""
    for key in ("unique_id", "id", "idx", "url", "Record ID"):
        if row.get(key) not in (None, ""):
            return str(row[key])
    return fallback
