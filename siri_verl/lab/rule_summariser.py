"""The summariser of the toy InftyThink+ cold start: a rule, not a model.

Registered by the lab's catalogue (siri_verl/lab/catalogue.py) as the generation backend
``toy_rule``, so that ``python -m siri_verl.inftythink.coldstart --backend toy_rule`` segments
the toy study's long traces without an instruct model.
"""

from __future__ import annotations

import time

from siri_verl.generation import Completion, GenerationBackend
from siri_verl.lab.running_sums import summary_of


class ToyRuleSummariser(GenerationBackend):
    """Each prompt is a cold-start summariser request (``FIRST_PROMPT`` / ``UPDATE_PROMPT`` of
    ``siri_verl.inftythink.coldstart``, chat-rendered); the reply is the running-sum state after
    the reasoning in it, ``"<sum>|<digits left>"`` (``siri_verl.lab.running_sums.summary_of``),
    the same for every sampling setting. ``model_path`` is the directory of the tokenizer that
    renders and reads the requests (any HF tokenizer; the toy reasoner's in the toy study).
    """

    engine_packages = ("transformers",)

    def __init__(self, model_path: str, seed: int = 0):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_path)

    def generate(self, prompts, max_tokens, settings):
        completions = []
        for prompt in prompts:
            began = time.perf_counter()
            text = summary_of(self.tokenizer.decode(prompt, skip_special_tokens=True))
            token_ids = [*self.tokenizer(text, add_special_tokens=False)["input_ids"], self.tokenizer.eos_token_id]
            finish = "stop" if len(token_ids) <= max_tokens else "length"
            completions.append(Completion(token_ids[:max_tokens], text, finish, time.perf_counter() - began))
        return completions
