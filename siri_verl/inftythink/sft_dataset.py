"""verl's multi-turn SFT dataset with no loss on the InftyThink ``<history>`` prefix.

InftyThink+'s cold start trains segment i on ``question -> <history> s_{i-1} </history> r_i
<summary> s_i </summary>`` with no loss on the history (docs/inftythink.md). The cold-start
data (``coldstart.py``) puts that prefix at the start of the assistant message and repeats it in
the message's ``no_loss_prefix`` field; this subclass zeroes the loss mask over those tokens.

Select it in verl's SFT trainer with ``data.custom_cls.path=pkg://siri_verl.inftythink.sft_dataset
data.custom_cls.name=InftyThinkSFTDataset`` (conf/sft/sft.yaml does).
"""

from __future__ import annotations

from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

PREFIX_FIELD = "no_loss_prefix"


class InftyThinkSFTDataset(MultiTurnSFTDataset):
    def _process_single_message(self, index, message, full_message, tools=None, enable_thinking=None):
        input_ids, loss_mask, attention_mask, inputs = super()._process_single_message(
            index, message, full_message, tools=tools, enable_thinking=enable_thinking
        )
        prefix = message.get(PREFIX_FIELD) if message.get("role") == "assistant" else None
        if prefix:
            end = _prefix_end(input_ids.tolist(), self.tokenizer(prefix, add_special_tokens=False)["input_ids"])
            if end is None:
                raise ValueError(f"message {index}: its {PREFIX_FIELD} does not open the assistant content")
            loss_mask[:end] = 0  # the assistant header and the history: prompt, not target
        return input_ids, loss_mask, attention_mask, inputs


def _prefix_end(input_ids: list[int], prefix_ids: list[int]) -> int | None:
    """End of the first occurrence of ``prefix_ids`` in ``input_ids`` (the prefix ends in
    ``<think>\n``, so it tokenises the same alone as in context)."""
    width = len(prefix_ids)
    for start in range(len(input_ids) - width + 1):
        if input_ids[start : start + width] == prefix_ids:
            return start + width
    return None
