"""verl's multi-turn SFT dataset with no loss on the InftyThink+ assistant prefix.

InftyThink+'s cold start trains segment i on ``question -> <history> s_{i-1} </history> <think>
r_i </think> <summary> s_i </summary>`` with no loss on the history (docs/inftythink.md). The
cold-start data (``python -m siri_verl.inftythink.coldstart``) puts that prefix at the start of
the assistant message and repeats it in the ``assistant_prefix`` column; this subclass of
``verl.utils.dataset.multiturn_sft_dataset.MultiTurnSFTDataset`` gives those tokens loss 0 (the
think opener at the end of the prefix too: at RL time it is part of the prompt, never generated).
Everything else (tokenisation, padding, truncation, the output dict) is verl's.

Select it in verl's SFT trainer with::

    data.custom_cls.path=pkg://siri_verl.inftythink.sft_dataset data.custom_cls.name=InftyThinkSFTDataset

(``conf/sft/sft.yaml`` does). Rows without the column, or with an empty prefix, are verl's
behaviour unchanged.

Chat templates: the prefix must reach the tokens as written. DeepSeek-R1-Distill's own template
drops everything up to ``</think>`` from assistant turns; with it the prefix is not found and
:meth:`InftyThinkSFTDataset.__getitem__` raises rather than train on a stripped target.
"""

from __future__ import annotations

import contextvars
from typing import Any

from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

__all__ = ["PREFIX_COLUMN", "InftyThinkSFTDataset", "find_subsequence"]

PREFIX_COLUMN = "assistant_prefix"

# (dataset row, prefix) of the row being built; set around verl's __getitem__ so that the
# per-message hook knows its row without changing verl's call signatures. A ContextVar, not an
# attribute, so that concurrent __getitem__ calls (threads) cannot see each other's rows.
_CURRENT: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar("inftythink_prefix", default=None)


def find_subsequence(sequence: list[int], pattern: list[int], start: int = 0) -> int | None:
    """Index of the first occurrence of ``pattern`` in ``sequence`` at or after ``start``."""
    width = len(pattern)
    for i in range(start, len(sequence) - width + 1):
        if sequence[i : i + width] == pattern:
            return i
    return None


class InftyThinkSFTDataset(MultiTurnSFTDataset):
    """``MultiTurnSFTDataset`` + loss 0 on the ``assistant_prefix`` tokens of the assistant turn.

    Same constructor (``parquet_files, tokenizer, config, processor=None, max_samples=-1``) and
    the same ``__getitem__`` output (``input_ids``, ``loss_mask``, ``position_ids`` and, with
    right padding, ``attention_mask``).
    """

    def __getitem__(self, item):
        prefix = None
        if PREFIX_COLUMN in self.dataframe.columns:
            prefix = self.dataframe.iloc[item][PREFIX_COLUMN]
        if prefix is not None and not isinstance(prefix, str):
            prefix = None if _is_missing(prefix) else str(prefix)
        token = _CURRENT.set((item, prefix) if prefix else None)
        try:
            return super().__getitem__(item)
        finally:
            _CURRENT.reset(token)

    def _process_single_message(
        self, index: int, message: dict[str, Any], full_message: list, tools=None, enable_thinking=None
    ):
        input_ids, loss_mask, attention_mask, inputs = super()._process_single_message(
            index, message, full_message, tools=tools, enable_thinking=enable_thinking
        )
        current = _CURRENT.get()
        if current is None or message.get("role") != "assistant":
            return input_ids, loss_mask, attention_mask, inputs
        row, prefix = current
        first_assistant = next(i for i, m in enumerate(full_message) if m.get("role") == "assistant")
        if index != first_assistant:
            return input_ids, loss_mask, attention_mask, inputs
        content = message.get("content")
        if not isinstance(content, str) or not content.startswith(prefix):
            raise ValueError(f"row {row}: the assistant content does not start with its {PREFIX_COLUMN} {prefix!r}")
        prefix_ids = self.tokenizer(prefix, add_special_tokens=False)["input_ids"]
        ids = input_ids.tolist()
        # The prefix follows the assistant header; the header is at most verl's generation
        # prompt long (which for R1-style templates already holds the think opener).
        at = find_subsequence(ids, prefix_ids)
        if at is None or at > len(self.generation_prompt):
            raise ValueError(
                f"row {row}: the {PREFIX_COLUMN} tokens were not found right after the assistant header "
                f"(prefix {prefix!r}; header tokens {ids[: len(self.generation_prompt)]}). Either the prefix "
                "tokenises differently in context, or the chat template rewrites assistant content "
                "(DeepSeek-R1-Distill's template drops everything up to </think>)"
            )
        loss_mask[: at + len(prefix_ids)] = 0
        return input_ids, loss_mask, attention_mask, inputs


def _is_missing(value) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
