"""The ``siri_verl`` reward manager: verl's naive manager, scoring a trajectory's final row as generated.

What it works around (verl 0.9.1, both lines read from the pinned wheel):

- ``verl/experimental/agent_loop/agent_loop.py``, ``AgentLoopWorker._compute_score``: for an agent
  loop that returns several rows (InftyThink+: one per segment) it right-pads the rows'
  ``prompts``, ``responses`` and ``attention_mask`` (of prompt + response) EACH to its own
  longest row, with ``torch.nn.utils.rnn.pad_sequence``, and passes the row lengths as
  ``non_tensor_batch["prompt_len"]`` / ``["response_len"]``.
- ``verl/experimental/reward_loop/reward_manager/naive.py``, ``NaiveRewardManager.run_single``:
  takes the last row and counts its response as
  ``attention_mask[-response_length:].sum()`` with ``response_length = responses.shape[-1]``,
  which is right only for verl's trainer layout (response mask last) and, in the layout above,
  only when ``prompt_len[-1] == max(prompt_len + response_len) - max(response_len)``.

Otherwise the decoded final segment loses tokens from its end (where ``\\boxed{}`` sits, so a
correct trajectory scores 0) or gains pad tokens. ``verl/.../reward_manager/dapo.py``
(``DAPORewardManager.run_single``) has the same slice, and also feeds the wrong length to its
overlong penalty.

The fix keeps verl's code: :func:`final_row_as_generated` cuts the final row back to the row
the agent loop returned (no padding, so verl's slice counts exactly its response), and
:class:`TrajectoryRewardManager` hands that one row to verl's own ``run_single``. A row
without ``response_len`` (verl's batch reward path, already in the trainer layout) is passed
on unchanged. Recipes select it with ``reward.reward_manager.name: siri_verl``
(conf/agent_loop/*.yaml); the plugin imports this module in every process, Ray's reward
workers included.
"""

from __future__ import annotations

from tensordict import TensorDict
from verl import DataProto
from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager

MANAGER_NAME = "siri_verl"

# Keys of the batch ``_compute_score`` builds, and which of the row's lengths each one spans.
_PROMPT, _RESPONSE, _SEQUENCE = "prompt", "response", "sequence"
_SPANS = {
    "prompts": _PROMPT,
    "responses": _RESPONSE,
    "input_ids": _SEQUENCE,
    "attention_mask": _SEQUENCE,
    "position_ids": _SEQUENCE,
}


def final_row_as_generated(data: DataProto) -> DataProto:
    """The last row of ``data``, cut to its own prompt and response lengths when verl gave them.

    ``data``: the rows of one trajectory as ``AgentLoopWorker._compute_score`` builds them:
    ``prompts`` (n, P), ``responses`` (n, R), ``input_ids`` / ``attention_mask`` (n, S),
    ``position_ids`` (n, S) or (n, k, S), all right-padded, with ``prompt_len`` / ``response_len``
    (n,) in ``non_tensor_batch``. Returns one row: ``prompts`` (1, p), ``responses`` (1, r),
    the others (1, p + r) or (1, k, p + r); every other field is the last row's, unchanged.
    Without ``prompt_len`` / ``response_len`` it returns ``data[-1:]`` as is.
    """
    final = data[-1:]
    if "prompt_len" not in final.non_tensor_batch or "response_len" not in final.non_tensor_batch:
        return final
    prompt_len = int(final.non_tensor_batch["prompt_len"][0])
    response_len = int(final.non_tensor_batch["response_len"][0])
    lengths = {_PROMPT: prompt_len, _RESPONSE: response_len, _SEQUENCE: prompt_len + response_len}
    tensors = {
        key: value[..., : lengths[_SPANS[key]]] if key in _SPANS else value for key, value in final.batch.items()
    }
    if "attention_mask" in tensors and not bool(tensors["attention_mask"].all()):
        # Not the right-padded layout this function undoes: stop rather than score the wrong text.
        raise ValueError(
            "siri_verl reward manager: the final row's attention_mask is not all ones over its "
            f"prompt_len + response_len = {prompt_len} + {response_len} tokens; verl's "
            "AgentLoopWorker._compute_score layout changed (siri_verl/reward/manager.py)"
        )
    return DataProto(
        batch=TensorDict(tensors, batch_size=[1]),
        non_tensor_batch=final.non_tensor_batch,
        meta_info=final.meta_info,
    )


@register(MANAGER_NAME)
class TrajectoryRewardManager(NaiveRewardManager):
    """verl's ``naive`` manager applied to the final row as the agent loop generated it."""

    async def run_single(self, data: DataProto) -> dict:
        return await super().run_single(final_row_as_generated(data))
