"""Running sums of digits: the synthetic reasoning task of the toy-scale study.

A problem is a tuple of k digits (1-4 each in the study's data); k is the difficulty. The
question is ``"Q"`` followed by the digits (``Q3124``) and the gold answer is their sum (``"10"``),
scored by the project's checker (:func:`siri_verl.reward.compute_score`) like any benchmark.

The worked solution adds one digit per step, one step per paragraph (paragraphs joined by a
blank line)::

    S3+1=4        the first step adds the first two digits
    S4+2=7        a slip: the sum is off by 1-2 ...
    W4+2=6        ... and in the verbose style the re-check after it writes the right sum
    S6+4=10       the solution goes on from the re-checked sum
    W6+4=10       verbose style: every step is re-checked

The style is drawn once per response (:class:`TraceStyle`, the study's :data:`TASK_STYLE`):
verbose (every step re-checked, a step slipping with probability 0.15 and its re-check catching
it) with probability 0.7, concise otherwise (a step slips with probability 0.08 and nothing
catches it). Apart from the style, 30 % of responses loop on their last re-check until past
every cap and never answer: a failure the policy chooses. So at the training temperature
(T = 1) re-checks pay, and at the eval temperature (T = 0.6), where the concise slips are
sharpened away but the near-even loop choice is not, the warm start fails by its choices: what
GRPO can unlearn, and what SIRI's cap can compress. A single style per response, not per step, is
what makes the verbosity removable as a whole: in the feasibility probe with per-step mixing the
policy's lengths were already near the concise floor. Digits 1-4 keep the addition table small
(about 140 entries) so that the 1M model learns it within the warm start's SFT run: its errors
are then the data's, not an unfinished table's (the previous task's 0-9 digits left the build
mid-descent, and two builds scored 56 % and 76.5 %: results/toy_study_noise.md). Every
paragraph starts with a capital letter, so the cold start's segmentation
(:func:`siri_verl.inftythink.segmentation.split_paragraphs`) keeps one step per paragraph.

Long problems (k = 10..24 by default) are the InftyThink+ side: their solution is several times
the per-segment budget η (48 tokens of the toy tokenizer, about 5 steps). The state carried from
one segment to the next is ``"<running sum>|<digits still to add>"`` (``41|5823``):
:func:`summary_of` writes it from a summariser request, and the ``toy_rule`` generation backend
(siri_verl/lab/rule_summariser.py) serves it to ``python -m siri_verl.inftythink.coldstart``.

Splits are a function of the digits (:func:`split_of`, a hash), so no problem can be in two of
``train``, ``tune`` (hyper-parameter choices) and ``test`` (reported numbers), whatever the
seeds and sizes asked for. Everything is deterministic given the seed.

Writers: the verl RL parquet (:func:`write_rl_parquet`, the layout of
:func:`siri_verl.lab.toy_addition.to_verl_row`), the warm-start SFT parquet (:func:`write_sft_parquet`,
the ``messages`` + ``assistant_prefix`` layout of ``InftyThinkSFTDataset``) and the long traces
for the cold start (:func:`write_long_traces`, JSONL with ``question`` and ``trace``);
:func:`write_dataset` writes them all from a :class:`RunningSumsSpec`.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from siri_verl.inftythink.protocol import DEFAULT_TAGS, render_conclusion_segment

DATA_SOURCE = "toy_running_sum"
LONG_DATA_SOURCE = "toy_long_sum"
SPLITS = ("train", "tune", "test")

PARAGRAPH = "\n\n"
STEP, RECHECK = "S", "W"

# The warm start's "think" opener: the prompt ends with it, so it carries no loss.
ASSISTANT_PREFIX = f"{DEFAULT_TAGS.think_open}\n"

# Buckets of a 100-way hash of the digits: 0-9 test, 10-19 tune, 20-99 train.
_SPLIT_BUCKETS = (("test", 10), ("tune", 20), ("train", 100))

_STEP_LINE = re.compile(rf"(?m)^{STEP}(\d+)\+(\d)=(\d+)$")
_QUESTION_LINE = re.compile(r"(?m)^Q(\d+)$")
_STATE_LINE = re.compile(r"(?m)^(\d+)\|(\d*)$")


@dataclass(frozen=True)
class SumProblem:
    """Add the ``digits`` (at least two, each 0-9); difficulty = ``len(digits)``."""

    digits: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.digits) < 2 or not all(isinstance(d, int) and 0 <= d <= 9 for d in self.digits):
            raise ValueError(f"a running-sum problem needs two or more digits 0-9, got {self.digits!r}")

    @property
    def question(self) -> str:
        return "Q" + "".join(map(str, self.digits))

    @property
    def answer(self) -> str:
        return str(sum(self.digits))

    @property
    def conclusion(self) -> str:
        return f"\\boxed{{{self.answer}}}"

    @property
    def split(self) -> str:
        return split_of(self.digits)

    def steps(self) -> list[str]:
        """The concise solution: ``k - 1`` steps ``S<sum so far>+<digit>=<new sum>``."""
        total, steps = self.digits[0], []
        for digit in self.digits[1:]:
            steps.append(f"{total}+{digit}={total + digit}")
            total += digit
        return [STEP + step for step in steps]

    def reasoning(self, recheck_p: float = 0.0, rng: random.Random | None = None, slip_p: float = 0.0) -> str:
        """The worked solution. After each step, with probability ``recheck_p``, its re-check;
        with probability ``slip_p`` a step slips instead (its sum off by 1 or 2), is followed by
        its re-check with the right sum, and the solution goes on from the right sum."""
        if (recheck_p or slip_p) and rng is None:
            raise ValueError("a verbose solution (recheck_p or slip_p > 0) needs an rng")
        paragraphs, total = [], self.digits[0]
        for digit in self.digits[1:]:
            step, right = f"{total}+{digit}=", total + digit
            if slip_p and rng.random() < slip_p:
                paragraphs += [f"{STEP}{step}{slipped(right, rng)}", f"{RECHECK}{step}{right}"]
            else:
                paragraphs.append(f"{STEP}{step}{right}")
                if recheck_p and rng.random() < recheck_p:
                    paragraphs.append(f"{RECHECK}{step}{right}")
            total = right
        return PARAGRAPH.join(paragraphs)

    def uncaught_slips(self, slip_p: float, rng: random.Random) -> tuple[str, int]:
        """The concise solution in which each step slips with probability ``slip_p`` (its sum
        off by 1-2) and nothing catches it: later steps go on from the wrong sum. Returns the
        reasoning and its final sum (the answer it concludes, wrong after any slip)."""
        paragraphs, total = [], self.digits[0]
        for digit in self.digits[1:]:
            written = total + digit
            if rng.random() < slip_p:
                written = slipped(written, rng)
            paragraphs.append(f"{STEP}{total}+{digit}={written}")
            total = written
        return PARAGRAPH.join(paragraphs), total

    def response(self, style: TraceStyle | None = None, rng: random.Random | None = None) -> str:
        """What the model writes after the prompt (which opened the think block): the concise
        solution without a ``style``, else one drawn in ``style`` (its looping failure included)."""
        if style is None:
            return render_conclusion_segment(self.reasoning(), self.conclusion)
        if rng is None:
            raise ValueError("a styled response needs an rng")
        return style.write(self, rng)


def slipped(right: int, rng: random.Random) -> int:
    """A wrong sum 1 or 2 away from ``right`` (never negative)."""
    wrong = right + rng.choice((-2, -1, 1, 2))
    return wrong if wrong >= 0 else 2 * right - wrong


@dataclass(frozen=True)
class TraceStyle:
    """How the warm start's worked solutions are written. The style is drawn once per response:
    verbose with probability ``verbose_p``, concise otherwise, as a reasoning model either
    re-checks its work throughout or does not. In a verbose response every step is followed, with
    probability ``recheck_p``, by its re-check, and a step slips with probability ``slip_p`` (its
    sum off by 1-2), the re-check catching it: so extra reasoning can help, as "wait, let me
    check" does. A concise step slips with probability ``concise_slip_p``, uncaught. Apart from
    the style, with probability ``loop_p`` (problems of ``loop_min_digits`` digits or more) a
    response never concludes: it re-checks its last step over and over until ``loop_chars``
    characters (about 160 tokens, past every cap of the SIRI side), then stops without an
    answer, as R1-Distill runs out of budget: a failure the policy chooses, not a slip.
    """

    verbose_p: float = 0.7
    recheck_p: float = 1.0
    slip_p: float = 0.15
    loop_p: float = 0.1
    loop_chars: int = 180
    # Only problems with at least this many digits loop (2: every problem).
    loop_min_digits: int = 2
    # A concise step slips with this probability, uncaught: the solution goes on from the wrong
    # sum to a wrong answer.
    concise_slip_p: float = 0.0

    def draw(self, rng: random.Random, num_digits: int) -> tuple[bool, bool]:
        """(verbose, loops) of one response to a problem of ``num_digits`` digits: two choices,
        drawn apart (a concise response can loop too)."""
        verbose = rng.random() < self.verbose_p
        can_loop = self.loop_p and num_digits >= self.loop_min_digits
        return verbose, bool(can_loop and rng.random() < self.loop_p)

    def write(self, problem: SumProblem, rng: random.Random) -> str:
        verbose, loops = self.draw(rng, len(problem.digits))
        if verbose:
            reasoning, conclusion = problem.reasoning(self.recheck_p, rng, self.slip_p), problem.conclusion
        elif self.concise_slip_p:
            reasoning, total = problem.uncaught_slips(self.concise_slip_p, rng)
            conclusion = f"\\boxed{{{total}}}"
        else:
            reasoning, conclusion = problem.reasoning(), problem.conclusion
        if not loops:
            return render_conclusion_segment(reasoning, conclusion)
        last = RECHECK + reasoning.rsplit(PARAGRAPH, 1)[-1][1:]
        while len(reasoning) < self.loop_chars:
            reasoning += PARAGRAPH + last
        return reasoning


# The toy study's task (its third version, results/toy_study_tuning.md): 70 % of responses
# verbose, their slips caught by re-checks; a concise step slips uncaught with probability 0.08;
# 30 % of responses, of either style, loop until past every cap (45 % until 2026-12-06, whose warm
# start's sampled accuracy, 30.4 %, fell under the room-to-learn band: results/toy_study_tuning.md).
# At the training temperature (T = 1) re-checks pay (a concise 9-digit solution is right 0.92^8 =
# 51 % of the time); at the eval temperature (T = 0.6) a concise slip is rare (its four wrong sums,
# 2 % each, are sharpened away) while a near-even choice such as looping is not: the warm start's
# failures are choices the policy can unlearn, and its re-checks are what a shorter policy could
# drop.
TASK_STYLE = TraceStyle(verbose_p=0.7, recheck_p=1.0, slip_p=0.15, loop_p=0.3, concise_slip_p=0.08)

# The first study's style (its long traces keep it): half the responses verbose, a re-check after
# each verbose step with probability 0.5, no slips, no loops.
HALF_RECHECKED = TraceStyle(verbose_p=0.5, recheck_p=0.5, slip_p=0.0, loop_p=0.0)


def split_of(digits: tuple[int, ...]) -> str:
    """``train``, ``tune`` or ``test``: a hash of the digits (80 / 10 / 10 %), never the seed."""
    bucket = int(hashlib.sha256("".join(map(str, digits)).encode()).hexdigest()[:8], 16) % 100
    return next(split for split, end in _SPLIT_BUCKETS if bucket < end)


def sample_problems(
    split: str,
    count: int,
    num_digits: tuple[int, int],
    seed: int,
    digit_range: tuple[int, int] = (0, 9),
    distinct: bool = True,
) -> list[SumProblem]:
    """``count`` distinct problems of ``split``, k uniform in ``num_digits`` (inclusive), each
    digit uniform in ``digit_range`` (inclusive); with ``distinct=False`` a problem may repeat.

    Draws are rejected when the problem belongs to another split or was drawn already, so a
    small k whose problems run out is drawn less often than the others (k = 3 has 1000 problems
    in all). Raises when ``count`` cannot be reached.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    low, high = num_digits
    if not 2 <= low <= high:
        raise ValueError(f"num_digits must be (low, high) with 2 <= low <= high, got {num_digits!r}")
    first, last = digit_range
    if not 0 <= first <= last <= 9:
        raise ValueError(f"digit_range must be (first, last) with 0 <= first <= last <= 9, got {digit_range!r}")
    # The full range keeps the first study's key, so its draws are unchanged.
    rng = random.Random(f"running_sums:{seed}:{split}:{low}-{high}" + ("" if digit_range == (0, 9) else f":{first}-{last}"))
    seen: set[tuple[int, ...]] = set()
    problems: list[SumProblem] = []
    for _ in range(200 * count + 1000):
        if len(problems) == count:
            return problems
        digits = tuple(rng.randint(first, last) for _ in range(rng.randint(low, high)))
        if (distinct and digits in seen) or split_of(digits) != split:
            continue
        seen.add(digits)
        problems.append(SumProblem(digits))
    if len(problems) == count:
        return problems
    raise ValueError(f"could not draw {count} distinct {split} problems with {low}-{high} digits")


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------


