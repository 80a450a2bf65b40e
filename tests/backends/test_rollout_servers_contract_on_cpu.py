"""verl's vLLM and SGLang rollout servers receive our per-request ``max_tokens``: on CPU, engine FAKED.

Our agent loops send a per-request ``sampling_params["max_tokens"]`` (SIRI's cap L(t), the
InftyThink segment cap η) through verl's ``LLMServerClient`` to the rollout server. On GPUs that
server is ``vLLMHttpServer`` or ``SGLangHttpServer``. This file runs, unmodified, from the pinned
verl: our ``siri_length`` and ``inftythink`` loops, ``LLMServerClient.generate``, and each
server's ``generate`` (the code that turns the request into the engine's sampling parameters).

FAKES, each for what cannot run here (no GPU; vllm and sglang are not installed):

- ``vllm`` / ``sglang``: placeholder modules holding exactly the names verl's modules import
  (``VLLM_IMPORTS``, ``SGLANG_IMPORTS``, each line naming the verl file that imports it). Only the
  names ``generate`` calls do anything, and only record: ``SamplingParams`` keeps its keyword
  arguments, ``GenerateReqInput`` keeps its fields, ``TokensPrompt`` is ``dict`` (vLLM's is a
  TypedDict). None re-implements logic under test: the clamping is verl's own code.
- a ``vllm-0.24.0.dist-info`` (the version ``verl[vllm]==0.9.1`` pins): verl reads the installed
  vllm version from package metadata at import (``verl/third_party/vllm/__init__.py``,
  ``verl/workers/rollout/vllm_rollout/__init__.py``) and refuses to import without one.
- the engines: vLLM's ``AsyncLLM`` and SGLang's ``TokenizerManager``. They record the request and
  answer as a model that never stops would: exactly as many tokens as allowed (or a script).
- Ray: the load balancer and the server's actor handle. ``.remote(...)`` runs the method in this
  process on a deep copy of its arguments, as Ray's serialisation would (verl's ``generate`` pops
  keys from the dict it receives; through Ray the caller never sees that).
- the servers' ``__init__`` is not run (vLLM's connects to Ray, which would start a cluster, and
  opens ports; both set the visible-devices variable in ``os.environ``): ``object.__new__`` plus
  the attributes ``__init__`` sets that ``generate`` reads (a new one fails as AttributeError). The
  rollout config is verl's ``RolloutConfig`` and the model config verl's ``HFModelConfig`` of the
  offline tiny model; vLLM's own ``_validate_configs`` runs on them.

Where vllm / sglang ARE installed (a GPU machine), the real packages are imported instead and
only the engine and Ray are faked.

What verl 0.9.1 does with the request (asserted below):

- vLLM: ``max_tokens`` (or SGLang-style ``max_new_tokens``) is clamped to ``[1,
  max_model_len - len(prompt)]``: a request for 0 (or less) tokens becomes 1, so vLLM's own
  ``max_tokens >= 1`` check never fires through verl's server, but the response then has a
  token the cap did not allow. A prompt that leaves no room raises ``ValueError``.
- SGLang: ``max_tokens`` is renamed ``max_new_tokens`` and clamped to ``[0, max_model_len -
  len(prompt) - 1]``: 0 passes through as 0 (SGLang then generates nothing).
- Neither clamps an explicit request to ``rollout.response_length`` (only the default is): the
  loops' own ``min(cap, response_length)`` is what keeps responses inside the tensor width.
- A response cut at the limit comes back with ``stop_reason`` "completed" from vLLM (as does one
  that stopped) and "length" from SGLang.

``siri_verl/verl_api.py`` lists both ``generate`` methods with this file as their guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import importlib
import importlib.metadata
import importlib.util
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
from _verl_paths import BuiltInLoop, run_agent_loop
from omegaconf import OmegaConf
from transformers import AutoTokenizer
from verl.workers.config import HFModelConfig, RolloutConfig
from verl.workers.rollout.llm_server import LLMServerClient

from siri_verl.inftythink.inftythink_agent_loop import InftyThinkAgentLoop
from siri_verl.siri.schedule import build_schedule
from siri_verl.siri.siri_length_agent_loop import SiriLengthAgentLoop

PINNED_VLLM = "0.24.0"  # verl 0.9.1's METADATA: Requires-Dist: vllm==0.24.0; extra == "vllm"


# --- fakes of the vllm / sglang packages -----------------------------------------------------------


class FakeSamplingParams:
    """vllm.SamplingParams, recording: verl builds it as ``SamplingParams(max_tokens=..., **rest)``
    and then reads ``.logprobs`` and ``.prompt_logprobs`` (vLLM's defaults: None)."""

    def __init__(self, **kwargs):
        self.logprobs = None
        self.prompt_logprobs = None
        self.__dict__.update(kwargs)
        self.kwargs = kwargs


class FakeGenerateReqInput:
    """sglang's GenerateReqInput, recording: a dataclass verl builds from keyword fields."""

    def __init__(self, **fields):
        self.__dict__.update(fields)
        self.lora_path = None


# Module -> names imported from it. A name not in *_FAKES becomes an inert placeholder class. Imports
# verl wraps in `try/except ImportError` (optional model classes, MoE layers, LoRA layers) are left
# out on purpose: verl's own fallback runs, as on a vllm without them.
VLLM_IMPORTS: dict[str, tuple[str, ...]] = {
    # verl/workers/rollout/vllm_rollout/vllm_async_server.py (the module under test)
    "vllm": ("SamplingParams", "LLM"),  # LLM: verl/third_party/vllm/__init__.py
    "vllm.entrypoints.cli.serve": ("run_headless",),
    "vllm.engine.arg_utils": ("AsyncEngineArgs",),
    "vllm.entrypoints.openai.api_server": ("build_app", "init_app_state"),
    "vllm.entrypoints.openai.parser.harmony_utils": ("get_encoding",),
    "vllm.inputs": ("TokensPrompt",),
    "vllm.lora.request": ("LoRARequest",),  # also verl/utils/vllm/utils.py
    "vllm.outputs": ("RequestOutput",),  # also verl/workers/rollout/vllm_rollout/utils.py
    "vllm.usage.usage_lib": ("UsageContext",),
    "vllm.utils.argparse_utils": ("FlexibleArgumentParser",),
    "vllm.v1.engine.async_llm": ("AsyncLLM",),
    # verl/third_party/vllm/__init__.py
    "vllm.distributed": ("parallel_state",),
    # verl/utils/vllm/utils.py
    "vllm.lora.lora_model": ("LoRAModel",),
    "vllm.lora.utils": ("get_adapter_absolute_path",),
    "vllm.lora.worker_manager": ("LRUCacheWorkerLoRAManager",),
    # verl/utils/vllm/vllm_quant_utils.py (its ImportError fallback re-raises)
    "vllm.model_executor.layers.linear": ("LinearBase",),
}
VLLM_FAKES = {"SamplingParams": FakeSamplingParams, "TokensPrompt": dict, "__version__": PINNED_VLLM}

SGLANG_IMPORTS: dict[str, tuple[str, ...]] = {
    # verl/workers/rollout/sglang_rollout/async_sglang_server.py (the module under test)
    "sglang": (),
    "sglang.srt.entrypoints.engine": (),
    "sglang.srt.entrypoints.http_server": ("ServerArgs", "_GlobalState", "app", "set_global_state", "launch_server"),
    "sglang.srt.managers.io_struct": (
        "ContinueGenerationReqInput",
        "GenerateReqInput",
        "PauseGenerationReqInput",
        "ReleaseMemoryOccupationReqInput",
        "ResumeMemoryOccupationReqInput",
        "UpdateWeightsFromTensorReqInput",  # verl/.../sglang_rollout/http_server_engine.py
    ),
    "sglang.srt.managers.tokenizer_manager": ("ServerStatus",),
    # verl/workers/rollout/sglang_rollout/sglang_rollout.py
    "sglang.srt.server_args": ("ServerArgs",),
    "sglang.srt.utils": (
        "MultiprocessingSerializer",
        "assert_pkg_version",
        "is_cuda",
        "set_prometheus_multiproc_dir",
        "set_ulimit",
        "kill_process_tree",  # verl/.../sglang_rollout/http_server_engine.py
    ),
    "sglang.srt.weight_sync.utils": ("_preprocess_tensor_for_update_weights", "update_weights"),
    # verl/workers/rollout/sglang_rollout/http_server_engine.py
    "sglang.srt.entrypoints.EngineBase": ("EngineBase",),
}
SGLANG_FAKES = {"GenerateReqInput": FakeGenerateReqInput}


def _placeholder_modules(imports: dict[str, tuple[str, ...]], fakes: dict) -> dict[str, types.ModuleType]:
    """Module objects for every name in ``imports`` and each parent package on the way."""
    modules: dict[str, types.ModuleType] = {}
    for dotted, names in imports.items():
        parts = dotted.split(".")
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            if name not in modules:
                modules[name] = types.ModuleType(name, f"placeholder for {name} (not installed here)")
                if depth > 1:
                    setattr(modules[".".join(parts[: depth - 1])], parts[depth - 1], modules[name])
            if depth < len(parts):
                modules[name].__path__ = []  # a package: `import a.b.c` walks through it
        for attribute in names:
            setattr(modules[dotted], attribute, fakes.get(attribute) or type(attribute, (), {"__module__": dotted}))
    for attribute, value in fakes.items():
        if attribute.startswith("__"):
            setattr(modules[next(iter(imports)).split(".")[0]], attribute, value)
    return modules


@contextlib.contextmanager
def _verl_module_with_fake(package: str, module: str, imports: dict, fakes: dict, dist_info_root: Path | None):
    """Import verl's ``module`` with ``package`` faked (unless installed); undo it all afterwards.

    Every module imported inside is removed from ``sys.modules`` on exit (verl's as well, as they
    hold the fakes), so no other test sees a fake vllm or sglang.
    """
    if importlib.util.find_spec(package) is not None:
        yield importlib.import_module(module)
        return
    before = set(sys.modules)
    with pytest.MonkeyPatch.context() as patch:
        if dist_info_root is not None:
            patch.syspath_prepend(str(dist_info_root))
        for name, placeholder in _placeholder_modules(imports, fakes).items():
            patch.setitem(sys.modules, name, placeholder)
        try:
            yield importlib.import_module(module)
        finally:
            for name in sorted(set(sys.modules) - before, reverse=True):
                parent_name, _, child = name.rpartition(".")
                parent = sys.modules.get(parent_name)
                if parent is not None and getattr(parent, child, None) is sys.modules[name]:
                    delattr(parent, child)
                del sys.modules[name]
            # verl caches "is vllm/sglang installed?" with functools.cache: forget any answer
            # given while the fake was in place.
            from verl.utils import import_utils

            import_utils.is_vllm_available.cache_clear()
            import_utils.is_sglang_available.cache_clear()


VLLM_SERVER = "verl.workers.rollout.vllm_rollout.vllm_async_server"
SGLANG_SERVER = "verl.workers.rollout.sglang_rollout.async_sglang_server"


def _fake_vllm_dist_info(root: Path) -> Path:
    metadata = root / f"vllm-{PINNED_VLLM}.dist-info" / "METADATA"
    metadata.parent.mkdir(parents=True)
    metadata.write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {PINNED_VLLM}\n")
    return root


@pytest.fixture(scope="module")
def vllm_server_module(tmp_path_factory):
    dist_info = _fake_vllm_dist_info(tmp_path_factory.mktemp("fake_vllm_dist"))
    with _verl_module_with_fake("vllm", VLLM_SERVER, VLLM_IMPORTS, VLLM_FAKES, dist_info) as module:
        yield module


@pytest.fixture(scope="module")
def sglang_server_module():
    with _verl_module_with_fake("sglang", SGLANG_SERVER, SGLANG_IMPORTS, SGLANG_FAKES, None) as module:
        yield module


def test_the_fakes_are_gone_after_use(tmp_path):
    """Guard for the fixtures: no fake vllm, and no verl module imported against it, outlives them."""
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed: nothing is faked")
    if "verl.workers.rollout.vllm_rollout" in sys.modules:
        pytest.skip("imported before this test ran; the guard needs a clean start")
    dist_info = _fake_vllm_dist_info(tmp_path)
    before = set(sys.modules)
    with _verl_module_with_fake("vllm", VLLM_SERVER, VLLM_IMPORTS, VLLM_FAKES, dist_info) as module:
        assert module.SamplingParams is FakeSamplingParams
    leftovers = sorted(set(sys.modules) - before)
    assert leftovers == [], f"still imported after the fake was removed: {leftovers}"
    assert importlib.util.find_spec("vllm") is None
    assert not list(importlib.metadata.distributions(name="vllm")), "the fake vllm dist-info is still on sys.path"


# --- fakes of the engines and of Ray ---------------------------------------------------------------


class ScriptedModel:
    """Answers each request with the next scripted token ids, else with a filler token forever;
    either way cut at the request's limit, as a model that never stops would be."""

    def __init__(self, replies: list[list[int]] | None = None, filler: int = 7):
        self.replies = list(replies or [])
        self.filler = filler
        self.limits: list[int] = []

    def answer(self, limit: int) -> list[int]:
        self.limits.append(limit)
        reply = self.replies.pop(0) if self.replies else [self.filler] * max(limit, 0)
        return reply[: max(limit, 0)]


class FakeAsyncLLM:
    """vLLM's AsyncLLM: ``generate(prompt, sampling_params, request_id, ...)`` is an async
    iterator of RequestOutput; this one yields the final one only."""

    def __init__(self, model: ScriptedModel):
        self.model = model
        self.requests: list[dict] = []

    async def generate(self, prompt, sampling_params, request_id, lora_request=None, priority=0):
        self.requests.append({"prompt": prompt, "sampling_params": sampling_params})
        token_ids = self.model.answer(sampling_params.max_tokens)
        logprobs = None
        if sampling_params.logprobs is not None:
            logprobs = [{token: SimpleNamespace(logprob=-0.5)} for token in token_ids]
        completion = SimpleNamespace(token_ids=token_ids, logprobs=logprobs, finish_reason="length")
        yield SimpleNamespace(outputs=[completion], num_cached_tokens=0)


class FakeTokenizerManager:
    """SGLang's TokenizerManager: ``generate_request(GenerateReqInput, None)`` is an async
    iterator of output dicts."""

    def __init__(self, model: ScriptedModel):
        self.model = model
        self.requests: list = []

    async def generate_request(self, request, http_request):
        self.requests.append(request)
        token_ids = self.model.answer(request.sampling_params["max_new_tokens"])
        meta_info = {"finish_reason": {"type": "length"}}
        if request.return_logprob:
            meta_info["output_token_logprobs"] = [(-0.5, token, None) for token in token_ids]
        yield {"output_ids": token_ids, "meta_info": meta_info}


class FakeActorHandle:
    """A Ray actor handle: ``handle.method.remote(*args)`` starts ``method`` here on a deep copy of
    the arguments (Ray serialises them) and returns an awaitable, as an ObjectRef is; the call runs
    whether or not the caller awaits it (verl does not await ``release_server``)."""

    def __init__(self, instance):
        self._instance = instance

    def __getattr__(self, method_name):
        method = getattr(self._instance, method_name)

        def remote(*args, **kwargs):
            result = method(*copy.deepcopy(args), **copy.deepcopy(kwargs))
            if asyncio.iscoroutine(result):
                return asyncio.ensure_future(result)
            done = asyncio.get_running_loop().create_future()
            done.set_result(result)
            return done

        return SimpleNamespace(remote=remote)


class OneServerLoadBalancer:
    """verl's GlobalRequestLoadBalancer with one server and no routing fields."""

    def __init__(self, server_handle):
        self.server_handle = server_handle

    def require_acquire_fields(self):
        return []

    def require_release_fields(self):
        return []

    def acquire_server(self, request_id):
        return "server-0", self.server_handle

    def release_server(self, server_id):
        return None


# --- the servers, built without their GPU __init__ -------------------------------------------------


def rollout_config(backend: str, max_model_len: int | None, prompt_length=64, response_length=40) -> RolloutConfig:
    return RolloutConfig(
        name=backend, prompt_length=prompt_length, response_length=response_length, max_model_len=max_model_len
    )


@pytest.fixture(scope="module")
def model_config(tiny_model_path) -> HFModelConfig:
    return HFModelConfig(path=str(tiny_model_path))


def vllm_server(module, config: RolloutConfig, model_config: HFModelConfig, model: ScriptedModel):
    """A ``vLLMHttpServer`` as ``__init__`` leaves it (the attributes ``generate`` reads)."""
    server = object.__new__(module.vLLMHttpServer)
    server._disaggregation_role, server._pd_decode_peers = "null", []
    server.config = server._init_config(config)
    server.model_config = server._init_model_config(model_config)
    server._validate_configs()  # verl's: max_model_len defaults to the model's max_position_embeddings
    server.replica_rank, server.global_steps = 0, None
    server._warned_missing_spec_decode_stats = False
    server._submission_paused, server._rejecting, server._admitting = False, False, 0
    server.engine = FakeAsyncLLM(model)
    return server


def sglang_server(module, config: RolloutConfig, model_config: HFModelConfig, model: ScriptedModel):
    """A ``SGLangHttpServer`` as ``__init__`` leaves it (the attributes ``generate`` reads)."""
    server = object.__new__(module.SGLangHttpServer)
    server._disaggregation_role, server._pd_decode_peers = "null", []
    server.config, server.model_config = config, model_config
    server.replica_rank, server.global_steps = 0, None
    server.tokenizer_manager = FakeTokenizerManager(model)
    return server


@pytest.fixture
def build_server(request, vllm_server_module, sglang_server_module, model_config):
    def build(backend: str, model: ScriptedModel, max_model_len: int | None = 128, **lengths):
        config = rollout_config(backend, max_model_len, **lengths)
        if backend == "vllm":
            return vllm_server(vllm_server_module, config, model_config, model)
        return sglang_server(sglang_server_module, config, model_config, model)

    return build


def engine_limits(server) -> list[int]:
    """The token limit the engine was given, per request."""
    if hasattr(server, "engine"):
        return [request["sampling_params"].max_tokens for request in server.engine.requests]
    return [request.sampling_params["max_new_tokens"] for request in server.tokenizer_manager.requests]


def engine_sampling_params(server) -> dict:
    """The last request's sampling parameters as the engine got them."""
    if hasattr(server, "engine"):
        return server.engine.requests[-1]["sampling_params"].kwargs
    return server.tokenizer_manager.requests[-1].sampling_params


def generate(server, prompt_ids, sampling_params):
    return asyncio.run(
        server.generate(prompt_ids=list(prompt_ids), sampling_params=dict(sampling_params), request_id="r0")
    )


# --- what each server does with max_tokens ---------------------------------------------------------

PROMPT = list(range(10, 20))  # 10 tokens


# Each engine's name for the limit, and the other engine's, which it would reject as unknown.
LIMIT_KEYS = {"vllm": ("max_tokens", "max_new_tokens"), "sglang": ("max_new_tokens", "max_tokens")}
# TokenOutput.stop_reason of a response the limit cut: verl's vLLM server reports "completed" for
# both "stop" and "length", SGLang's passes its finish reason on (siri_verl/request_budget.py
# relies on both).
STOP_REASON_WHEN_CUT = {"vllm": "completed", "sglang": "length"}


@pytest.mark.parametrize("backend", ["vllm", "sglang"])
def test_an_in_range_max_tokens_reaches_the_engine_unchanged(build_server, backend):
    server = build_server(backend, ScriptedModel())
    output = generate(server, PROMPT, {"max_tokens": 24, "temperature": 1.0, "logprobs": True})
    assert engine_limits(server) == [24]
    assert len(output.token_ids) == 24 and len(output.log_probs) == 24
    own_key, foreign_key = LIMIT_KEYS[backend]
    sent = engine_sampling_params(server)
    assert sent[own_key] == 24 and foreign_key not in sent, f"{backend} got {sorted(sent)}"
    assert sent["temperature"] == 1.0
    assert output.stop_reason == STOP_REASON_WHEN_CUT[backend]


@pytest.mark.parametrize("backend", ["vllm", "sglang"])
def test_the_sglang_style_key_is_accepted_too(build_server, backend):
    server = build_server(backend, ScriptedModel())
    generate(server, PROMPT, {"max_new_tokens": 24})
    assert engine_limits(server) == [24]


@pytest.mark.parametrize(
    ("backend", "room"),
    [("vllm", 128 - len(PROMPT)), ("sglang", 128 - len(PROMPT) - 1)],  # SGLang keeps one slot back
)
def test_max_tokens_is_clamped_to_the_room_left_in_max_model_len(build_server, backend, room):
    server = build_server(backend, ScriptedModel())
    generate(server, PROMPT, {"max_tokens": 500})
    assert engine_limits(server) == [room]


@pytest.mark.parametrize("backend", ["vllm", "sglang"])
def test_an_explicit_max_tokens_is_not_clamped_to_response_length(build_server, backend):
    """Only the default is capped at rollout.response_length: our loops must cap themselves."""
    server = build_server(backend, ScriptedModel(), max_model_len=256, response_length=40)
    output = generate(server, PROMPT, {"max_tokens": 100})
    assert engine_limits(server) == [100] and len(output.token_ids) == 100


@pytest.mark.parametrize("backend", ["vllm", "sglang"])
def test_without_max_tokens_the_server_uses_response_length(build_server, backend):
    server = build_server(backend, ScriptedModel(), max_model_len=256, prompt_length=64, response_length=40)
    generate(server, PROMPT, {})
    assert engine_limits(server) == [40]


@pytest.mark.parametrize(
    ("backend", "requested", "sent"),
    [
        ("vllm", 0, 1),  # vLLM (>= 0.20) rejects max_tokens < 1, so verl lifts it to 1
        ("vllm", -3, 1),
        ("sglang", 0, 0),  # SGLang accepts 0 and generates nothing
        ("sglang", -3, 0),
    ],
)
def test_zero_and_negative_max_tokens(build_server, backend, requested, sent):
    """What a zero-token request becomes: under vLLM the response gets a token the cap did not
    allow, so the clamp against zero belongs on our side, before the request is sent."""
    server = build_server(backend, ScriptedModel())
    output = generate(server, PROMPT, {"max_tokens": requested})
    assert engine_limits(server) == [sent]
    assert len(output.token_ids) == sent


@pytest.mark.parametrize(("backend", "prompt_length"), [("vllm", 128), ("sglang", 129)])
def test_a_prompt_that_leaves_no_room_is_refused(build_server, backend, prompt_length):
    server = build_server(backend, ScriptedModel())
    with pytest.raises(ValueError, match="context length"):
        generate(server, range(prompt_length), {"max_tokens": 8})
    assert engine_limits(server) == []


def test_vllm_max_model_len_defaults_to_the_models_max_position_embeddings(build_server, model_config):
    server = build_server("vllm", ScriptedModel(), max_model_len=None)
    assert server.config.max_model_len == model_config.hf_config.max_position_embeddings


# --- our agent loops, through verl's server client, to the engine ----------------------------------

SCHEDULE = {"shape": "cosine", "l_max": 40, "l_min": 24, "period": 6, "granularity": 1}
INFTYTHINK = {"max_segments": 3, "segment_cap": 24, "reward_variant": "task", "schedule_target": "segment_cap"}


@pytest.fixture(scope="module")
def tokenizer(tiny_model_path):
    return AutoTokenizer.from_pretrained(tiny_model_path)


def trainer_config(backend: str, **sections):
    return OmegaConf.create(
        {
            "actor_rollout_ref": {
                "rollout": {"name": backend, "prompt_length": 64, "response_length": 40, "multi_turn": {}}
            },
            "data": {"apply_chat_template_kwargs": {}},
            "schedule": SCHEDULE,
            "siri_verl": {"uncapped_splits": ["val", "test"]},
            **sections,
        }
    )


def run_loop(loop_cls, tokenizer, config, server, sampling_params, **kwargs):
    """Our loop with verl's real LLMServerClient in front of ``server`` (the way AgentLoopWorker
    builds it), run in the event loop it is built in."""

    def client():
        return LLMServerClient(
            config, load_balancer_handle=FakeActorHandle(OneServerLoadBalancer(FakeActorHandle(server)))
        )

    return run_agent_loop(loop_cls, tokenizer, BuiltInLoop(client), config, sampling_params, **kwargs)


@pytest.mark.parametrize("backend", ["vllm", "sglang"])
@pytest.mark.parametrize("step", [1, 3, 4])  # caps 36, 24, 28: none is the server default (40)
def test_siri_cap_of_the_step_reaches_the_engine(build_server, tokenizer, backend, step):
    server = build_server(backend, ScriptedModel())
    output = run_loop(
        SiriLengthAgentLoop, tokenizer, trainer_config(backend), server, {"temperature": 1.0, "logprobs": True},
        raw_prompt=[{"role": "user", "content": "What is 2+3?"}], global_steps=step, extra_info={"split": "train"},
    )  # fmt: skip
    cap = build_schedule(SCHEDULE).length(step)
    assert engine_limits(server) == [cap]
    assert len(output.response_ids) == cap and output.extra_fields["truncated"] is True


@pytest.mark.parametrize("backend", ["vllm", "sglang"])
def test_inftythink_segment_cap_of_the_step_reaches_the_engine_for_every_segment(build_server, tokenizer, backend):
    def ids(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    segments = [ids("4 5 6 7\n</think><summary>\nat 7, 5 to add\n</summary>"), ids("8 9\n</think>\n\n\\boxed{12}")]
    step = 3
    server = build_server(backend, ScriptedModel(segments))
    config = trainer_config(backend, inftythink=INFTYTHINK)
    outputs = run_loop(
        InftyThinkAgentLoop, tokenizer, config, server, {"temperature": 1.0},
        raw_prompt=[{"role": "user", "content": "What is 4+8?"}], global_steps=step,
    )  # fmt: skip
    eta = build_schedule(SCHEDULE).length(step)  # schedule_target=segment_cap: η(t) = L(t)
    assert len(outputs) == 2
    assert engine_limits(server) == [eta, eta]
    assert outputs[-1].extra_fields["inftythink_segment_cap"] == eta
