"""One generation request's token budget: what ``max_tokens`` to send, and whether it was used up.

Both agent loops (``siri_length``, ``inftythink``) send a per-request ``max_tokens`` (L(t), η(t))
below verl's ``rollout.response_length``. Two limits bound it:

- at least 1: recent vLLM rejects ``max_tokens < 1`` (``SamplingParams._verify_args``), so no
  schedule, η or context arithmetic may ever send less;
- the context room, ``rollout.max_model_len - len(prompt_ids)`` when ``max_model_len`` is set.
  verl's vLLM server clamps to the same room (``vllm_async_server.py``: ``max_possible_tokens``)
  and refuses a prompt that leaves none. With ``max_model_len`` null the servers use the model's
  ``max_position_embeddings``, which this module does not know; the server's finish reason, when
  it reports one, still classifies the response (:func:`used_whole_budget`).

A response the server cut at the context room stopped for the same reason as one cut at the cap:
the budget ran out. So "used the whole budget" compares against the budget actually sent
(``min(cap, room)``), not against the cap alone.
"""

from __future__ import annotations

MAX_MODEL_LEN_KEY = "actor_rollout_ref.rollout.max_model_len"


class NoRoomToGenerate(ValueError):
    """The prompt alone fills ``rollout.max_model_len``: no request can be made for it."""


def context_room(prompt_length: int, max_model_len: int | None) -> int | None:
    """Tokens the context has left after the prompt (None: no ``max_model_len`` configured)."""
    return None if max_model_len is None else int(max_model_len) - int(prompt_length)


def request_max_tokens(cap: int, prompt_length: int | None = None, max_model_len: int | None = None) -> int:
    """``max_tokens`` for one request: ``cap`` bounded by the context room, and never below 1.

    Raises :class:`NoRoomToGenerate` when ``prompt_length`` leaves no room in ``max_model_len``
    (the caller decides what that means for its trajectory). ``prompt_length=None``: the room is
    not known before the request (the server clamps to it).
    """
    budget = int(cap)
    room = None if prompt_length is None else context_room(prompt_length, max_model_len)
    if room is not None:
        if room < 1:
            raise NoRoomToGenerate(
                f"a prompt of {prompt_length} tokens leaves no room to generate within "
                f"{MAX_MODEL_LEN_KEY}={max_model_len}; raise it, or lower data.max_prompt_length"
            )
        budget = min(budget, room)
    return max(1, budget)


def finish_reason(stop_reason: str | None, extra_fields: dict | None = None) -> str | None:
    """``"length"``, ``"stop"`` or None (unknown) from what the server returned.

    verl's ``TokenOutput.stop_reason`` is SGLang's finish reason (``"length"``, ``"stop"``...) but
    ``"completed"`` for both from vLLM; the ``hf`` CPU server puts its own in
    ``extra_fields["finish_reason"]``.
    """
    for reason in (stop_reason, (extra_fields or {}).get("finish_reason")):
        if reason in ("length", "stop"):
            return reason
    return None


def eos_token_ids(tokenizer, generation_config=None) -> set[int]:
    """The token ids that end a response: the model's ``generation_config.eos_token_id`` when given
    and set (an int or a list), else the tokenizer's ``eos_token_id``."""
    eos = getattr(generation_config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    return set(eos if isinstance(eos, list) else [eos])


def used_whole_budget(
    response_ids: list[int], budget: int, eos_token_ids: set[int], reason: str | None = None
) -> bool:
    """Did the response stop because its token budget ran out, not because it ended?

    ``budget``: the ``max_tokens`` the request effectively had (cap, context room, whichever is
    smaller). A response ending in EOS finished; otherwise the server's finish ``reason`` decides
    when known, else reaching ``budget`` does.
    """
    if response_ids and response_ids[-1] in eos_token_ids:
        return False
    if reason is not None:
        return reason == "length"
    return len(response_ids) >= budget