def to_verl_row(problem: SumProblem, index: int, data_source: str = DATA_SOURCE) -> dict:
    """One verl RL row (the layout of :func:`siri_verl.lab.toy_addition.to_verl_row`)."""
    return {
        "data_source": data_source,
        "prompt": [{"role": "user", "content": problem.question}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": problem.answer},
        "extra_info": {"split": problem.split, "index": index, "num_digits": len(problem.digits)},
    }


def sft_rows(problems: list[SumProblem], style: TraceStyle, seed: int) -> list[dict]:
    """Warm-start SFT rows: the question, then ``<think>\\n`` (no loss) + a response in ``style``."""
    rng = random.Random(f"running_sums_sft:{seed}")
    rows = []
    for problem in problems:
        response = problem.response(style, rng)
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": problem.question},
                    {"role": "assistant", "content": ASSISTANT_PREFIX + response},
                ],
                "assistant_prefix": ASSISTANT_PREFIX,
            }
        )
    return rows


def long_trace_rows(problems: list[SumProblem], style: TraceStyle, seed: int) -> list[dict]:
    """Cold-start input rows: ``question`` and a full ``trace`` (think block + boxed answer)."""
    rng = random.Random(f"running_sums_traces:{seed}")
    return [
        {"question": p.question, "trace": ASSISTANT_PREFIX + p.response(style, rng)}
        for p in problems
    ]


