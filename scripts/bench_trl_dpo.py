"""The bench's baseline: a 20-step tiny-model DPO run written directly against TRL, no contrastlab runner.

Same model (tiny Llama, SmolLM2 tokenizer, seed 0), same data (rt_sentiment training pairs, chat
formatted), same hyperparameters as `run.py experiment=quick` with the bench's overrides. Prints the
wall time of the training call as JSON on the last line.
"""

from __future__ import annotations

import json
import sys
import time

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 20


def main() -> None:
    t0 = time.time()
    import copy

    from datasets import Dataset
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, set_seed
    from trl import DPOConfig, DPOTrainer

    from omegaconf import OmegaConf

    from contrastlab.config.schema import DataConfig
    from contrastlab.data.sources import load_records  # the same pairs; the data layer is not what is timed
    from contrastlab.models.assets import smollm2_dir

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir(weights=False))
    set_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=4, intermediate_size=128, max_position_embeddings=2048,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)  # fmt: skip
    model = LlamaForCausalLM(config)
    ref = copy.deepcopy(model).eval().requires_grad_(False)

    data = OmegaConf.structured(DataConfig(name="rt_sentiment", source="rt_sentiment", max_train=200, max_eval=32))
    train, _ = load_records(data)  # conf/data/rt_sentiment.yaml with the bench's sizes
    rows = [{"prompt": [{"role": "user", "content": p.prompt}],
             "chosen": [{"role": "assistant", "content": p.chosen}],
             "rejected": [{"role": "assistant", "content": p.rejected}]} for p in train]  # fmt: skip
    args = DPOConfig(output_dir="/tmp/contrastlab-bench-trl", per_device_train_batch_size=4, learning_rate=1e-3,
                     max_steps=STEPS, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                     max_length=64, seed=0, data_seed=0, disable_tqdm=True, lr_scheduler_type="linear",
                     bf16=False)  # fmt: skip  (TRL 1.16 defaults bf16=True even on the CPU)
    trainer = DPOTrainer(model=model, ref_model=ref, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer)  # fmt: skip
    t_train = time.time()
    trainer.train()
    done = time.time()
    print(json.dumps({"train_s": done - t_train, "total_s": done - t0}))


if __name__ == "__main__":
    main()
