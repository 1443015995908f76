"""Typed schemas for every config group except `objective` (each objective module owns its own).

Registered in Hydra's ConfigStore by `config.registry`, so a misspelt key, a wrong type or a choice that is not one
of a field's choices (every choice list is an Enum) fails when the config is composed, before anything is built.
An Enum member is a `str` (StrEnum): it compares equal to its name, prints as it, and is saved as it. Imports no
torch, transformers or TRL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

from contrastlab.data.benchmarks import BENCHMARKS
from contrastlab.data.pair_formats import FORMATS
from contrastlab.rewards import NONE, names as reward_names


def choices(name: str, *values: str) -> type[StrEnum]:
    """An Enum of string choices, each member named as its value."""
    return StrEnum(name, {value: value for value in values})


Resume = choices("Resume", "auto", "never")
OnNan = choices("OnNan", "stop", "skip_batch")
KeepMode = choices("KeepMode", "max", "min")
ModelSource = choices("ModelSource", "tiny", "tiny_encoder", "smollm2", "minilm", "hub")
Pooling = choices("Pooling", "mean", "cls", "last")
Dtype = choices("Dtype", "auto", "float32", "bfloat16", "float16")
Format = choices("Format", *FORMATS)
OnBadRecord = choices("OnBadRecord", "error", "skip")
Benchmark = choices("Benchmark", *(b.name for b in BENCHMARKS))
WrapPolicy = choices("WrapPolicy", "TRANSFORMER_BASED_WRAP", "SIZE_BASED_WRAP", "NO_WRAP")
StateDict = choices("StateDict", "FULL_STATE_DICT", "SHARDED_STATE_DICT")
Offload = choices("Offload", "none", "cpu")
Device = choices("Device", "cpu", "cuda", "auto")
Precision = choices("Precision", "fp32", "bf16", "fp16", "auto")
Strategy = choices("Strategy", "single", "ddp", "fsdp", "deepspeed")
Backend = choices("Backend", "nccl", "gloo", "mpi")
LoggerBackend = choices("LoggerBackend", "wandb", "none")
LoggerMode = choices("LoggerMode", "offline", "online", "disabled")
RewardName = choices("RewardName", NONE, *reward_names())


@dataclass
class TrainConfig:
    """What every objective shares."""

    seed: int = 0  # governs everything random: initialisation, dropout, data order
    max_steps: int = 30  # optimizer steps; -1 = run `epochs` epochs instead
    epochs: float = 1.0  # passes over the training split when max_steps = -1
    batch_size: int = 4  # examples (pairs for pairwise objectives) per device per step
    grad_accum: int = 1  # micro-batches accumulated into one optimizer step
    lr: float = 5e-5  # peak learning rate (AdamW, linear decay)
    warmup: float = 0.0  # fraction of steps spent warming the learning rate up
    weight_decay: float = 0.0  # AdamW weight decay
    max_grad_norm: float = 1.0  # gradient clipping norm
    max_length: int = 64  # tokens of prompt + completion; longer sequences are truncated at the end
    log_every: int = 1  # steps between lines of log.jsonl
    eval_every: int = 0  # steps between held-out evaluations during training; 0 = only before and after
    save_every: int = 0  # steps between resumable checkpoints in checkpoints/; 0 = none
    curriculum: bool = False  # Curry-DPO: train on preference pairs in order, easy to hard (largest score gap first)
    gradient_checkpointing: Optional[bool] = None  # recompute activations in backward (less memory, slower);
    #                                                null = the trainer's default: on for language models (as TRL), off for encoders
    ref_cache: bool = True  # with objective.precompute_ref: reuse reference log-probs computed by an earlier job or run
    #                         for the same reference weights, data and tokenisation (kept under cache_dir)
    resume: Resume = Resume.auto  # auto: continue from the newest complete checkpoint in the run folder (same command and
    #                       folder, hydra.run.dir=...) with optimizer, scheduler, RNG and data position; never: start over
    on_nan: OnNan = OnNan.stop  # a NaN/inf loss or gradient: stop (keep the last good checkpoint, exit 2) | skip_batch
    keep_best: Optional[str] = None  # a held-out metric (pref_accuracy, spearman, ...): the weights of its best
    #                                  evaluation (every eval_every steps, and the last) become model/ and after/;
    #                                  metrics.json records best/step. null = the last step's weights
    keep_best_mode: KeepMode = KeepMode.max  # max: higher is better | min


@dataclass
class LoraConfig:
    """Low-rank adapters (PEFT). With LoRA the reference policy is the base with the adapter disabled."""

    enabled: bool = False  # train a LoRA adapter instead of every weight
    r: int = 8  # adapter rank
    alpha: int = 16  # scaling numerator (scale = alpha / r)
    dropout: float = 0.05  # dropout on the adapter's input
    target_modules: str = "all-linear"  # PEFT target: "all-linear" or a comma-separated list of module names


@dataclass
class TinyArch:
    """Shape of the locally built random-initialised models (`model.source=tiny` Llama, `tiny_encoder` BERT)."""

    hidden_size: int = 64  # width
    num_layers: int = 2  # decoder layers
    num_heads: int = 4  # attention heads
    intermediate_size: int = 128  # MLP width
    dropout: float = 0.0  # dropout on hidden states and attention (SimCSE's views need it; DPO's ln 2 start does not)


@dataclass
class ModelConfig:
    """Weights and tokenizer of the policy."""

    name: str = MISSING  # short name used in run folder names
    source: ModelSource = MISSING  # tiny | tiny_encoder (built locally) | smollm2 | minilm (packaged, offline) | hub
    path: Optional[str] = None  # hub id or local folder, for source=hub
    revision: Optional[str] = None  # hub revision (branch, tag or commit) for source=hub
    dtype: Dtype = Dtype.auto  # float32 | bfloat16 | float16 | auto (the hardware's precision)
    pooling: Pooling = Pooling.mean  # embedding objectives: mean | cls | last (the last real token, for decoder LLMs)
    chat_template: bool = True  # format prompts with the tokenizer's chat template when it has one
    system_prompt: Optional[str] = None  # chat template: a system message put before every prompt that has none;
    #                                      null = none (a template may insert its own: SmolLM2's adds 16 tokens to every
    #                                      prompt); "" = an empty one, which keeps such a default out
    trust_remote_code: bool = False  # run model code shipped with hub weights; off unless you turn it on
    init: Optional[str] = None  # a finished run's folder to start from: its model (a LoRA adapter merged into its base,
    #                             or full weights), tokenizer and model config; with train.max_steps=0, evaluate it
    init_recipe: Optional[List[str]] = None  # overrides (objective=sft ...) that train that run into model.init first
    #                                          when the folder holds no finished run yet (experiment=sft_then_dpo)
    tiny: TinyArch = field(default_factory=TinyArch)  # shape, for source=tiny and tiny_encoder
    lora: LoraConfig = field(default_factory=LoraConfig)  # adapters


@dataclass
class DataConfig:
    """Where the records come from and how they split."""

    name: str = MISSING  # short name used in run folder names
    source: str = MISSING  # a module of contrastlab.data.sources: rt_sentiment, lee, file, hh_rlhf, nli, ...
    path: Optional[str] = None  # local JSONL/CSV/Parquet file (source=file), or hub id / local file in the hub schema
    split: str = "train"  # split to train on (hub sources)
    eval_split: Optional[str] = None  # split to evaluate on; null = hold out `eval_fraction` of `split` by group
    eval_fraction: float = 0.1  # share of groups (films, conversations) held out when eval_split is null
    split_seed: int = 0  # seeds the held-out split and subsampling; fixed across train.seed so evals compare
    max_train: Optional[int] = None  # keep at most this many training records (a seeded sample)
    max_eval: Optional[int] = None  # keep at most this many held-out records (a seeded sample)
    format: Format = Format.auto  # auto | standard | conversational | transcript (see README, "Data")
    columns: Dict[str, str] = field(default_factory=dict)  # our field -> column of the file, e.g. {chosen: good}
    benchmark: Optional[Benchmark] = None  # embedding objectives: similarity benchmark lee | wordsim353 | simlex999 | stsb
    benchmark_path: Optional[str] = None  # benchmark=stsb: hub id or a local file in its schema
    benchmark_split: str = "test"  # benchmark=stsb: the split evaluated
    forget_group: Optional[str] = None  # data=rt_forget: the film (slug) whose reviews to forget; null = the most reviewed
    positive_threshold: float = 0.8  # gold similarity (scaled to [0, 1]) from which a scored pair is a positive
    on_bad_record: Optional[OnBadRecord] = None  # a record that cannot be read (missing or empty field, chosen equal to
                                         # rejected, broken JSON line): error (stop at the first, naming file, line and
                                         # field) | skip (skip it, count it: data/skipped); null = error for your own
                                         # files (data=jsonl), skip for hub datasets (they hold a few broken rows)


@dataclass
class FsdpOptions:
    """PyTorch FSDP through accelerate (`hardware=fsdp`): transformers' `fsdp_config` fields (FSDP2)."""

    reshard_after_forward: bool = True  # free gathered weights after each forward (FULL_SHARD); false = SHARD_GRAD_OP
    auto_wrap_policy: WrapPolicy = WrapPolicy.TRANSFORMER_BASED_WRAP  # one unit per layer | SIZE_BASED_WRAP | NO_WRAP
    transformer_layer_cls_to_wrap: Optional[List[str]] = None  # layer classes; null = the model's _no_split_modules
    min_num_params: int = 0  # SIZE_BASED_WRAP: parameters per wrapped unit at least
    cpu_offload: bool = False  # keep sharded parameters and gradients in CPU memory (GPU only)
    activation_checkpointing: bool = False  # FSDP's activation checkpointing (instead of train.gradient_checkpointing)
    state_dict_type: StateDict = StateDict.FULL_STATE_DICT  # FULL_STATE_DICT (one file, what model/ needs) | SHARDED_STATE_DICT
    cpu_ram_efficient_loading: bool = False  # load the weights on rank 0 only and broadcast them


