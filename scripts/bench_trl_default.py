"""The default run's baseline: `make run`'s experiment written directly against TRL, with TRL's defaults.

The same model (SmolLM2-135M-Instruct, the packaged weights), LoRA (r 8, alpha 16, dropout 0.05, all linear
layers), data (rt_sentiment, the same split and held-out sample), steps, batch, learning rate and length as
`run.py` with no overrides; everything else is TRL 1.16's DPOConfig default (gradient checkpointing on, the chat
template's own system prompt, its evaluation), except `bf16=False`: TRL defaults to bf16 even on a CPU, and this
baseline runs on the same fp32 CPU as `hardware=cpu`. Prints, as JSON on the last line, the wall time from start
to the final held-out accuracy (TRL's `eval_rewards/accuracies`, which counts a tie as wrong) and that accuracy.
"""

from __future__ import annotations

import json
import time


def main() -> None:
    t0 = time.time()
    from datasets import Dataset
    from hydra import compose, initialize_config_dir
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import DPOConfig, DPOTrainer

    from contrastlab.config.registry import register
    from contrastlab.data.sources import load_records  # the same pairs; the data layer is not what is timed
    from contrastlab.models.assets import smollm2_dir

    register()
    from pathlib import Path

    with initialize_config_dir(str(Path(__file__).resolve().parents[1] / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["name=bench"])  # the default run's settings
    train_records, eval_records = load_records(cfg.data)
    system = cfg.model.system_prompt

    def rows(records):
        prompt = ([{"role": "system", "content": system}] if system is not None else [])
        return Dataset.from_list([{"prompt": prompt + [{"role": "user", "content": p.prompt}],
                                   "chosen": [{"role": "assistant", "content": p.chosen}],
                                   "rejected": [{"role": "assistant", "content": p.rejected}]} for p in records])

    set_seed(cfg.train.seed)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir())
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir(), dtype="float32")
    lora = cfg.model.lora
    peft = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules="all-linear",
                      task_type="CAUSAL_LM")  # fmt: skip
    args = DPOConfig(output_dir="/tmp/contrastlab-bench-trl-default", per_device_train_batch_size=cfg.train.batch_size,
                     per_device_eval_batch_size=cfg.eval.batch_size, learning_rate=cfg.train.lr,
                     max_steps=cfg.train.max_steps, max_length=cfg.train.max_length, beta=cfg.objective.beta,
                     seed=cfg.train.seed, save_strategy="no", report_to="none", use_cpu=True, bf16=False,
                     disable_tqdm=True)  # fmt: skip
    trainer = DPOTrainer(model=model, args=args, train_dataset=rows(train_records), eval_dataset=rows(eval_records),
                         processing_class=tokenizer, peft_config=peft)  # fmt: skip
    trainer.train()
    accuracy = trainer.evaluate()["eval_rewards/accuracies"]
    print(json.dumps({"wall_s": time.time() - t0, "accuracy": accuracy, "eval_pairs": len(eval_records)}))


if __name__ == "__main__":
    main()
