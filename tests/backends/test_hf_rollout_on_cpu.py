"""The CPU rollout: ``generation.generate_batch`` and ``rollout.HFRolloutServer`` used in-process.

The server is a plain class (``HFRolloutReplica`` wraps it with ``ray.remote``), so these tests
build it directly and drive its async methods with ``asyncio.run``. Each test runs all of its
calls inside one ``asyncio.run``: the server's batching task lives on the loop that first used it.

The model is the tiny Qwen2 with random weights (``warmup_steps=0``): what is checked here is
that the rollout computes exactly what the model computes, not what the model says.
"""

from __future__ import annotations

import asyncio
import math

import pytest
import torch
from _reference import server_logits
from omegaconf import OmegaConf

from siri_verl.backends.cpu import rollout
from siri_verl.backends.cpu.hf_sampler import generate_batch, processed_logprobs
from siri_verl.generation import SamplingSettings
from siri_verl.lab.tiny import TinyModelSpec, ensure_tiny_model

PROMPT_LENGTH = 32
RESPONSE_LENGTH = 12
GREEDY = SamplingSettings(temperature=0.0)
SAMPLED = SamplingSettings(temperature=0.7, top_p=0.9, top_k=20)
SAMPLED_PARAMS = {"temperature": 0.7, "top_p": 0.9, "top_k": 20}
# Prompts of different lengths (so the batched runs left-pad), all starting with BOS (id 0).
PROMPTS = [[0, 5, 9, 33, 100, 7, 8], [0, 44, 12], [0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 200], [0, 150, 151, 152, 17]]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The model is tiny: one thread is fastest, and spares a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return ensure_tiny_model(TinyModelSpec(warmup_steps=0), root=tmp_path_factory.mktemp("tiny_random"))