@dataclass
class DeepSpeedOptions:
    """DeepSpeed ZeRO through accelerate (`hardware=deepspeed`, `hardware=deepspeed_zero3`); needs
    `pip install '.[deepspeed]'` and CUDA GPUs. Batch size, accumulation, clipping, learning rate and precision come
    from `train.*` and `hardware.precision` ("auto" in DeepSpeed's config)."""

    zero_stage: int = 2  # 1 (optimizer states), 2 (+ gradients) or 3 (+ parameters) sharded over the processes
    offload_optimizer: Offload = Offload.none  # none | cpu: optimizer states in CPU memory (ZeRO-Offload)
    offload_param: Offload = Offload.none  # none | cpu: parameters in CPU memory (ZeRO-3 only)
    overlap_comm: bool = True  # overlap the gradient reduction with the backward pass
    contiguous_gradients: bool = True  # copy gradients into one buffer as they are produced
    gather_16bit_weights_on_model_save: bool = True  # ZeRO-3: gather the full weights into model/ at the end
    config: Optional[str] = None  # a DeepSpeed JSON config file of your own, used instead of the fields above


@dataclass
class HardwareConfig:
    """Device, precision and processes."""

    name: str = MISSING  # short name
    device: Device = Device.cpu  # cpu | cuda | auto (cuda when a GPU is visible, else cpu)
    precision: Precision = Precision.fp32  # fp32 | bf16 | fp16 | auto (bf16 on a GPU that has it, else fp32)
    threads: Optional[int] = None  # torch CPU threads per process; null = torch's default (N processes: cores / N)
    strategy: Strategy = Strategy.single  # single (one process) | ddp | fsdp | deepspeed: how several processes share the work
    num_processes: Optional[int] = 1  # processes, one per GPU (CPU processes with ddp); null = one per visible GPU.
    #                                   Above 1 (or with fsdp/deepspeed) run.py starts them itself through accelerate
    backend: Optional[Backend] = None  # process-group backend; null = nccl on GPUs, gloo on the CPU
    main_process_port: Optional[int] = None  # rendezvous port on this machine; null = a free one (parallel jobs)
    fsdp: FsdpOptions = field(default_factory=FsdpOptions)  # strategy=fsdp
    deepspeed: DeepSpeedOptions = field(default_factory=DeepSpeedOptions)  # strategy=deepspeed


