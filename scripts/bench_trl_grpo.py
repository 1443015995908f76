"""The bench's GRPO baseline: a tiny-model GRPO run written directly against TRL, no contrastlab runner.

Same model (tiny Llama, SmolLM2 tokenizer, seed 0; saved to a folder and given to GRPOTrainer by path, as a TRL
user would, so TRL builds its own reference), same prompts (the distinct prompts of rt_sentiment's training pairs),
same reward (Whissell pleasantness of the completion, `contrastlab.data.rt_corpus.pleasantness`) and the same
hyperparameters as `run.py objective=grpo model=tiny reward=lexicon` with the bench's overrides. Prints the training
call's wall time and the mean reward as JSON on the last line.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def main() -> None:
    t0 = time.time()
    from datasets import Dataset
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, set_seed
    from trl import GRPOConfig, GRPOTrainer

    from contrastlab.config.schema import DataConfig
    from contrastlab.data.rt_corpus import pleasantness  # the same reward; what is timed is the trainer
    from contrastlab.data.sources import load_records
    from contrastlab.models.assets import smollm2_dir

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir(weights=False))
    set_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=4, intermediate_size=128, max_position_embeddings=2048,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)  # fmt: skip
    folder = tempfile.mkdtemp(prefix="contrastlab-bench-grpo-")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)

    data = OmegaConf.structured(DataConfig(name="rt_sentiment", source="rt_sentiment", max_train=200, max_eval=32))
    train, _ = load_records(data)
    prompts = list(dict.fromkeys(p.prompt for p in train))
    rows = [{"prompt": [{"role": "user", "content": p}]} for p in prompts]

    def lexicon(prompts=None, completions=None, **kwargs):
        return [pleasantness(c[-1]["content"] if isinstance(c, list) else c) for c in completions]

    args = GRPOConfig(output_dir=f"{folder}/out", per_device_train_batch_size=4, learning_rate=1e-3,
                      max_steps=STEPS, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True, seed=0,
                      data_seed=0, disable_tqdm=True, lr_scheduler_type="linear", bf16=False, num_generations=4,
                      max_completion_length=32, beta=0.04, temperature=1.0, top_k=0, top_p=1.0, loss_type="dapo",
                      gradient_checkpointing=False)  # fmt: skip
    trainer = GRPOTrainer(model=folder, reward_funcs=[lexicon], args=args, train_dataset=Dataset.from_list(rows),
                          processing_class=tokenizer)  # fmt: skip
    t_train = time.time()
    trainer.train()
    done = time.time()
    rewards = [log["reward"] for log in trainer.state.log_history if "reward" in log]
    print(json.dumps({"train_s": done - t_train, "total_s": done - t0, "mean_reward": sum(rewards) / len(rewards)}))


if __name__ == "__main__":
    main()