@pytest.fixture(scope="module")
def model(model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa").eval()


@pytest.fixture(scope="module")
def eos_ids(model):
    return {model.generation_config.eos_token_id}


@pytest.fixture
def make_server(model_dir):
    """Builds ``HFRolloutServer`` instances (the server sets the torch thread count: one_torch_thread restores it)."""

    def make(seed: int = 0, replica_rank: int = 0) -> rollout.HFRolloutServer:
        config = OmegaConf.create({"prompt_length": PROMPT_LENGTH, "response_length": RESPONSE_LENGTH, "seed": seed})
        model_config = OmegaConf.create({"path": str(model_dir)})
        return rollout.HFRolloutServer(config, model_config, replica_rank=replica_rank)

    return make


def reference_logprobs(logits: torch.Tensor, temperature: float, top_p: float, top_k: int) -> torch.Tensor:
    """The sampling distribution's log-probs for one ``(vocab,)`` logits row, written independently
    of ``processed_logprobs``: scale, keep the top-k, keep the smallest top-ranked set whose mass
    reaches top_p, renormalise."""
    logits = logits.double()
    if temperature > 0:
        logits = logits / temperature
    keep = torch.ones_like(logits, dtype=torch.bool)
    order = torch.argsort(logits, descending=True).tolist()
    if 0 < top_k < logits.numel():
        kth_value = logits[order[top_k - 1]]
        keep &= logits >= kth_value
    if top_p < 1.0:
        probs = torch.softmax(logits.masked_fill(~keep, -math.inf), dim=-1)
        in_nucleus = torch.zeros_like(keep)
        mass = 0.0
        for token in order:
            if mass >= top_p:
                break
            in_nucleus[token] = True
            mass += float(probs[token])
        keep &= in_nucleus
    return torch.log_softmax(logits.masked_fill(~keep, -math.inf), dim=-1)


def teacher_forced_logits(model, prompt: list[int], response: list[int]) -> torch.Tensor:
    """``(len(response), vocab)`` logits that predicted each response token, from one full forward pass."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt + response])).logits[0]
    return logits[len(prompt) - 1 : len(prompt) + len(response) - 1]


def assert_logprobs_teacher_forced(model, prompt, generation, temperature, top_p, top_k):
    logits = teacher_forced_logits(model, prompt, generation.token_ids)
    for step, (token, logprob) in enumerate(zip(generation.token_ids, generation.log_probs)):
        reference = reference_logprobs(logits[step], temperature, top_p, top_k)
        assert math.isfinite(float(reference[token])), f"step {step}: token {token} is outside the sampling support"
        assert abs(logprob - float(reference[token])) < 1e-4, (step, logprob, float(reference[token]))


def unbatched(model, prompt, max_tokens, eos_ids, settings=GREEDY):
    return generate_batch(model, [prompt], [max_tokens], settings, eos_ids, pad_token_id=2)[0]


# --------------------------------------------------------------------------- generate_batch


def test_processed_logprobs_matches_independent_reference(model):
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([PROMPTS[0]])).logits[0]  # (seq, vocab): several rows
    for temperature, top_p, top_k in [(0.0, 1.0, -1), (1.0, 1.0, -1), (0.7, 0.9, 20), (1.3, 0.5, -1), (0.7, 1.0, 5)]:
        settings = SamplingSettings(temperature=temperature, top_p=top_p, top_k=top_k)
        got = processed_logprobs(logits, settings).double()
        want = torch.stack([reference_logprobs(row, temperature, top_p, top_k) for row in logits])
        assert torch.equal(torch.isinf(got), torch.isinf(want)), settings
        finite = torch.isfinite(want)
        assert torch.allclose(got[finite], want[finite], atol=1e-5), settings
        if top_k > 0:
            assert (finite.sum(-1) <= top_k).all()


def test_greedy_logprobs_equal_teacher_forced_forward(model, eos_ids):
    generations = generate_batch(model, PROMPTS, [RESPONSE_LENGTH] * len(PROMPTS), GREEDY, eos_ids, pad_token_id=2)
    for prompt, generation in zip(PROMPTS, generations):
        assert generation.token_ids
        logits = teacher_forced_logits(model, prompt, generation.token_ids)
        assert generation.token_ids == logits.argmax(-1).tolist()
        assert_logprobs_teacher_forced(model, prompt, generation, 0.0, 1.0, -1)


def test_sampled_logprobs_equal_teacher_forced_forward(model, eos_ids):
    """temperature 0.7, top_p 0.9, top_k 20: log-probs are those of the filtered, scaled distribution."""
    generator = torch.Generator().manual_seed(1234)
    generations = generate_batch(
        model, PROMPTS, [RESPONSE_LENGTH] * len(PROMPTS), SAMPLED, eos_ids, pad_token_id=2, generator=generator
    )
    for prompt, generation in zip(PROMPTS, generations):
        assert generation.token_ids
        assert_logprobs_teacher_forced(model, prompt, generation, 0.7, 0.9, 20)
    # The seed makes sampling reproducible; a different seed samples something else.
    again = generate_batch(
        model, PROMPTS, [RESPONSE_LENGTH] * len(PROMPTS), SAMPLED, eos_ids, 2, torch.Generator().manual_seed(1234)
    )
    other = generate_batch(
        model, PROMPTS, [RESPONSE_LENGTH] * len(PROMPTS), SAMPLED, eos_ids, 2, torch.Generator().manual_seed(4321)
    )
    assert [g.token_ids for g in again] == [g.token_ids for g in generations]
    assert [g.token_ids for g in other] != [g.token_ids for g in generations]


def test_batched_greedy_equals_unbatched_with_per_row_max_tokens(model, eos_ids):
    """Left-padded rows of different lengths, each with its own max_tokens (0 included)."""
    max_tokens = [5, RESPONSE_LENGTH, 1, 0]
    batched = generate_batch(model, PROMPTS, max_tokens, GREEDY, eos_ids, pad_token_id=2)
    for prompt, limit, generation in zip(PROMPTS, max_tokens, batched):
        alone = unbatched(model, prompt, limit, eos_ids)
        assert generation.token_ids == alone.token_ids
        assert generation.log_probs == pytest.approx(alone.log_probs, abs=1e-5)
        assert generation.finish_reason == alone.finish_reason
        assert len(generation.token_ids) <= limit
        if generation.finish_reason == "length":
            assert len(generation.token_ids) == limit
    assert batched[3].token_ids == [] and batched[3].log_probs == []


def test_eos_stops_only_its_row(model):
    """A row that emits EOS stops there (EOS kept, finish_reason "stop"); the others go on unchanged.

    The tiny model's real EOS rarely comes up, so a token it does generate is declared EOS.
    """
    free = [unbatched(model, prompt, RESPONSE_LENGTH, set()) for prompt in PROMPTS]
    stop_token = free[0].token_ids[2]
    cut = free[0].token_ids.index(stop_token) + 1
    batched = generate_batch(model, PROMPTS, [RESPONSE_LENGTH] * len(PROMPTS), GREEDY, {stop_token}, pad_token_id=2)
    assert batched[0].token_ids == free[0].token_ids[:cut]
    assert batched[0].finish_reason == "stop"
    for alone, generation in zip(free[1:], batched[1:]):
        if stop_token in alone.token_ids:
            expected = alone.token_ids[: alone.token_ids.index(stop_token) + 1]
        else:
            expected = alone.token_ids
        assert generation.token_ids == expected
        assert generation.finish_reason == ("stop" if stop_token in expected else "length")


# --------------------------------------------------------------------------- HFRolloutServer


def test_server_max_tokens_clamps_to_window_room(make_server):
    server = make_server()
    window = PROMPT_LENGTH + RESPONSE_LENGTH
    assert server._max_tokens([0] * 10, {}) == RESPONSE_LENGTH
    assert server._max_tokens([0] * 10, {"max_tokens": 3}) == 3
    assert server._max_tokens([0] * 10, {"max_new_tokens": 4}) == 4
    assert server._max_tokens([0] * 10, {"max_tokens": 1000}) == window - 10  # clamped to the room left
    assert server._max_tokens([0] * (window - 2), {}) == 2
    assert server._max_tokens([0] * (window - 2), {"max_tokens": 1000}) == 2
    for full in (window, window + 5):
        with pytest.raises(ValueError, match="no room"):
            server._max_tokens([0] * full, {})
    with pytest.raises(ValueError, match="max_tokens must be at least 1"):
        server._max_tokens([0] * 3, {"max_tokens": 0})


def test_server_serves_requests_from_a_second_event_loop(make_server):
    """A server used in-process across two asyncio.run calls rebuilds its queue on the new loop."""
    server = make_server()
    first = asyncio.run(server.generate([1, 2, 3], {"temperature": 0, "max_tokens": 2}, "a"))
    second = asyncio.run(server.generate([1, 2, 3], {"temperature": 0, "max_tokens": 2}, "b"))
    assert first.token_ids == second.token_ids


def test_server_generate_honours_max_tokens_per_request(make_server, model, eos_ids):
    server = make_server()
    long_prompt = [0] + [7] * (PROMPT_LENGTH + RESPONSE_LENGTH - 4)  # room for 3 tokens
    requests = [
        (PROMPTS[0], {"temperature": 0, "max_tokens": 1}),
        (PROMPTS[1], {"temperature": 0, "max_tokens": 4}),
        (PROMPTS[2], {"temperature": 0}),  # defaults to response_length
        (long_prompt, {"temperature": 0, "max_tokens": 100}),  # clamped to the room left
    ]
    expected_limits = [1, 4, RESPONSE_LENGTH, 3]

    async def scenario():
        outputs = await asyncio.gather(
            *(server.generate(prompt, params, request_id=f"r{i}") for i, (prompt, params) in enumerate(requests))
        )
        with pytest.raises(ValueError):
            await server.generate([0] * (PROMPT_LENGTH + RESPONSE_LENGTH), {"temperature": 0}, request_id="too-long")
        return outputs

    outputs = asyncio.run(scenario())
    for (prompt, _), limit, output in zip(requests, expected_limits, outputs):
        alone = unbatched(model, prompt, limit, eos_ids)
        assert output.token_ids == alone.token_ids
        assert len(output.token_ids) <= limit
        finish_reason = output.extra_fields["finish_reason"]
        assert finish_reason == alone.finish_reason
        if finish_reason == "length":
            assert len(output.token_ids) == limit
        assert len(output.log_probs) == len(output.token_ids)


def test_server_concurrent_generate_calls_share_one_batch_spy(make_server, model, eos_ids, monkeypatch):
    """Uses a spy on ``rollout.generate_batch`` to count the decoding calls and their batch sizes."""
    calls = []
    real_generate_batch = rollout.generate_batch

    def spy(model_, prompts, max_tokens, settings, *args, **kwargs):
        calls.append((len(prompts), settings))
        return real_generate_batch(model_, prompts, max_tokens, settings, *args, **kwargs)

    monkeypatch.setattr(rollout, "generate_batch", spy)
    server = make_server()
    max_tokens = [3, RESPONSE_LENGTH, 6, 2]

    async def scenario():
        greedy = await asyncio.gather(
            *(
                server.generate(prompt, {"temperature": 0.0, "max_tokens": limit}, request_id=str(i))
                for i, (prompt, limit) in enumerate(zip(PROMPTS, max_tokens))
            )
        )
        greedy_calls = list(calls)
        calls.clear()
        # Mixed settings in one wave: one batch per distinct sampling setting.
        mixed = await asyncio.gather(
            server.generate(PROMPTS[0], {"temperature": 0.0, "max_tokens": 4}, request_id="g0"),
            server.generate(PROMPTS[1], dict(SAMPLED_PARAMS, max_tokens=4), request_id="s0"),
            server.generate(PROMPTS[2], {"temperature": 0.0, "max_tokens": 4}, request_id="g1"),
            server.generate(PROMPTS[3], dict(SAMPLED_PARAMS, max_tokens=4), request_id="s1"),
        )
        return greedy, greedy_calls, mixed, list(calls)

    greedy, greedy_calls, mixed, mixed_calls = asyncio.run(scenario())
    assert greedy_calls == [(len(PROMPTS), GREEDY)]
    for prompt, limit, output in zip(PROMPTS, max_tokens, greedy):
        alone = unbatched(model, prompt, limit, eos_ids)
        assert output.token_ids == alone.token_ids
        assert output.log_probs == pytest.approx(alone.log_probs, abs=1e-5)
    assert sorted(mixed_calls, key=lambda call: call[1].temperature) == [(2, GREEDY), (2, SAMPLED)]
    assert mixed[0].token_ids == unbatched(model, PROMPTS[0], 4, eos_ids).token_ids
    assert mixed[2].token_ids == unbatched(model, PROMPTS[2], 4, eos_ids).token_ids
    for prompt, output in ((PROMPTS[1], mixed[1]), (PROMPTS[3], mixed[3])):
        assert_logprobs_teacher_forced(model, prompt, output, 0.7, 0.9, 20)


def test_server_samples_do_not_depend_on_batching_or_arrival_order(make_server):
    """Each request has its own random stream (seed, step, prompt, how many requests for that
    prompt came before): the same requests, sent together as one batch or one at a time in
    another order, sample the same responses, so a run is reproducible from its seed."""
    requests = [PROMPTS[0], PROMPTS[1], PROMPTS[0], PROMPTS[2], PROMPTS[0]]
    params = {**SAMPLED_PARAMS, "max_tokens": RESPONSE_LENGTH}

    async def together():
        server = make_server(seed=3)
        outputs = await asyncio.gather(*(server.generate(p, params, str(i)) for i, p in enumerate(requests)))
        return [o.token_ids for o in outputs]

    async def one_at_a_time_reversed():
        server = make_server(seed=3)
        outputs = [await server.generate(p, params, str(i)) for i, p in reversed(list(enumerate(requests)))]
        return [o.token_ids for o in reversed(outputs)]

    def by_prompt(token_ids):
        return sorted((tuple(p), tuple(t)) for p, t in zip(requests, token_ids))

    batched, serial = asyncio.run(together()), asyncio.run(one_at_a_time_reversed())
    assert by_prompt(batched) == by_prompt(serial)
    # The three samples of PROMPTS[0] come from three different streams.
    assert len({tuple(t) for p, t in zip(requests, batched) if p == PROMPTS[0]}) > 1

    async def other_seed():
        server = make_server(seed=4)
        return [(await server.generate(p, params, str(i))).token_ids for i, p in enumerate(requests)]

    assert by_prompt(asyncio.run(other_seed())) != by_prompt(batched)


def test_server_decoding_failure_reaches_every_waiting_request_fake(make_server, monkeypatch):
    """Uses a fake ``generate_batch`` that fails once: every request of that batch gets the error
    and the server keeps serving afterwards."""
    real_generate_batch = rollout.generate_batch
    failures = [RuntimeError("decode failed")]

    def flaky(*args, **kwargs):
        if failures:
            raise failures.pop()
        return real_generate_batch(*args, **kwargs)

    monkeypatch.setattr(rollout, "generate_batch", flaky)
    server = make_server()

    async def scenario():
        first = await asyncio.gather(
            *(server.generate(p, {"temperature": 0, "max_tokens": 2}, request_id=str(i)) for i, p in enumerate(PROMPTS)),
            return_exceptions=True,
        )
        second = await server.generate(PROMPTS[0], {"temperature": 0, "max_tokens": 2}, request_id="after")
        return first, second

    first, second = asyncio.run(scenario())
    assert all(isinstance(result, RuntimeError) for result in first)
    assert len(second.token_ids) <= 2 and second.token_ids


def test_server_logits_equal_actor_after_weight_update(make_server, model_dir, eos_ids):
    from transformers import AutoModelForCausalLM

    server = make_server()
    actor = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa").eval()
    ids = [PROMPTS[2], [0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 11, 12]]
    before = server_logits(server, ids)
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for parameter in actor.parameters():  # tied embeddings are one parameter: perturbed once
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)
        actor_logits = actor(input_ids=torch.tensor(ids)).logits
    assert not torch.allclose(before, actor_logits, atol=1e-3)  # the perturbation shows in the logits

    async def scenario():
        await server.update_weights(dict(actor.state_dict()), global_steps=3)
        output = await server.generate(PROMPTS[0], {"temperature": 0, "max_tokens": 5}, request_id="after-update")
        with pytest.raises(KeyError):
            await server.update_weights({"not.a.weight": torch.zeros(1)})
        return output

    output = asyncio.run(scenario())
    assert torch.allclose(server_logits(server, ids), actor_logits, atol=1e-5, rtol=0)
    assert output.token_ids == unbatched(actor, PROMPTS[0], 5, eos_ids).token_ids
    assert output.extra_fields["global_steps"] == 3