@dataclass
class LoggerConfig:
    """Experiment tracking. Whatever the backend, the run folder gets log.jsonl and metrics.json."""

    backend: LoggerBackend = MISSING  # wandb | none
    mode: LoggerMode = LoggerMode.offline  # offline (no key, no network) | online | disabled
    project: str = "contrastlab"  # W&B project
    entity: Optional[str] = None  # W&B entity (team or user); null = your default
    group: Optional[str] = None  # W&B group; null = the sweep's folder name under -m, none otherwise
    tags: List[str] = field(default_factory=list)  # W&B tags


@dataclass
class RewardConfig:
    """What scores a completion: for on-policy objectives (grpo, rloo, online_dpo, iterative_dpo) and for
    eval.generate. One source (reward=lexicon), or reward.sources=[lexicon, length] summed with reward.weights."""

    name: RewardName = RewardName.none  # none | model | lexicon | length | python
    sources: List[str] = field(default_factory=list)  # several sources summed (each reads its options below); [] = [name]
    weights: List[float] = field(default_factory=list)  # one per source; [] = all 1
    path: Optional[str] = None  # reward=model: the run folder of a finished objective=reward run
    target_length: int = 24  # reward=length: the completion length that scores 0 (the best), in length_unit
    length_unit: str = "tokens"  # reward=length: tokens (the policy's tokenizer) | words | characters
    function: Optional[str] = None  # reward=python: module:function(prompts, completions) -> one float each


