"""verl's multi-turn SFT dataset, with InftyThink+ segment rows tokenised as the RL agent loop sees them.

InftyThink+'s cold start trains segment i on ``question -> <history> s_{i-1} </history> <think>
r_i </think> <summary> s_i </summary>`` with no loss on the history (docs/inftythink.md). The
cold-start data (``python -m siri_verl.inftythink.coldstart``) puts that prefix at the start of
the assistant message and repeats it in the ``assistant_prefix`` column.

verl's ``MultiTurnSFTDataset`` renders every message with the model's chat template. For these
rows that loses the training target on the paper's model: DeepSeek-R1-Distill's template keeps
only the text after the last ``</think>`` of an assistant turn, so the history and the whole
think block are dropped. A row with a prefix is therefore tokenised the way the ``inftythink``
agent loop builds its request and what the server returns (``siri_verl/inftythink/inftythink_agent_loop.py``)::

    prompt   = join_prompt(chat template of the messages before the assistant turn,
                           add_generation_prompt=True; R1: "...<｜Assistant｜><think>\\n",
                           assistant_prefix)                                       loss 0
    response = the assistant content after the prefix, then the EOS id          loss 1

so that the cold start trains exactly the token sequences RL later samples and scores
(tests/models/test_r1_distill_contract_on_cpu.py checks ``input_ids == prompt_ids + response_ids`` of the
loop on R1-Distill's tokenizer). The think opener closing the prefix is prompt, never generated.

Everything else is verl's: rows without the column, or with an empty prefix, are verl's
behaviour unchanged, and padding, truncation and the output dict (``input_ids``, ``loss_mask``,
``position_ids`` and, with right padding, ``attention_mask``) are verl's for every row. A segment
row passes through verl's per-message loop as two pieces: the whole prompt at the first message,
the response at the assistant message.

Select it in verl's SFT trainer with::

    data.custom_cls.path=pkg://siri_verl.inftythink.sft_dataset data.custom_cls.name=InftyThinkSFTDataset

(``conf/sft/sft.yaml`` does).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any

import torch
from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

from siri_verl.prompt_render import render_prompt_ids

__all__ = ["PREFIX_COLUMN", "InftyThinkSFTDataset", "SegmentTokens", "segment_tokens"]

PREFIX_COLUMN = "assistant_prefix"


@dataclass(frozen=True)
class SegmentTokens:
    """One segment row as the agent loop sees it: request ``prompt_ids``, generated ``response_ids``."""

    prompt_ids: list[int]
    response_ids: list[int]


def segment_tokens(
    tokenizer, messages: list[dict], assistant_prefix: str, row: int, chat_template_kwargs: dict | None = None
) -> SegmentTokens:
    """Tokenise a cold-start row (prompt messages, then one assistant turn ``prefix + target``).

    Raises ``ValueError`` naming ``row`` when the layout is not that.
    """
    *prompt_messages, assistant = messages
    roles = [m.get("role") for m in messages]
    if not prompt_messages or assistant.get("role") != "assistant" or "assistant" in roles[:-1]:
        raise ValueError(
            f"row {row}: a row with an {PREFIX_COLUMN} must be prompt messages then one assistant turn, got roles {roles}"
        )
    content = assistant.get("content")
    if not isinstance(content, str) or not content.startswith(assistant_prefix):
        raise ValueError(
            f"row {row}: the assistant content does not start with its {PREFIX_COLUMN} {assistant_prefix!r}"
        )
    prompt_ids = render_prompt_ids(tokenizer, prompt_messages, assistant_prefix, chat_template_kwargs)
    target_ids = tokenizer(content[len(assistant_prefix) :], add_special_tokens=False)["input_ids"]
    return SegmentTokens(prompt_ids=list(prompt_ids), response_ids=[*target_ids, tokenizer.eos_token_id])


# The segment tokens of the row being built (None: verl's own path); set around verl's
# __getitem__ so that the per-message hooks see their row without changing verl's call
# signatures. A ContextVar, not an attribute, so that concurrent __getitem__ calls (threads)
# cannot see each other's rows.
_CURRENT: contextvars.ContextVar[SegmentTokens | None] = contextvars.ContextVar("inftythink_segment", default=None)


class InftyThinkSFTDataset(MultiTurnSFTDataset):
    """``MultiTurnSFTDataset`` that tokenises ``assistant_prefix`` rows as the agent loop does.

    Same constructor (``parquet_files, tokenizer, config, processor=None, max_samples=-1``) and
    the same ``__getitem__`` output, each of shape ``(max_length,)`` with right padding.
    """

    def __getitem__(self, item):
        prefix = self.dataframe.iloc[item][PREFIX_COLUMN] if PREFIX_COLUMN in self.dataframe.columns else None
        if prefix is not None and not isinstance(prefix, str):
            prefix = None if _is_missing(prefix) else str(prefix)
        segment = None
        if prefix:
            messages = self._build_messages(self.dataframe.iloc[item].to_dict())
            segment = segment_tokens(self.tokenizer, messages, prefix, item, self.apply_chat_template_kwargs)
        token = _CURRENT.set(segment)
        try:
            return super().__getitem__(item)
        finally:
            _CURRENT.reset(token)

    def _process_single_message(
        self, index: int, message: dict[str, Any], full_message: list, tools=None, enable_thinking=None
    ):
        segment = _CURRENT.get()
        if segment is None:
            return super()._process_single_message(
                index, message, full_message, tools=tools, enable_thinking=enable_thinking
            )
        if index == len(full_message) - 1:  # the assistant turn
            ids, trained = segment.response_ids, 1
        elif index == 0:
            ids, trained = segment.prompt_ids, 0
        else:  # later prompt messages: already rendered in the prompt
            ids, trained = [], 0
        input_ids = torch.tensor(ids, dtype=torch.long)
        return input_ids, torch.full_like(input_ids, trained), torch.ones_like(input_ids), {}

    def sanity_check(self, input_ids: torch.Tensor, messages: list[dict], tools, enable_thinking) -> None:
        """verl compares with the whole conversation rendered at once, which for a segment row on
        R1-Distill's template is the stripped text; the reference here is the agent loop's tokens."""
        segment = _CURRENT.get()
        if segment is None:
            return super().sanity_check(input_ids, messages, tools, enable_thinking)
        if input_ids.tolist() != segment.prompt_ids + segment.response_ids:
            raise AssertionError("verl's per-message loop changed the segment's prompt + response tokens")


def _is_missing(value) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