# ---------------------------------------------------------------------------------------------
# The rule-based summariser
# ---------------------------------------------------------------------------------------------


def summary_of(request: str) -> str:
    """The state after the reasoning in a cold-start summariser request: ``"<sum>|<digits left>"``.

    ``request`` is the text of a :data:`~siri_verl.inftythink.coldstart.FIRST_PROMPT` or
    :data:`~siri_verl.inftythink.coldstart.UPDATE_PROMPT` (chat-rendered or not). The state
    starts from the question (the first step adds two digits) or from the previous summary,
    then advances one digit per ``S`` step in the new reasoning (re-checks change nothing).
    The sum is computed from the digits, not copied, and every step must add the next digit.
    """
    question = _QUESTION_LINE.search(request)
    if question is None:
        raise ValueError(f"summariser request without a Q<digits> question line: {request[:200]!r}")
    previous = _STATE_LINE.search(request)
    if previous is not None:
        total, left = int(previous.group(1)), [int(d) for d in previous.group(2)]
    else:
        digits = [int(d) for d in question.group(1)]
        total, left = digits[0], digits[1:]
    for match in _STEP_LINE.finditer(request):
        digit = int(match.group(2))
        if not left or left[0] != digit:
            raise ValueError(f"step {match.group(0)!r} does not add the next digit of {left!r}: {request[:200]!r}")
        total += left.pop(0)
    return f"{total}|{''.join(map(str, left))}"


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunningSumsSpec:
    """Every setting of the written data set (part of its cache key in ``siri_verl.assets``)."""

    seed: int = 0
    # Digits per problem (inclusive): the single-turn task and the InftyThink+ (long) task.
    # 4-9 digits: concise solutions take 53 tokens on average (25-78), verbose ones 100 (up to 149).
    num_digits: tuple[int, int] = (4, 9)
    long_num_digits: tuple[int, int] = (10, 24)
    # Digits 1-4: an addition table of ~140 entries that the 1M model learns within its SFT run, so
    # that the warm start's errors are the ones the data puts there (slips, loops), not an
    # unfinished table whose state differs from build to build (results/toy_study_tuning.md).
    digit_range: tuple[int, int] = (1, 4)
    # How the warm start's solutions are written (short side) and the cold start's long traces.
    style: TraceStyle = TASK_STYLE
    long_style: TraceStyle = HALF_RECHECKED
    # Problems per file. RL prompts (single turn): train / tune / test.
    train_size: int = 4000
    tune_size: int = 200
    test_size: int = 200
    # Warm-start SFT rows, drawn from the train split (a row per distinct problem).
    sft_size: int = 16000
    # InftyThink+ (long) RL prompts and the long traces of the cold start (train split).
    long_train_size: int = 2000
    long_test_size: int = 100
    long_traces_size: int = 4000
    # Bumped whenever the text layout changes, so stale caches are not reused.
    version: int = 3

    def cache_key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