@dataclass
class EvalConfig:
    """Held-out evaluation, the same for every objective of a family."""

    before: bool = True  # evaluate the initial policy (= the reference) before training
    after: bool = True  # evaluate the trained policy after training
    batch_size: int = 8  # pairs (texts, for embeddings) per forward pass
    max_length: Optional[int] = None  # tokens per text embedded for a benchmark; null = the model's own limit
    bootstrap: int = 1000  # resamples of the bootstrap intervals on held-out metrics (ci_low/, ci_high/); 0 = none
    preference_probability: Optional[float] = None  # ideal_rank_accuracy for pairs with no scores: the probability
    #                                                 that chosen is preferred (scored pairs use Bradley-Terry on their
    #                                                 scores); null = not measured for them
    metric: Optional[str] = None  # the metrics.json entry a run returns (what a sweeper such as Optuna optimises);
    #                               null = the family's main one: after/pref_accuracy, after/spearman, after/forget_logp_drop
    generate: bool = False  # language models: generate completions for held-out prompts after training and score them
    reward_model: Optional[str] = None  # generate=true: the run folder of an objective=reward run that scores completions
    reward_recipe: Optional[List[str]] = None  # overrides (objective=reward ...) that train that reward model into
    #                                            eval.reward_model first when the folder does not exist yet
    num_prompts: int = 32  # generate=true: held-out prompts completed
    num_samples: int = 4  # generate=true: sampled completions per prompt (for the KL estimate and the sampled reward)
    max_new_tokens: int = 48  # generate=true: tokens generated per completion at most
    temperature: float = 1.0  # generate=true: sampling temperature (the greedy completion is always made too)


@dataclass
class RootConfig:
    """The composed config of one run."""

    objective: Any = MISSING  # chosen from conf/objective/; its schema belongs to the objective's module
    model: ModelConfig = MISSING
    data: DataConfig = MISSING
    hardware: HardwareConfig = MISSING
    logger: LoggerConfig = MISSING
    reward: RewardConfig = MISSING
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    name: str = MISSING  # run name: the experiment's, or objective-model-data
    save_model: bool = True  # write the final weights to model/ (the adapter only, with LoRA)
    cache_dir: Optional[str] = None  # reference log-prob cache; null = $CONTRASTLAB_CACHE or ~/.cache/contrastlab
