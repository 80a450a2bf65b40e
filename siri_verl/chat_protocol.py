"""Pick verl's Continuous Token builder by the tokenizer's chat protocol, not the architecture.

verl's ``AgentLoopBase.__init__`` builds a Continuous Token builder (the object that renders
prompts and merges turns, ``verl/utils/tokenizer/continuous_token.py``) from the root
config.json ``model_type`` alone (``continuous_token_wiring.py``, exact lookup). For
DeepSeek-R1-Distill-Qwen that is ``qwen2``, so verl picks ``QwenContinuousTokenBuilder``,
whose constructor requires ``<|im_end|>``; R1-Distill's tokenizer has no ``<|im_end|>`` and no
unk token, so every agent loop raises ``Tokenizer does not define required token
'<|im_end|>'`` (upstream verl issue #7637). The architecture is Qwen's; the chat protocol is
DeepSeek-R1's: ``{bos}<｜User｜>q<｜Assistant｜>a<｜end▁of▁sentence｜>`` concatenated with no
separator, with R1's tool-call and tool-output markers (``siri_verl/models/r1_distill.py``).

Which builder, of the routes discussed upstream:

* ``DeepSeekContinuousTokenBuilder`` (chosen; the #7639 route). Its boundary rules are
  written for exactly this template: direct concatenation at turn boundaries, the trailing
  ``<｜tool▁outputs▁end｜>`` removed before a following user turn, tool-call arguments passed as
  the JSON string R1's template concatenates. It also checks the full-width spelling of R1's
  markers. Single-turn prompts (both loops here) render the same under any builder; the
  builder matters once a loop merges turns, and then only the protocol's own rules are right.
* The default builder (#7638) constructs, but knows no protocol: it would accept the model and
  get multi-turn tool boundaries wrong silently. Kept as an explicit choice, not the default.
* An explicit family override (#7640) alone would make every R1-Distill run crash until its
  user learns to set it. Kept as an escape hatch: ``siri_verl.chat_protocol``.

``siri_verl.chat_protocol`` (conf/config.yaml): ``auto`` (default) routes a tokenizer that speaks
R1's protocol (has ``<｜Assistant｜>`` and ``<｜end▁of▁sentence｜>``, no ``<|im_end|>``) on a
non-DeepSeek architecture (R1-Distill-Qwen's ``qwen2``, R1-Distill-Llama's ``llama``) to the
DeepSeek builder, and leaves every other model to verl; ``deepseek``, ``qwen`` or ``default``
force that builder.

verl takes no builder family from agent loops, only ``hf_model_type``; the loops therefore hand
verl a model type that verl maps to the chosen builder (:data:`BUILDER_MODEL_TYPE`). verl's log
line then names that model type; this module logs the real one and why.
"""

from __future__ import annotations

import logging
from typing import Any

from siri_verl.errors import require_choice
from siri_verl.project_settings import CHAT_PROTOCOL_KEY as SETTING
from siri_verl.project_settings import CHAT_PROTOCOLS, SiriVerlSettings

__all__ = [
    "BUILDER_MODEL_TYPE",
    "CHAT_PROTOCOLS",
    "SETTING",
    "chat_protocol",
    "route_by_chat_protocol",
    "speaks_deepseek_r1",
]

logger = logging.getLogger(__name__)

# Chat protocol -> a config.json model_type that verl 0.9.1 maps to that protocol's builder
# (None: no model type, verl's default builder). tests/models/test_r1_distill_contract_on_cpu.py checks
# that verl still resolves each to the intended class.
# Its keys are CHAT_PROTOCOLS but auto (siri_verl/project_settings.py, where the setting is read;
# tests/models/test_r1_distill_contract_on_cpu.py keeps the two in step).
BUILDER_MODEL_TYPE: dict[str, str | None] = {"deepseek": "deepseek_v3", "qwen": "qwen2", "default": None}

# DeepSeek-R1's turn markers (full-width bars U+FF5C, lower one-eighth blocks U+2581).
R1_ASSISTANT, R1_EOS = "<｜Assistant｜>", "<｜end▁of▁sentence｜>"
CHATML_END = "<|im_end|>"


def _has_token(tokenizer, token: str) -> bool:
    """Whether ``token`` is one token of the vocabulary (not mapped to unk, as verl checks)."""
    token_id = tokenizer.convert_tokens_to_ids(token)
    return token_id is not None and token_id != getattr(tokenizer, "unk_token_id", None)


def speaks_deepseek_r1(tokenizer) -> bool:
    """R1's chat markers present and ChatML's absent (R1-Distill-Qwen, R1-Distill-Llama)."""
    return (
        _has_token(tokenizer, R1_ASSISTANT) and _has_token(tokenizer, R1_EOS) and not _has_token(tokenizer, CHATML_END)
    )


def chat_protocol(tokenizer, hf_model_type: str | None, setting: str = "auto") -> str | None:
    """The protocol whose builder the loop needs: a key of :data:`BUILDER_MODEL_TYPE`, or None to
    leave the choice to verl (which reads ``hf_model_type``)."""
    require_choice(SETTING, setting, CHAT_PROTOCOLS)
    if setting != "auto":
        return setting
    # verl already gives DeepSeek's own architectures (deepseek_v2/v3/v4, VL) a DeepSeek builder.
    if (hf_model_type or "").startswith("deepseek"):
        return None
    return "deepseek" if speaks_deepseek_r1(tokenizer) else None


def route_by_chat_protocol(loop_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``AgentLoopBase.__init__``'s keyword arguments with ``hf_model_type`` set so that verl builds
    the chat protocol's Continuous Token builder; call as
    ``super().__init__(*args, **route_by_chat_protocol(kwargs))``.

    verl instantiates agent loops with keyword arguments (``AgentLoopWorker._run_agent_loop``);
    ``tokenizer`` and ``trainer_config`` must be among them.
    """
    missing = [name for name in ("tokenizer", "trainer_config") if name not in loop_kwargs]
    if missing:
        raise TypeError(f"route_by_chat_protocol needs the agent loop's {missing} as keyword arguments")
    hf_model_type = loop_kwargs.get("hf_model_type")
    setting = SiriVerlSettings.of(loop_kwargs["trainer_config"].config).chat_protocol
    protocol = chat_protocol(loop_kwargs["tokenizer"], hf_model_type, setting)
    if protocol is None:
        return loop_kwargs
    logger.info(
        "chat protocol %s (%s=%s, config.json model_type=%r): verl's Continuous Token builder for model_type %r",
        protocol, SETTING, setting, hf_model_type, BUILDER_MODEL_TYPE[protocol],
    )  # fmt: skip
    return {**loop_kwargs, "hf_model_type": BUILDER_MODEL_TYPE[protocol]}