# File names written by write_dataset, by asset-like key.
FILES = {
    "running_sums_train": "train.parquet",
    "running_sums_tune": "tune.parquet",
    "running_sums_test": "test.parquet",
    "long_sums_train": "long_train.parquet",
    "long_sums_test": "long_test.parquet",
    "running_sums_sft": "sft.parquet",
    "long_sums_traces": "long_traces.jsonl",
}


def write_rl_parquet(problems: list[SumProblem], path: Path, data_source: str = DATA_SOURCE) -> Path:
    from siri_verl.data.prepare import write_parquet_atomic

    write_parquet_atomic([to_verl_row(p, i, data_source) for i, p in enumerate(problems)], path)
    return path


def write_sft_parquet(rows: list[dict], path: Path) -> Path:
    from siri_verl.data.prepare import write_parquet_atomic

    write_parquet_atomic(rows, path)
    return path


def write_long_traces(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_dataset(out_dir: str | Path, spec: RunningSumsSpec = RunningSumsSpec()) -> dict[str, Path]:
    """Write every file of :data:`FILES` under ``out_dir``; returns their paths by key.

    The SFT rows and the long traces come from other draws of the train split than the RL
    prompts (another seed), so they overlap the RL training prompts only by chance, and never
    the tune or test prompts.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed, short, long, digits = spec.seed, spec.num_digits, spec.long_num_digits, spec.digit_range
    paths = {key: out / name for key, name in FILES.items()}
    for split, size in (("train", spec.train_size), ("tune", spec.tune_size), ("test", spec.test_size)):
        write_rl_parquet(sample_problems(split, size, short, seed, digits), paths[f"running_sums_{split}"])
    for split, size in (("train", spec.long_train_size), ("test", spec.long_test_size)):
        problems = sample_problems(split, size, long, seed, digits)
        write_rl_parquet(problems, paths[f"long_sums_{split}"], LONG_DATA_SOURCE)
    # Drawn with repeats: the train split has only ~200 distinct 4-digit problems, and a distinct
    # draw of 16000 would tilt the warm start's data towards long problems.
    sft_problems = sample_problems("train", spec.sft_size, short, seed + 1, digits, distinct=False)
    write_sft_parquet(sft_rows(sft_problems, spec.style, seed), paths["running_sums_sft"])
    trace_problems = sample_problems("train", spec.long_traces_size, long, seed + 1, digits)
    write_long_traces(long_trace_rows(trace_problems, spec.long_style, seed), paths["long_sums_traces"])
    return paths


def ensure_dataset(spec: RunningSumsSpec = RunningSumsSpec(), root: Path | None = None) -> dict[str, Path]:
    """The files of :func:`write_dataset` under ``<cache>/data/running_sums-<key>``, written once
    (atomically: a half-written directory is never trusted)."""
    from siri_verl.assets import cache_root, publish_atomically

    target = (root or cache_root()) / "data" / f"running_sums-{spec.cache_key()}"
    if not target.is_dir():
        publish_atomically(target, lambda staging: write_dataset(staging, spec))
    return {key: target / name for key, name in FILES.items()}

