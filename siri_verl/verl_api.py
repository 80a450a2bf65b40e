"""Every verl API this project touches, with what it relies on: the checklist of a verl upgrade.

``pyproject.toml`` pins ``verl==0.9.1`` because verl's API moves inside patch releases (0.9.0 ->
0.9.1 removed ``AgentLoopBase.apply_chat_template``). :data:`TOUCHES` is one row per verl symbol
that a module of ``siri_verl/`` imports, subclasses, overrides, calls or reads by name;
:data:`CONFIG_KEYS` lists the keys of verl's config our Python reads by name (keys set in YAML
are checked by composition instead: Hydra refuses an unknown key). ``tests/test_verl_api_on_cpu.py``
checks every row against the installed verl, with a message naming our files to revisit, and
fails when a module of ``siri_verl/`` reaches a verl symbol that has no row here. After a verl
upgrade: run it, and for each failure read the row's ``why`` and revisit its ``used_by``.

Columns of a :class:`Touch`:

``symbol``
    ``"module:Qualified.name"`` as our code reaches it (``"module"`` for a module).
``source``
    The file that defines it, relative to site-packages.
``relies_on``
    What we rely on, in one of these forms (checked as written):

    - ``"(a, b, *args, **kwargs)"``: exactly these parameters (``self`` not written);
    - ``"(a, b, ...)"``: at least these parameters (we pass them by keyword);
    - ``"self.a, self.b"``: attributes of its instances (assigned by verl's class or its verl
      bases, or defined on the class, e.g. a property);
    - ``"abstract: a, b"``: exactly these abstract methods (we implement them all);
    - ``"files: a.yaml, b.yaml"``: a package holding these files;
    - ``"dict"``, ``"module"``, ``"class"``: a value of that kind;
    - ``"exists"``: only that it exists; the row's ``guard`` checks the rest.
``contains``
    Lines of its source whose behaviour we depend on, in the order they appear there (for a
    class, its source and its verl bases'; for a value, its module's).
``kind``
    How stable it is meant to be: :data:`EXTENSION_POINT` (a registry or contract verl offers to
    plugins), :data:`PUBLIC` (a public function or class we call or build), :data:`INTERNAL` (public
    name, but verl's plumbing: we override it or read its attributes), :data:`PRIVATE` (underscored).
``guard``
    The test that checks the touch in depth, where one does (e.g. the monkeypatch's own guard,
    ``tests/backends/test_cpu_patches_on_cpu.py``, which this table does not repeat).
``needs``
    A package its module imports that the CPU install lacks (vllm, sglang): the row is checked
    where that package is installed, and on CPU only by its guard, which fakes the package.

``python -m siri_verl.verl_api`` prints both tables as markdown.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

EXTENSION_POINT = "extension point"
PUBLIC = "public"
INTERNAL = "internal"
PRIVATE = "private"

# Packages whose symbols count as verl's: verl itself and transfer_queue, verl's data plane,
# whose batches our trainer reads (verl requires TransferQueue>=0.1.10; pyproject.toml pins it).
VERL_PACKAGES = ("verl", "transfer_queue")


@dataclass(frozen=True)
class Touch:
    """One verl symbol we touch; the columns are described in the module docstring."""

    symbol: str
    source: str
    relies_on: str
    why: str
    used_by: tuple[str, ...]
    kind: str
    contains: tuple[str, ...] = ()
    guard: str | None = None
    needs: str | None = None


@dataclass(frozen=True)
class ConfigKey:
    """A key of verl's config that our Python reads by name; ``source`` is the verl config file
    (relative to site-packages) that defines it."""

    key: str
    source: str
    used_by: tuple[str, ...]


_AGENT_LOOP = "verl/experimental/agent_loop/agent_loop.py"
_SINGLE_TURN = "verl/experimental/agent_loop/single_turn_agent_loop.py"
_TRAINER_BASE = "verl/trainer/ppo/v1/trainer_base.py"
_SFT_DATASET = "verl/utils/dataset/multiturn_sft_dataset.py"
_REPLICA = "verl/workers/rollout/replica.py"
_PLATFORM_MANAGER = "verl/plugin/platform/platform_manager.py"
_PPO_CONFIG = "verl/trainer/config/_generated_ppo_trainer.yaml"
_SFT_CONFIG = "verl/trainer/config/sft_trainer_engine.yaml"
_CPU_PATCH_GUARD = "tests/backends/test_cpu_patches_on_cpu.py"
_CPU_ROLLOUT = "siri_verl/backends/cpu/rollout.py"
_GPU_HF_REPLICA = "siri_verl/backends/gpu_hf/replica.py"

# One row per symbol; kept as a compact table (fmt: off), grouped by the part of ours that touches it.
# fmt: off
TOUCHES: tuple[Touch, ...] = (
    # -- the plugin: how verl finds this project ------------------------------------------------
    Touch(
        "verl", "verl/__init__.py", "module",
        "`import verl` loads every entry point of the `verl.plugins` group (our siri_verl.plugin), "
        "logging failures only at debug level; pyproject.toml declares the entry point",
        ("siri_verl/plugin.py", "pyproject.toml"), EXTENSION_POINT,
        contains=('_discovered = _entry_points(group="verl.plugins")',),
        guard="tests/test_plugin_on_cpu.py",
    ),
    Touch(
        "verl.trainer.config", "verl/trainer/config/__init__.py", "files: ppo_trainer.yaml, sft_trainer_engine.yaml",
        "our Hydra apps put pkg://verl.trainer.config on the search path and start from these configs",
        ("conf/config.yaml", "conf/sft/sft.yaml"), PUBLIC,
    ),
    # -- tracking and resume --------------------------------------------------------------------
    Touch(
        "verl.utils.checkpoint.checkpoint_manager:find_latest_ckpt_path", "verl/utils/checkpoint/checkpoint_manager.py",
        "(path, directory_format)",
        "a resumed job finds the checkpoint verl will resume from, to continue that job's MLflow run",
        ("siri_verl/tracking/runs.py",), INTERNAL,
        guard="tests/tracking/test_mlflow_faults_on_cpu.py",
    ),
    Touch(
        "verl.utils.tracking:_compute_mlflow_params_from_objects", "verl/utils/tracking.py", "(params)",
        "the flattened params verl logs to MLflow: a continued run must log exactly these, or MLflow refuses "
        "the changed params and verl drops tracking for the job",
        ("siri_verl/tracking/runs.py",), PRIVATE,
        guard="tests/tracking/test_mlflow_faults_on_cpu.py",
    ),
    # -- agent loops ----------------------------------------------------------------------------
    Touch(
        "verl.experimental.agent_loop.agent_loop:register", _AGENT_LOOP, "(agent_name)",
        "registers the siri_length and inftythink agent loops by name",
        ("siri_verl/siri/siri_length_agent_loop.py", "siri_verl/inftythink/inftythink_agent_loop.py"), EXTENSION_POINT,
    ),
    Touch(
        "verl.experimental.agent_loop.agent_loop:AgentLoopBase.__init__", _AGENT_LOOP,
        "(trainer_config, server_manager, tokenizer, processor, dataset_cls, data_config, hf_model_type, **kwargs)",
        "our loops forward verl's keyword arguments, with hf_model_type rewritten by the chat protocol: "
        "verl builds the Continuous Token builder from it",
        ("siri_verl/inftythink/inftythink_agent_loop.py", "siri_verl/siri/siri_length_agent_loop.py", "siri_verl/chat_protocol.py"), INTERNAL,
        contains=("hf_model_type=hf_model_type,",),
        guard="tests/models/test_r1_distill_contract_on_cpu.py",
    ),
    Touch(
        "verl.experimental.agent_loop.agent_loop:AgentLoopBase", _AGENT_LOOP,
        "self.config, self.rollout_config, self.server_manager, self.tokenizer, self.apply_chat_template_kwargs",
        "the inftythink loop builds its own prompts and requests from verl's loop state",
        ("siri_verl/inftythink/inftythink_agent_loop.py", "siri_verl/siri/siri_length_agent_loop.py"), INTERNAL,
    ),
    Touch(
        "verl.experimental.agent_loop.agent_loop:AgentLoopBase.run", _AGENT_LOOP, "(sampling_params, **kwargs)",
        "overridden by the inftythink loop, which returns a LIST of outputs (one row per segment); verl's V1 "
        "trainer takes one row per element",
        ("siri_verl/inftythink/inftythink_agent_loop.py",), INTERNAL,
        guard="tests/e2e/test_e2e_inftythink_on_cpu.py",
    ),
    Touch(
        "verl.experimental.agent_loop.agent_loop:AgentLoopWorker._run_agent_loop", _AGENT_LOOP,
        "(sampling_params, trajectory, agent_name, trace, **kwargs)",
        "builds our loops with keyword arguments only (route_by_chat_protocol reads tokenizer and trainer_config "
        "from them) and passes hf_model_type",
        ("siri_verl/chat_protocol.py",), PRIVATE,
        contains=("trainer_config=DictConfigWrap(config=self.config),", "hf_model_type=self.hf_model_type,"),
    ),
    Touch(
        "verl.experimental.agent_loop.agent_loop:AgentLoopWorker._compute_score", _AGENT_LOOP, "(outputs, kwargs)",
        "pads a multi-row trajectory's prompts, responses and masks separately and passes prompt_len/response_len: "
        "the layout our reward manager cuts back to the final row as generated",
        ("siri_verl/reward/manager.py",), PRIVATE,
        contains=(
            '"prompt_len": np.array([len(o.prompt_ids) for o in outputs]),',
            '"response_len": np.array([len(o.response_ids) for o in outputs]),',
        ),
        guard="tests/reward/test_reward_path_on_cpu.py",
    ),
    Touch(
        "verl.experimental.agent_loop.agent_loop:AgentLoopOutput", _AGENT_LOOP,
        "(prompt_ids, response_ids, response_mask, response_logprobs, num_turns, metrics, extra_fields, ...)",
        "the inftythink loop builds one per segment; extra_fields reach the reward as extra_info",
        ("siri_verl/inftythink/inftythink_agent_loop.py", "siri_verl/siri/siri_length_agent_loop.py"), PUBLIC,
    ),
    Touch(
        "verl.experimental.agent_loop.single_turn_agent_loop:SingleTurnAgentLoop.run", _SINGLE_TURN,
        "(sampling_params, priority, **kwargs)",
        "siri_length overrides it and calls it with max_tokens = L(t) added; verl must pass sampling_params "
        "through to the server unchanged",
        ("siri_verl/siri/siri_length_agent_loop.py",), INTERNAL,
        contains=("sampling_params=sampling_params,",),
        guard="tests/backends/test_rollout_servers_contract_on_cpu.py",
    ),
    Touch(
        "verl.experimental.agent_loop.single_turn_agent_loop:SingleTurnAgentLoop.__init__", _SINGLE_TURN,
        "(*args, **kwargs)", "siri_length's __init__ forwards verl's arguments (chat-protocol routed) to it",
        ("siri_verl/siri/siri_length_agent_loop.py",), INTERNAL,
    ),
    Touch(
        "verl.experimental.agent_loop.single_turn_agent_loop:SingleTurnAgentLoop", _SINGLE_TURN,
        "self.response_length",
        "SIRI's cap never exceeds the tensor width (rollout.response_length)",
        ("siri_verl/siri/siri_length_agent_loop.py",), INTERNAL,
    ),
    Touch(
        "verl.workers.rollout.llm_server:LLMServerClient.generate", "verl/workers/rollout/llm_server.py",
        "(request_id, prompt_ids, sampling_params, ...)",
        "the inftythink loop's server_manager: one request per segment with max_tokens = eta",
        ("siri_verl/inftythink/inftythink_agent_loop.py",), INTERNAL,
        guard="tests/backends/test_rollout_servers_contract_on_cpu.py",
    ),
    Touch(
        "verl.workers.rollout.vllm_rollout.vllm_async_server:vLLMHttpServer.generate",
        "verl/workers/rollout/vllm_rollout/vllm_async_server.py", "(prompt_ids, sampling_params, request_id, ...)",
        "the GPU server our max_tokens reaches: clamped to [1, max_model_len - len(prompt)], stop_reason "
        "'completed' for both 'stop' and 'length' (request_budget.py reads it)",
        ("siri_verl/request_budget.py", "siri_verl/siri/siri_length_agent_loop.py", "siri_verl/inftythink/inftythink_agent_loop.py"),
        INTERNAL,
        contains=(
            "max_possible_tokens = self.config.max_model_len - len(prompt_ids)",
            'max_tokens = sampling_params.pop("max_tokens")',
            "max_tokens = max(1, min(max_tokens, max_possible_tokens))",
            'elif finish_reason in ("stop", "length"):',
        ),
        guard="tests/backends/test_rollout_servers_contract_on_cpu.py", needs="vllm",
    ),
    Touch(
        "verl.workers.rollout.sglang_rollout.async_sglang_server:SGLangHttpServer.generate",
        "verl/workers/rollout/sglang_rollout/async_sglang_server.py", "(prompt_ids, sampling_params, request_id, ...)",
        "the SGLang server: max_tokens renamed max_new_tokens, clamped to [0, max_model_len - len(prompt) - 1]",
        ("siri_verl/request_budget.py", "siri_verl/siri/siri_length_agent_loop.py", "siri_verl/inftythink/inftythink_agent_loop.py"),
        INTERNAL,
        contains=(
            'max_new_tokens = sampling_params.pop("max_tokens")',
            "max_new_tokens = max(0, min(max_new_tokens, max_possible_tokens))",
        ),
        guard="tests/backends/test_rollout_servers_contract_on_cpu.py", needs="sglang",
    ),
    Touch(
        "verl.utils.profiler:simple_timer", "verl/utils/profiler/performance.py", "(name, timing_raw)",
        "times each segment's generation as verl's loops do",
        ("siri_verl/inftythink/inftythink_agent_loop.py",), PUBLIC,
    ),
    Touch(
        "verl.trainer.ppo.v1.utils:compute_advantage_for_multi_trajectories", "verl/trainer/ppo/v1/utils.py",
        "(data, batch_keys, adv_estimator, ...)",
        "GRPO statistics on each trajectory's final row, advantage broadcast to every segment (InftyThink+ "
        "trajectory-level RL relies on it; not called by us)",
        ("siri_verl/inftythink/inftythink_agent_loop.py",), INTERNAL,
    ),
    # -- Continuous Token builder routing (R1-Distill) ------------------------------------------
    Touch(
        "verl.utils.tokenizer.continuous_token_wiring:create_continuous_token_builder",
        "verl/utils/tokenizer/continuous_token_wiring.py", "(tokenizer, hf_model_type, ...)",
        "picks the builder from hf_model_type alone; chat_protocol hands it a model type that maps to R1's "
        "protocol (deepseek_v3) for R1-Distill-Qwen (qwen2), whose tokenizer lacks <|im_end|> (verl #7637)",
        ("siri_verl/chat_protocol.py",), INTERNAL,
        guard="tests/models/test_r1_distill_contract_on_cpu.py",
    ),
    Touch(
        "verl.utils.tokenizer.continuous_token_wiring:_MODEL_TYPE_TO_FAMILY",
        "verl/utils/tokenizer/continuous_token_wiring.py", "dict",
        "the exact model_type lookup chat_protocol.BUILDER_MODEL_TYPE depends on (deepseek_v3, qwen2)",
        ("siri_verl/chat_protocol.py",), PRIVATE,
        contains=('"qwen2": ContinuousTokenModelFamily.QWEN,', '"deepseek_v3": ContinuousTokenModelFamily.DEEPSEEK,'),
        guard="tests/models/test_r1_distill_contract_on_cpu.py",
    ),
    Touch(
        "verl.utils.tokenizer.continuous_token:DeepSeekContinuousTokenBuilder",
        "verl/utils/tokenizer/continuous_token.py", "(tokenizer, **kwargs)",
        "the builder chosen for R1-Distill's chat protocol",
        ("siri_verl/chat_protocol.py",), INTERNAL,
        guard="tests/models/test_r1_distill_contract_on_cpu.py",
    ),
    # -- reward ---------------------------------------------------------------------------------
    Touch(
        "verl.experimental.reward_loop.reward_manager:register",
        "verl/experimental/reward_loop/reward_manager/registry.py", "(name)",
        "registers the siri_verl reward manager (reward.reward_manager.name: siri_verl)",
        ("siri_verl/reward/manager.py",), EXTENSION_POINT,
    ),
    Touch(
        "verl.experimental.reward_loop.reward_manager.naive:NaiveRewardManager.run_single",
        "verl/experimental/reward_loop/reward_manager/naive.py", "(data)",
        "overridden to hand verl the final row cut to its own lengths: verl's slice counts the response from "
        "the attention mask's tail, and calls our compute_score with verl's custom-reward keywords",
        ("siri_verl/reward/manager.py", "siri_verl/reward/score.py", "siri_verl/siri/siri_reward.py",
         "siri_verl/inftythink/inftythink_reward.py"), INTERNAL,
        contains=(
            "data = data[-1:]",
            'valid_response_length = data_item.batch["attention_mask"][-response_length:].sum()',
            "solution_str=response_str,",
            "extra_info=extra_info,",
        ),
        guard="tests/reward/test_reward_path_on_cpu.py",
    ),
    Touch(
        "verl:DataProto", "verl/protocol.py", "(batch, non_tensor_batch, meta_info)",
        "the reward manager rebuilds the final row as a DataProto",
        ("siri_verl/reward/manager.py",), PUBLIC,
    ),
    Touch(
        "verl.utils.reward_score.math_dapo:compute_score", "verl/utils/reward_score/math_dapo.py",
        "(solution_str, ground_truth, ...)", "baseline of the reward benchmark",
        ("siri_verl/bench/reward_bench.py",), PUBLIC,
    ),
    Touch(
        "verl.utils.reward_score.math_verify:compute_score", "verl/utils/reward_score/math_verify.py",
        "(model_output, ground_truth, ...)", "baseline of the reward benchmark",
        ("siri_verl/bench/reward_bench.py",), PUBLIC,
    ),
    # -- trainer mode siri_verl -----------------------------------------------------------------
    Touch(
        "verl.trainer.ppo.v1.trainer_base:register_trainer", _TRAINER_BASE, "(name)",
        "registers trainer mode siri_verl (trainer.v1.trainer_mode)",
        ("siri_verl/trainer.py",), EXTENSION_POINT,
    ),
    Touch(
        "verl.trainer.ppo.v1.trainer_sync:PPOTrainerSync", "verl/trainer/ppo/v1/trainer_sync.py",
        "self.config, self.use_critic, self.trainer_mode, self.global_steps, self.total_training_steps, "
        "self.checkpoint_callback, self.timing_raw, self.replay_buffer, self.reward_loop_manager, self.tokenizer",
        "SiriVerlTrainer subclasses it and answers trainer_mode 'sync' (verl branches on that name), wraps "
        "verl's checkpoint callback; the checkpoint hooks read the step and the run length; the trajectory "
        "viewer reads validation batches through the replay buffer and decodes them with the tokenizer",
        ("siri_verl/trainer.py", "siri_verl/siri/phase_checkpoints.py"), INTERNAL,
        contains=(
            "self.checkpoint_callback = build_checkpoint_callback(config)",
            "self.trainer_mode = self.config.trainer.v1.trainer_mode",
        ),
    ),
    Touch(
        "verl.trainer.ppo.v1.trainer_sync:PPOTrainerSync.__init__", _TRAINER_BASE, "(config)",
        "overridden to wrap the checkpoint callback verl built", ("siri_verl/trainer.py",), INTERNAL,
    ),
    Touch(
        "verl.trainer.ppo.v1.trainer_sync:PPOTrainerSync.fit", _TRAINER_BASE, "(agent_loop_manager)",
        "a step ends with verl's scheduled save, then on_step_end (the weight sync): a wanted save is made "
        "first in on_step_end, in the state verl saves in",
        ("siri_verl/trainer.py", "siri_verl/siri/phase_checkpoints.py"), INTERNAL,
        contains=("self._save_checkpoint()", "self.on_step_end()"),
    ),
    Touch(
        "verl.trainer.ppo.v1.trainer_sync:PPOTrainerSync._build_replay_buffer", _TRAINER_BASE, "()",
        "overridden to set the replay buffer's poll interval (siri_verl.replay_poll_interval_s)",
        ("siri_verl/trainer.py",), PRIVATE,
    ),
    Touch(
        "verl.trainer.ppo.v1.replay_buffer:ReplayBuffer", "verl/trainer/ppo/v1/replay_buffer.py", "self.poll_interval",
        "verl hard-codes a 2 s poll, longer than a whole tiny CPU step; we set the attribute after construction",
        ("siri_verl/trainer.py", "siri_verl/bench/training.py"), INTERNAL,
        contains=("time.sleep(self.poll_interval)",),
    ),
    Touch(
        "verl.trainer.ppo.v1.trainer_sync:PPOTrainerSync._validate", _TRAINER_BASE, "()",
        "overridden for the trajectory viewer: for the pass, the replay buffer's sample is wrapped to read the "
        "first trajectories of each validation batch before verl clears it from TransferQueue",
        ("siri_verl/trainer.py",), PRIVATE,
        contains=(
            "batch, _ = self.replay_buffer.sample(",
            "parts = key.rsplit(\"_\", 2)",
            "tq.kv_clear(keys=batch.keys, partition_id=batch.partition_id)",
        ),
    ),
    Touch(
        "verl.trainer.ppo.v1.trainer_base:PPOTrainer._write_generations", _TRAINER_BASE,
        "(inputs, outputs, gts, scores, reward_extra_infos_dict, dump_path, global_steps)",
        "the validation dumps the end-of-run summary pairs (one JSON line per sample in <dump_path>/<step>.jsonl: "
        "input, score and the reward's extra fields); the guard reads a file verl's writer made",
        ("siri_verl/tracking/paired.py",), PRIVATE,
        contains=('filename = os.path.join(dump_path, f"{global_steps}.jsonl")',),
        guard="tests/tracking/test_paired_on_cpu.py",
    ),
    Touch(
        "verl.trainer.ppo.v1.replay_buffer:ReplayBuffer.sample", "verl/trainer/ppo/v1/replay_buffer.py",
        "(global_steps, partition_id, batch_size)",
        "wrapped during validation (the trajectory viewer): it returns (KVBatchMeta, metrics)",
        ("siri_verl/trainer.py",), INTERNAL,
    ),
    Touch(
        "verl.experimental.reward_loop:RewardLoopManager", "verl/experimental/reward_loop/reward_loop.py",
        "self.reward_loop_worker_handles",
        "None when a colocated reward model scores after the replay buffer's sample: the viewer then has no "
        "scores to read",
        ("siri_verl/trainer.py",), INTERNAL,
    ),
    Touch(
        "verl.trainer.ppo.v1.trainer_sync:PPOTrainerSync._compute_metrics", _TRAINER_BASE,
        "(batch, metrics, timing_raw, global_steps, epoch)",
        "overridden to add the registered metric collectors' metrics to each step",
        ("siri_verl/trainer.py",), PRIVATE,
    ),
    Touch(
        "verl.trainer.ppo.v1.trainer_sync:PPOTrainerSync.on_step_begin", _TRAINER_BASE, "()",
        "overridden: a run a step hook asked to stop (siri_verl.health.action=stop) raises before the next step, "
        "once verl has logged the step that asked",
        ("siri_verl/trainer.py", "siri_verl/health.py"), INTERNAL,
    ),
    Touch(
        "verl.trainer.ppo.v1.trainer_sync:PPOTrainerSync.on_step_end", "verl/trainer/ppo/v1/trainer_sync.py", "()",
        "overridden: a checkpoint a hook wants is saved before verl's weight sync wakes the rollout replicas",
        ("siri_verl/trainer.py", "siri_verl/siri/phase_checkpoints.py"), INTERNAL,
        contains=("self.checkpoint_manager.update_weights(self.global_steps)",),
    ),
    Touch(
        "verl.trainer.ppo.v1.trainer_sync:PPOTrainerSync._load_checkpoint", _TRAINER_BASE, "()",
        "overridden: after verl resumes (it sets self.global_steps from the global_step_N folder), the step "
        "resumed from is noted, so that checkpoint-saved hooks a kill cut off run again on it",
        ("siri_verl/trainer.py",), PRIVATE,
        contains=('self.global_steps = int(global_step_folder.split("global_step_")[-1])',),
        guard="tests/e2e/test_e2e_resume_after_kill_on_cpu.py",
    ),
    Touch(
        "verl.trainer.ppo.v1.trainer_sync:PPOTrainerSync.on_train_begin", _TRAINER_BASE, "()",
        "overridden: the checkpoint-saved hooks of the step resumed from run here, once verl's MLflow run is open",
        ("siri_verl/trainer.py",), INTERNAL,
        guard="tests/e2e/test_e2e_resume_after_kill_on_cpu.py",
    ),
    Touch(
        "verl.trainer.ppo.v1.trainer_sync:PPOTrainerSync._save_checkpoint", _TRAINER_BASE, "()",
        "called for the steps SIRI keeps (phase ends) that verl's save_freq did not save; it ends in the "
        "checkpoint callback's on_save",
        ("siri_verl/trainer.py", "siri_verl/siri/phase_checkpoints.py"), PRIVATE,
        contains=("self.checkpoint_callback.on_save(",),
    ),
    Touch(
        "verl.trainer.ppo.checkpoint_callback:CheckpointCallback.__init__",
        "verl/trainer/ppo/checkpoint_callback.py", "(config)",
        "_CheckpointSavedHooks wraps the configured callback (trainer.checkpoint_callback_class)",
        ("siri_verl/trainer.py",), EXTENSION_POINT,
    ),
    Touch(
        "verl.trainer.ppo.checkpoint_callback:CheckpointCallback.on_save", "verl/trainer/ppo/checkpoint_callback.py",
        "(trainer, global_step, checkpoint_dir, async_save, **kwargs)",
        "overridden: runs the configured callback, then the registered checkpoint-saved hooks",
        ("siri_verl/trainer.py", "siri_verl/siri/phase_checkpoints.py"), EXTENSION_POINT,
    ),
    Touch(
        "verl.trainer.ppo.checkpoint_callback:CheckpointCallback", "verl/trainer/ppo/checkpoint_callback.py",
        "self.config", "the wrapper passes the configured callback's config on", ("siri_verl/trainer.py",),
        EXTENSION_POINT,
    ),
    Touch(
        "verl.utils.debug:marked_timer", "verl/utils/profiler/nvtx_profile.py", "(name, timing_raw, ...)",
        "times the extra save as verl times its own (timing_s/save_checkpoint)", ("siri_verl/trainer.py",), PUBLIC,
    ),
    Touch(
        "verl.trainer.ppo.v1.trainer_sync:PPOTrainerSync._get_required_batch_multiple", _TRAINER_BASE, "(dp_size)",
        "overridden so that a step's rows split into the fixed number of mini-batches",
        ("siri_verl/trainer.py",), PRIVATE,
    ),
    Touch(
        "verl.trainer.ppo.v1.trainer_sync:PPOTrainerSync._update_actor", _TRAINER_BASE, "(batch, metrics)",
        "overridden: ppo_mini_batch_size is resized for the call, because verl reads it from the config inside",
        ("siri_verl/trainer.py",), PRIVATE,
        contains=("ppo_mini_batch_size = self.config.actor_rollout_ref.actor.ppo_mini_batch_size",),
    ),
    Touch(
        "transfer_queue:kv_batch_get", "transfer_queue/interface.py", "(keys, partition_id, select_fields)",
        "the metric collectors read responses, rm_scores, extra_fields and advantages of the step's batch",
        ("siri_verl/trainer.py",), INTERNAL,
    ),
    Touch(
        "transfer_queue:KVBatchMeta", "transfer_queue/metadata.py", "(keys, tags, partition_id, ...)",
        "the step's batch handle verl passes to _compute_metrics; tags mark padding rows",
        ("siri_verl/trainer.py",), INTERNAL,
    ),
    # -- launching ------------------------------------------------------------------------------
    Touch(
        "verl.trainer.main_ppo:run_ppo", "verl/trainer/main_ppo.py", "(config, task_runner_class)",
        "the launcher calls verl's entry point; verl passes ray_kwargs.ray_init to ray.init as keywords "
        "(checks.py reads ray_kwargs.ray_init.address, which only a user adds)",
        ("siri_verl/launch.py", "siri_verl/checks.py"), PUBLIC,
        contains=("ray.init(**OmegaConf.to_container(ray_init_kwargs))",),
    ),
    Touch(
        "verl.trainer.main_ppo:TaskRunnerV1", "verl/trainer/main_ppo.py", "exists",
        "the V1 task runner (a Ray actor class); ours subclasses its class (Ray's __ray_actor_class__) and is "
        "handed to run_ppo", ("siri_verl/launch.py", "siri_verl/task_runner.py"), PUBLIC,
    ),
    Touch(
        "verl.trainer.main_ppo:TaskRunnerV1.run", "verl/trainer/main_ppo.py", "(config)",
        "overridden to route the runner's stdout (the resolved config verl pprints, its validation dicts) to "
        "siri_verl.console.verl_prints", ("siri_verl/task_runner.py",), PUBLIC,
        contains=("pprint(OmegaConf.to_container(config, resolve=True))",),
    ),
    Touch(
        "verl.trainer.ppo.utils:need_critic", "verl/trainer/ppo/utils.py", "(config)",
        "validate_config's argument, as verl's main computes it", ("siri_verl/launch.py",), PUBLIC,
    ),
    Touch(
        "verl.trainer.ppo.utils:need_reference_policy", "verl/trainer/ppo/utils.py", "(config)",
        "validate_config's argument, as verl's main computes it", ("siri_verl/launch.py",), PUBLIC,
    ),
    Touch(
        "verl.utils.config:validate_config", "verl/utils/config.py", "(config, use_reference_policy, use_critic)",
        "verl's own config validation, run on the driver before Ray starts", ("siri_verl/launch.py",), PUBLIC,
    ),
    Touch(
        "verl.utils.device:auto_set_device", "verl/utils/device.py", "(config)",
        "verl's device selection, as its main does", ("siri_verl/launch.py",), PUBLIC,
    ),
    Touch(
        "verl.trainer.sft_trainer:run_sft", "verl/trainer/sft_trainer.py", "(config)",
        "the cold-start SFT app calls verl's SFT entry point", ("siri_verl/sft.py",), PUBLIC,
    ),
    Touch(
        "verl.trainer.sft_trainer:create_sft_dataset", "verl/trainer/sft_trainer.py", "(data_paths, data_config, ...)",
        "builds data.custom_cls (InftyThinkSFTDataset) with MultiTurnSFTDataset's keyword arguments",
        ("siri_verl/inftythink/sft_dataset.py", "conf/sft/sft.yaml"), EXTENSION_POINT,
        contains=(
            "parquet_files=data_paths, tokenizer=tokenizer, config=data_config, processor=processor, "
            "max_samples=max_samples",
        ),
    ),
    # -- platform -------------------------------------------------------------------------------
    Touch(
        "verl.plugin.platform:PlatformBase.is_platform_available", "verl/plugin/platform/platform_base.py",
        "(use_smi_check)", "overridden to False: the cpu platform is chosen by VERL_PLATFORM only, never detected",
        ("siri_verl/backends/cpu/platform.py",), EXTENSION_POINT,
    ),
    Touch(
        "verl.plugin.platform:PlatformRegistry.register", _PLATFORM_MANAGER, "(platform)",
        "registers the cpu platform", ("siri_verl/backends/cpu/platform.py",), EXTENSION_POINT,
    ),
    Touch(
        "verl.plugin.platform:PlatformRegistry.get", _PLATFORM_MANAGER, "(name)",
        "the launcher switches to VERL_PLATFORM's platform", ("siri_verl/launch.py",), EXTENSION_POINT,
    ),
    Touch(
        "verl.plugin.platform:set_platform", _PLATFORM_MANAGER, "(platform)",
        "the launcher switches to VERL_PLATFORM's platform after composing imported verl",
        ("siri_verl/launch.py",), PUBLIC,
    ),
    Touch(
        "verl.plugin.platform.platform_manager:_current_platform", _PLATFORM_MANAGER, "exists",
        "read to know whether verl already resolved a platform; its logger's name is filtered in config.py",
        ("siri_verl/launch.py", "siri_verl/config.py"), PRIVATE,
    ),
    Touch(
        "verl.plugin.platform:PlatformBase", "verl/plugin/platform/platform_base.py",
        "abstract: communication_backend_name, cudart, current_device, device_count, device_module, device_name, "
        "empty_cache, get_device_capability, is_available, is_ipc_supported, manual_seed, manual_seed_all, "
        "nvtx_range, profiler_start, profiler_stop, ray_noset_envvars, ray_resource_name, set_allocator_settings, "
        "set_device, synchronize, vendor_name, visible_devices_envvar",
        "PlatformCPU implements every abstract method; a new one makes it abstract (uninstantiable)",
        ("siri_verl/backends/cpu/platform.py",), EXTENSION_POINT,
        guard="tests/backends/test_cpu_platform_on_cpu.py",
    ),
    # -- CPU engines and the hf rollout ---------------------------------------------------------
    Touch(
        "verl.workers.engine.base:EngineRegistry.register", "verl/workers/engine/base.py",
        "(model_type, backend, device, ...)",
        "registers verl's FSDP engines for device cpu", ("siri_verl/backends/cpu/engines.py",), EXTENSION_POINT,
    ),
    Touch(
        "verl.workers.engine.base:EngineRegistry._engines", "verl/workers/engine/base.py", "dict",
        "read as _engines[model_type][backend][device] so that registering twice is skipped",
        ("siri_verl/backends/cpu/engines.py",), PRIVATE,
    ),
    Touch(
        "verl.workers.engine.fsdp.transformer_impl:FSDPEngineWithLMHead",
        "verl/workers/engine/fsdp/transformer_impl.py", "class", "registered for device cpu",
        ("siri_verl/backends/cpu/engines.py",), PUBLIC,
    ),
    Touch(
        "verl.workers.engine.fsdp.transformer_impl:FSDPEngineWithValueHead",
        "verl/workers/engine/fsdp/transformer_impl.py", "class", "registered for device cpu",
        ("siri_verl/backends/cpu/engines.py",), PUBLIC,
    ),
    Touch(
        "verl.workers.rollout.base:_ROLLOUT_REGISTRY", "verl/workers/rollout/base.py", "dict",
        "the worker-side rollout has no public registration: we add ('hf', 'async') -> HFServerAdapter's path",
        ("siri_verl/backends/cpu/rollout.py",), PRIVATE,
        contains=('("vllm", "async"): "verl.workers.rollout.vllm_rollout.ServerAdapter",',),
    ),
    Touch(
        "verl.workers.rollout.base:BaseRollout.__init__", "verl/workers/rollout/base.py",
        "(config, model_config, device_mesh, *args, **kwargs)", "HFServerAdapter subclasses it",
        ("siri_verl/backends/cpu/rollout.py",), INTERNAL,
    ),
    Touch(
        "verl.workers.rollout.base:BaseRollout.update_weights", "verl/workers/rollout/base.py",
        "(weights, wire_format, **kwargs)", "overridden: pushes full tensors to the hf server",
        ("siri_verl/backends/cpu/rollout.py",), INTERNAL,
    ),
    Touch(
        "verl.workers.rollout.base:BaseRollout.resume", "verl/workers/rollout/base.py", "(tags)",
        "overridden: nothing to resume on CPU", ("siri_verl/backends/cpu/rollout.py",), INTERNAL,
    ),
    Touch(
        "verl.workers.rollout.base:BaseRollout.release", "verl/workers/rollout/base.py", "()",
        "overridden: nothing to release on CPU", ("siri_verl/backends/cpu/rollout.py",), INTERNAL,
    ),
    Touch(
        "verl.workers.rollout.base:BaseRollout", "verl/workers/rollout/base.py", "self.config",
        "reads the replica's parallel sizes", ("siri_verl/backends/cpu/rollout.py",), INTERNAL,
    ),
    Touch(
        "verl.workers.rollout.replica:RolloutReplicaRegistry.register", _REPLICA, "(name, loader)",
        "registers rollout name hf", ("siri_verl/backends/cpu/rollout.py",), EXTENSION_POINT,
    ),
    Touch(
        "verl.workers.rollout.replica:RolloutReplica.__init__", _REPLICA,
        "(replica_rank, config, model_config, gpus_per_node, is_reward_model, is_teacher_model, name_suffix)",
        "HFRolloutReplica inherits it", ("siri_verl/backends/cpu/rollout.py",), INTERNAL,
    ),
    Touch(
        "verl.workers.rollout.replica:RolloutReplica.launch_servers", _REPLICA, "()",
        "overridden: starts the hf server actor", ("siri_verl/backends/cpu/rollout.py",), INTERNAL,
    ),
    Touch(
        "verl.workers.rollout.replica:RolloutReplica.rollout_worker_use_gpu", _REPLICA, "()",
        "overridden: False", ("siri_verl/backends/cpu/rollout.py",), INTERNAL,
    ),
    Touch(
        "verl.workers.rollout.replica:RolloutReplica", _REPLICA,
        "self.config, self.model_config, self.replica_rank, self.is_reward_model, self.is_teacher_model, "
        "self.name_suffix, self.max_concurrency, self.servers, self._server_handle, self._server_address, self.workers",
        "launch_servers fills what verl's replica methods read (servers, _server_handle, _server_address); "
        "the CUDA replica places its server by its first worker's GPU (workers)",
        ("siri_verl/backends/cpu/rollout.py", _GPU_HF_REPLICA), PRIVATE,
    ),
    Touch(
        "verl.workers.rollout.replica:TokenOutput", _REPLICA, "(token_ids, log_probs, stop_reason, extra_fields, ...)",
        "what the hf server returns and the loops read (stop_reason classifies a budget used up)",
        ("siri_verl/backends/cpu/rollout.py", "siri_verl/inftythink/inftythink_agent_loop.py", "siri_verl/request_budget.py"),
        PUBLIC, guard="tests/backends/test_rollout_servers_contract_on_cpu.py",
    ),
    # -- the hf rollout on CUDA (backend=gpu_hf) ------------------------------------------------
    Touch(
        "verl.plugin.platform:get_platform", _PLATFORM_MANAGER, "()",
        "the CUDA hf replica asks verl's platform for Ray's no-set variables and the visible-devices variable, "
        "as verl's vLLM replica does", (_GPU_HF_REPLICA,), PUBLIC,
    ),
    Touch(
        "verl.plugin.platform:PlatformBase.ray_noset_envvars", "verl/plugin/platform/platform_base.py", "()",
        "set to 1 for the hf server so that Ray leaves its CUDA_VISIBLE_DEVICES alone", (_GPU_HF_REPLICA,), PUBLIC,
    ),
    Touch(
        "verl.plugin.platform:PlatformBase.visible_devices_envvar", "verl/plugin/platform/platform_base.py", "()",
        "set to the worker's GPU id for the hf server", (_GPU_HF_REPLICA,), PUBLIC,
    ),
    Touch(
        "verl.utils.device:get_device_name", "verl/utils/device.py", "()",
        "the hf server's torch device type (cuda)", (_GPU_HF_REPLICA,), PUBLIC,
    ),
    Touch(
        "verl.utils.device:get_resource_name", "verl/utils/device.py", "()",
        "the Ray resource whose accelerator id the worker got (GPU)", (_GPU_HF_REPLICA,), PUBLIC,
    ),
    Touch(
        "verl.utils.torch_dtypes:PrecisionType.to_dtype", "verl/utils/torch_dtypes.py", "(precision)",
        "actor_rollout_ref.rollout.dtype in any of verl's spellings, as a torch dtype", (_GPU_HF_REPLICA,), PUBLIC,
    ),
    # -- the cold-start SFT dataset -------------------------------------------------------------
    Touch(
        "verl.utils.dataset.multiturn_sft_dataset:MultiTurnSFTDataset.__init__", _SFT_DATASET,
        "(parquet_files, tokenizer, config, processor, max_samples)",
        "InftyThinkSFTDataset keeps verl's constructor", ("siri_verl/inftythink/sft_dataset.py",), INTERNAL,
    ),
    Touch(
        "verl.utils.dataset.multiturn_sft_dataset:MultiTurnSFTDataset.__getitem__", _SFT_DATASET, "(item)",
        "overridden to set the row's segment tokens around verl's per-message loop",
        ("siri_verl/inftythink/sft_dataset.py",), INTERNAL,
        contains=(
            "messages = self._build_messages(row_dict)",
            "_input_ids, _loss_mask, _attention_mask, _inputs = self._process_single_message(",
            "self.sanity_check(input_ids, messages, tools, enable_thinking)",
        ),
    ),
    Touch(
        "verl.utils.dataset.multiturn_sft_dataset:MultiTurnSFTDataset._process_single_message", _SFT_DATASET,
        "(index, message, full_message, tools, enable_thinking)",
        "overridden: a segment row's prompt and response are tokenised as the agent loop sees them",
        ("siri_verl/inftythink/sft_dataset.py",), PRIVATE,
        contains=("return input_ids, loss_mask, attention_mask, inputs",),
    ),
    Touch(
        "verl.utils.dataset.multiturn_sft_dataset:MultiTurnSFTDataset.sanity_check", _SFT_DATASET,
        "(input_ids, messages, tools, enable_thinking)",
        "overridden: the reference for a segment row is the agent loop's tokens",
        ("siri_verl/inftythink/sft_dataset.py",), INTERNAL,
    ),
    Touch(
        "verl.utils.dataset.multiturn_sft_dataset:MultiTurnSFTDataset._build_messages", _SFT_DATASET, "(example)",
        "called to read a row's messages as verl does", ("siri_verl/inftythink/sft_dataset.py",), PRIVATE,
    ),
    Touch(
        "verl.utils.dataset.multiturn_sft_dataset:MultiTurnSFTDataset", _SFT_DATASET,
        "self.dataframe, self.tokenizer, self.apply_chat_template_kwargs",
        "the segment row's prefix column and chat-template settings", ("siri_verl/inftythink/sft_dataset.py",),
        INTERNAL,
    ),
    Touch(
        "verl.workers.engine.fsdp.transformer_impl:FSDPEngine", "verl/workers/engine/fsdp/transformer_impl.py",
        "exists",
        "read, not called: it shards a forward-only engine (the reference model) with pinned CPU offload, "
        "which needs an accelerator; checks.py refuses a KL term on trainer.device=cpu until this changes",
        ("siri_verl/checks.py",), INTERNAL,
        contains=("if self.engine_config.offload_policy or self.engine_config.forward_only:",
                  "offload_policy = CPUOffloadPolicy(pin_memory=True)"),
    ),
    # -- the monkeypatches (backends/cpu/patches.py), guarded by their own test -----------------
    Touch(
        "verl.utils.distributed:initialize_global_process_group_ray", "verl/utils/distributed.py", "exists",
        "patched: its CPU default backend is 'cpu:gloo,cpu:gloo', which torch rejects",
        ("siri_verl/backends/cpu/patches.py",), INTERNAL, guard=_CPU_PATCH_GUARD,
    ),
    Touch(
        "verl.workers.engine_workers:initialize_global_process_group_ray", "verl/utils/distributed.py", "exists",
        "patched where engine_workers imported it by name", ("siri_verl/backends/cpu/patches.py",), INTERNAL,
        guard=_CPU_PATCH_GUARD,
    ),
    Touch(
        "verl.utils.distributed:initialize_global_process_group", "verl/utils/distributed.py", "exists",
        "replaced on CPU (the SFT trainer's torchrun path)", ("siri_verl/backends/cpu/patches.py",), INTERNAL,
        guard=_CPU_PATCH_GUARD,
    ),
)

CONFIG_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("actor_rollout_ref.rollout.response_length", _PPO_CONFIG,
              ("siri_verl/inftythink/inftythink_agent_loop.py", "siri_verl/siri/siri_length_agent_loop.py", _CPU_ROLLOUT)),
    ConfigKey("actor_rollout_ref.rollout.prompt_length", _PPO_CONFIG, (_CPU_ROLLOUT,)),
    ConfigKey("actor_rollout_ref.rollout.max_model_len", _PPO_CONFIG,
              ("siri_verl/request_budget.py", "siri_verl/inftythink/inftythink_agent_loop.py", "siri_verl/checks.py")),
    ConfigKey("actor_rollout_ref.rollout.tensor_model_parallel_size", _PPO_CONFIG, (_CPU_ROLLOUT,)),
    ConfigKey("actor_rollout_ref.rollout.data_parallel_size", _PPO_CONFIG, (_CPU_ROLLOUT,)),
    ConfigKey("actor_rollout_ref.rollout.pipeline_model_parallel_size", _PPO_CONFIG, (_CPU_ROLLOUT,)),
    ConfigKey("actor_rollout_ref.rollout.n", _PPO_CONFIG, ("siri_verl/trainer.py",)),
    ConfigKey("actor_rollout_ref.rollout.agent.default_agent_loop", _PPO_CONFIG, ("siri_verl/checks.py",)),
    ConfigKey("actor_rollout_ref.actor.ppo_mini_batch_size", _PPO_CONFIG, ("siri_verl/trainer.py",)),
    ConfigKey("actor_rollout_ref.actor.ppo_epochs", _PPO_CONFIG, ("siri_verl/trainer.py",)),
    ConfigKey("data.train_batch_size", _PPO_CONFIG, ("siri_verl/trainer.py",)),
    ConfigKey("data.max_response_length", _PPO_CONFIG, ("siri_verl/checks.py",)),
    ConfigKey("data.max_prompt_length", _PPO_CONFIG, ("siri_verl/checks.py",)),
    # The per-GPU token budgets of dynamic batching, their switches and SP sizes (checks.TOKEN_BUDGETS).
    ConfigKey("actor_rollout_ref.actor.ppo_max_token_len_per_gpu", _PPO_CONFIG, ("siri_verl/checks.py",)),
    ConfigKey("actor_rollout_ref.actor.use_dynamic_bsz", _PPO_CONFIG, ("siri_verl/checks.py",)),
    ConfigKey("actor_rollout_ref.actor.ulysses_sequence_parallel_size", _PPO_CONFIG, ("siri_verl/checks.py",)),
    ConfigKey("actor_rollout_ref.actor.use_kl_loss", _PPO_CONFIG, ("siri_verl/checks.py",)),
    ConfigKey("actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu", _PPO_CONFIG, ("siri_verl/checks.py",)),
    ConfigKey("actor_rollout_ref.rollout.log_prob_use_dynamic_bsz", _PPO_CONFIG, ("siri_verl/checks.py",)),
    ConfigKey("actor_rollout_ref.ref.log_prob_max_token_len_per_gpu", _PPO_CONFIG, ("siri_verl/checks.py",)),
    ConfigKey("actor_rollout_ref.ref.log_prob_use_dynamic_bsz", _PPO_CONFIG, ("siri_verl/checks.py",)),
    ConfigKey("actor_rollout_ref.ref.ulysses_sequence_parallel_size", _PPO_CONFIG, ("siri_verl/checks.py",)),
    ConfigKey("algorithm.use_kl_in_reward", _PPO_CONFIG, ("siri_verl/checks.py",)),
    ConfigKey("data.apply_chat_template_kwargs", _PPO_CONFIG, ("siri_verl/inftythink/inftythink_agent_loop.py",)),
    ConfigKey("trainer.n_gpus_per_node", _PPO_CONFIG, ("siri_verl/checks.py",)),
    ConfigKey("trainer.nnodes", _PPO_CONFIG, ("siri_verl/checks.py",)),
    ConfigKey("trainer.default_local_dir", _PPO_CONFIG, ("siri_verl/siri/phase_checkpoints.py",)),
    ConfigKey("trainer.validation_data_dir", _PPO_CONFIG, ("siri_verl/tracking/runs.py",)),
    ConfigKey("trainer.total_training_steps", _PPO_CONFIG,
              ("siri_verl/siri/preview.py", "siri_verl/lab/toy_study.py", "siri_verl/launch.py")),
    ConfigKey("trainer.project_name", _PPO_CONFIG, ("siri_verl/tracking/runs.py", "siri_verl/tracking/sweep.py")),
    ConfigKey("trainer.experiment_name", _PPO_CONFIG, ("siri_verl/tracking/runs.py", "siri_verl/launch.py")),
    ConfigKey("trainer.logger", _PPO_CONFIG, ("siri_verl/tracking/runs.py", "siri_verl/console.py")),
    ConfigKey("ray_kwargs.ray_init.runtime_env", _PPO_CONFIG, ("siri_verl/launch.py",)),
    ConfigKey("trainer.device", _SFT_CONFIG, ("siri_verl/sft.py",)),
    ConfigKey("data.custom_cls.path", _SFT_CONFIG, ("conf/sft/sft.yaml",)),
)
# fmt: on


def markdown() -> str:
    """Both tables as markdown."""
    lines = ["| symbol | verl file | relies on | kind | why | used by | guard |", "|---|---|---|---|---|---|---|"]
    for row in TOUCHES:
        cells = (row.symbol, row.source, row.relies_on, row.kind, row.why, ", ".join(row.used_by), row.guard or "")
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines += ["", "| config key | verl file | used by |", "|---|---|---|"]
    lines += [f"| {key.key} | {key.source} | {', '.join(key.used_by)} |" for key in CONFIG_KEYS]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m siri_verl.verl_api",
        description="Print, as markdown, every verl API siri_verl touches (symbol, verl file, what we rely on,\n"
        "why, our files, how stable, its guard) and every verl config key our code reads: the checklist\n"
        "of a verl upgrade (tests/test_verl_api_on_cpu.py checks each row against the installed verl).",
        epilog="example:\n  python -m siri_verl.verl_api > verl_api.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)
    print(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
