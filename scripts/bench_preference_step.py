"""One side of the bench's `preference_trainer_vs_trl` entry: sigmoid-DPO steps on one model and batch, through
our PreferenceTrainer (`ours`) or TRL's DPOTrainer (`trl`), with identical arguments.

    python scripts/bench_preference_step.py ours|trl MODEL STEPS BATCH MAX_LENGTH

MODEL is a conf/model option (tiny, smollm2; LoRA as its YAML says). Data: rt_sentiment training pairs, chat
formatted. Prints the wall time of each optimizer step as JSON on the last line (the first is a warm-up).
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _compose(overrides):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from contrastlab.config.registry import register

    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def main() -> None:
    side, model_name, steps, batch, max_length = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    import torch
    import transformers
    from datasets import Dataset
    from transformers import TrainerCallback

    from contrastlab.data.sources import load_records
    from contrastlab.models.loading import load_model, load_tokenizer, lora_config

    cfg = _compose([f"model={model_name}", f"data.max_train={steps * batch}", "data.max_eval=4"])
    tokenizer = load_tokenizer(cfg.model)
    torch.manual_seed(0)
    model = load_model(cfg.model, cfg.hardware, tokenizer)
    train, _ = load_records(cfg.data)
    peft = lora_config(cfg.model, "CAUSAL_LM")
    common = dict(output_dir=f"/tmp/contrastlab-bench-{side}", per_device_train_batch_size=batch, learning_rate=1e-4,
                  max_steps=steps, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True, seed=0,
                  data_seed=0, bf16=False, gradient_checkpointing=True, disable_tqdm=True)  # fmt: skip

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times, self.start = [], 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter() - self.start)

    timer = StepTimer()
    ref = None if peft is not None else copy.deepcopy(model).eval().requires_grad_(False)
    if side == "trl":
        from trl import DPOConfig, DPOTrainer

        from contrastlab.data.records import to_rows

        trainer = DPOTrainer(model=model, ref_model=ref, processing_class=tokenizer, peft_config=peft,
                             args=DPOConfig(**common, beta=0.1, loss_type=["sigmoid"], max_length=max_length),
                             train_dataset=Dataset.from_list(to_rows(train, conversational=True)),
                             callbacks=[timer])  # fmt: skip
    else:
        from contrastlab.data.encoding import Encoding
        from contrastlab.objectives.losses.pairwise import dpo_sigmoid
        from contrastlab.objectives.trainers.preference import PreferenceTrainer, SequenceLoss, pair_metrics
        from contrastlab.objectives.trainers.sequences import SequenceCollator, sequence_rows

        def fn(b):
            return dpo_sigmoid(b.logratios[:, 0], b.logratios[:, 1], 0.1).mean(), pair_metrics(b, 0.1)

        if peft is not None:
            from peft import get_peft_model

            transformers.set_seed(0)
            model = get_peft_model(model, peft)
        rows = sequence_rows(train, Encoding(tokenizer, chat=True), max_length)
        trainer = PreferenceTrainer(model=model, ref_model=ref, loss=SequenceLoss(fn), uses_reference=True,
                                    args=transformers.TrainingArguments(**common, remove_unused_columns=False),
                                    train_dataset=Dataset.from_list(rows), callbacks=[timer],
                                    data_collator=SequenceCollator(tokenizer.pad_token_id, max_length))  # fmt: skip
    trainer.train()
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    print(json.dumps({"side": side, "step_s": timer.times, "losses": losses}))


if __name__ == "__main__":
    main()
