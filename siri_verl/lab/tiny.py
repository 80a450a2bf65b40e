"""Build the tiny offline Qwen2 model and tokenizer used by ``recipe=tiny`` and the tests.

There is no model hub on the machines this must run on, so everything is made in code:

1. A byte-level BPE tokenizer trained on the toy task's text, with the DeepSeek-R1-Distill
   special tokens and chat template (the assistant turn opens with ``<think>\\n``).
2. A Qwen2-architecture model from a config (about 0.1M parameters).
3. A short supervised warm-up on the toy task, so that the model writes ``\\boxed{}`` answers
   that are right some of the time. Without it every reward is 0, every GRPO advantage is 0
   and RL has nothing to learn from.

The result is saved once under the cache directory (``SIRI_VERL_CACHE``, default
``~/.cache/siri_verl``) keyed by the build settings, and reused afterwards.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from siri_verl.assets import cache_root, publish_atomically
from siri_verl.lab.toy_addition import AdditionProblem, split_problems

BOS, EOS, PAD = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜pad｜>"
USER, ASSISTANT = "<｜User｜>", "<｜Assistant｜>"
# The think and InftyThink tags are single tokens, as in R1-Distill's vocabulary, but not
# "special": verl decodes responses with skip_special_tokens=True and the answer checker must
# still see </think>.
TAG_TOKENS = ["<think>", "</think>", "<summary>", "</summary>", "<history>", "</history>"]

# DeepSeek-R1-Distill layout: the generation prompt opens the think block.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'user' %}" + USER + "{{ message['content'] }}"
    "{% elif message['role'] == 'assistant' %}" + ASSISTANT + "{{ message['content'] }}{{ eos_token }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}" + ASSISTANT + "<think>\n{% endif %}"
)


@dataclass(frozen=True)
class TinyModelSpec:
    """Every setting that changes the built artefact (it is part of the cache key)."""

    vocab_size: int = 400
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 512
    # Warm-up steps of supervised training on the toy task; 0 leaves the weights random.
    warmup_steps: int = 150
    # Response layout the warm-up teaches: "single_turn" or "inftythink" (see WARMUP_FORMATS).
    warmup_format: str = "single_turn"
    warmup_lr: float = 3e-3
    seed: int = 0
    # Bumped whenever the tokenizer or warm-up code changes, so stale caches are not reused.
    builder_version: int = 3

    def cache_key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def _tokenizer_corpus(seed: int) -> list[str]:
    problems = [AdditionProblem(a, b) for a in range(10) for b in range(10)]
    texts = [p.question + " " + p.reference_response() for p in problems]
    texts += ["Let me think step by step. Wait, so the answer is the sum. Summary of the reasoning so far."] * 5
    texts += [f"at {x}, {y} to add" for x in range(19) for y in range(10)]
    random.Random(seed).shuffle(texts)
    return texts


def build_tokenizer(spec: TinyModelSpec):
    """A byte-level BPE with R1-style special tokens, wrapped as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = [BOS, EOS, PAD, USER, ASSISTANT]
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_tokenizer_corpus(spec.seed), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=BOS, eos_token=EOS, pad_token=PAD, additional_special_tokens=[USER, ASSISTANT]
    )
    tokenizer.add_tokens(TAG_TOKENS)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(spec: TinyModelSpec, tokenizer):
    """A randomly initialised Qwen2 causal LM sized by ``spec`` (any object with the size fields
    and ``seed`` of :class:`TinyModelSpec`; the toy reasoner's spec is another)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(spec.seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
    )
    return Qwen2ForCausalLM(config)


def _single_turn_examples(tokenizer) -> list[tuple[str, str]]:
    """(prompt, response) pairs: the question, then count up and box the sum in one response."""
    train, _ = split_problems(seed=0)
    examples = []
    for problem in train:
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": problem.question}], add_generation_prompt=True, tokenize=False
        )
        examples.append((prompt, problem.reference_response()))
    return examples


def _inftythink_examples(tokenizer) -> list[tuple[str, str]]:
    """(prompt, response) pairs in the InftyThink+ layout: the tiny-scale cold start.

    Each reference count is cut into segments of ``INFTYTHINK_SEGMENT_COUNTS`` steps; every
    segment but the last ends in a summary ("at X, Y to add"), and the next segment's prompt
    carries that summary as history.
    """
    from siri_verl.inftythink.protocol import (
        build_segment_messages,
        join_prompt,
        render_conclusion_segment,
        render_summary_segment,
    )

    train, _ = split_problems(seed=0)
    examples = []
    for problem in train:
        counts = [problem.a + i for i in range(1, problem.b + 1)]
        chunks = [counts[i : i + INFTYTHINK_SEGMENT_COUNTS] for i in range(0, len(counts), INFTYTHINK_SEGMENT_COUNTS)]
        chunks = chunks or [[]]
        summary = None
        for index, chunk in enumerate(chunks):
            messages, prefix = build_segment_messages(problem.question, summary)
            prompt = join_prompt(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False), prefix)
            reasoning = " ".join(str(c) for c in chunk) or f"{problem.a}+0"
            if index == len(chunks) - 1:
                response = render_conclusion_segment(reasoning, f"\\boxed{{{problem.answer}}}")
            else:
                left = problem.b - INFTYTHINK_SEGMENT_COUNTS * (index + 1)
                summary = f"at {chunk[-1]}, {left} to add"
                response = render_summary_segment(reasoning, summary)
            examples.append((prompt, response))
    return examples


# Counting steps per segment in the InftyThink warm-up: sums with b > 4 need several segments.
INFTYTHINK_SEGMENT_COUNTS = 4
WARMUP_FORMATS = {"single_turn": _single_turn_examples, "inftythink": _inftythink_examples}


def warm_up(model, tokenizer, spec: TinyModelSpec) -> None:
    """Supervised training on the toy task's training split, so validation stays held out.

    Loss is on the response tokens only (after the prompt), as in SFT.
    """
    import torch

    examples = []
    for prompt, response in WARMUP_FORMATS[spec.warmup_format](tokenizer):
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        response_ids = tokenizer(response + EOS, add_special_tokens=False)["input_ids"]
        examples.append((prompt_ids, response_ids))

    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.warmup_lr)
    rng = random.Random(spec.seed)
    model.train()
    for _ in range(spec.warmup_steps):
        batch = rng.sample(examples, k=min(32, len(examples)))
        width = max(len(p) + len(r) for p, r in batch)
        input_ids = torch.full((len(batch), width), tokenizer.pad_token_id)
        labels = torch.full((len(batch), width), -100)
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (p, r) in enumerate(batch):
            ids = p + r
            input_ids[row, : len(ids)] = torch.tensor(ids)
            labels[row, len(p) : len(ids)] = torch.tensor(r)
            attention_mask[row, : len(ids)] = 1
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def ensure_tiny_model(spec: TinyModelSpec | None = None, root: Path | None = None) -> Path:
    """Return the directory of the built model and tokenizer, building it on first use."""
    spec = spec or TinyModelSpec()
    target = (root or cache_root()) / "models" / f"tiny-qwen2-{spec.cache_key()}"
    if (target / "config.json").exists():
        return target
    tokenizer = build_tokenizer(spec)
    model = build_model(spec, tokenizer)
    if spec.warmup_steps:
        warm_up(model, tokenizer, spec)

    def write(staging: Path) -> None:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "siri_verl_spec.json").write_text(json.dumps(asdict(spec), indent=2))

    return publish_atomically(target, write)

