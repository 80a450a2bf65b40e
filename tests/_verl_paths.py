"""Fakes for driving verl's own code paths in one process on CPU: no model, no Ray.

Only what needs a GPU or a cluster is faked here (the LLM server, a Ray actor handle); the code
under test around them is verl's. Tests import this module as ``from _verl_paths import ...``:
pytest puts ``tests/`` on ``sys.path`` (there is no ``tests/__init__.py``, see conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from verl.workers.rollout.replica import TokenOutput


@dataclass(frozen=True)
class Request:
    """One ``generate`` call as the server received it."""

    prompt_ids: list[int]
    sampling_params: dict


class ScriptedServer:
    """FAKE LLM server client (verl's ``server_manager``): no model behind it.

    Answers each ``generate`` with the next scripted text (:meth:`next_reply`), tokenised without
    special tokens and followed by ``end_ids`` (the EOS a real server returns with a finished
    response; none by default), cut at the request's ``max_tokens`` as a server would. Every
    request is kept in :attr:`requests`.
    """

    def __init__(self, tokenizer, replies: list[str], end_ids: tuple[int, ...] = ()):
        self.tokenizer = tokenizer
        self.replies = list(replies)
        self.end_ids = list(end_ids)
        self.requests: list[Request] = []

    def next_reply(self, prompt_ids: list[int]) -> str:
        """The text that answers ``prompt_ids``: the next one in the script (override to choose by prompt)."""
        return self.replies.pop(0)

    async def generate(self, request_id, prompt_ids, sampling_params, **kwargs) -> TokenOutput:
        self.requests.append(Request(list(prompt_ids), dict(sampling_params)))
        text = self.next_reply(list(prompt_ids))
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"] + self.end_ids
        ids = ids[: sampling_params["max_tokens"]]
        return TokenOutput(token_ids=ids, log_probs=[-0.5] * len(ids), stop_reason="completed", extra_fields={})


class InProcessActor:
    """``handle.method.remote(...)`` as verl calls a Ray actor, answered by a local object."""

    def __init__(self, target):
        self._target = target

    def __getattr__(self, name):
        return SimpleNamespace(remote=getattr(self._target, name))
