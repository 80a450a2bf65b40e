"""The one prompt renderer of training and evaluation: chat messages (plus an assistant prefix) to token ids.

The ``inftythink`` agent loop, the iterative and long evaluation modes
(``siri_verl/inftythink/inference.py``, ``siri_verl/eval/run.py``) and the InftyThink+
cold-start SFT rows (``siri_verl/inftythink/sft_dataset.py``) all render here, with the same
``apply_chat_template`` keyword arguments: ``data.apply_chat_template_kwargs`` in training (verl
hands it to every agent loop), ``apply_chat_template_kwargs`` in ``conf/eval/eval.yaml``. The
``siri_length`` loop keeps verl's single-turn path (its Continuous Token builder, which also
caps the prompt at ``rollout.prompt_length``); ``tests/eval/test_train_eval_prompts_on_cpu.py``
holds both to the same token ids on R1-Distill's tokenizer.

"Hit the cap" has one rule too: ``siri_verl/request_budget.py:used_whole_budget``.
"""

from __future__ import annotations

from collections.abc import Mapping

from siri_verl.inftythink.protocol import join_prompt


def render_prompt_ids(
    tokenizer, messages: list[dict], assistant_prefix: str = "", chat_template_kwargs: Mapping | None = None
) -> list[int]:
    """The prompt's token ids: the chat template with its generation prompt, then ``assistant_prefix``.

    ``assistant_prefix`` (InftyThink+'s ``<history>...<think>\\n``) replaces the template's own
    think opener (:func:`~siri_verl.inftythink.protocol.join_prompt`); empty, the template's
    generation prompt stays as it is. Special tokens are the template's: none are added.
    """
    rendered = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=False, **dict(chat_template_kwargs or {})
    )
    if assistant_prefix:
        rendered = join_prompt(rendered, assistant_prefix)
    return list(tokenizer(rendered, add_special_tokens=False)["input_ids"])
