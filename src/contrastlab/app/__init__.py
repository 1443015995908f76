"""The pipeline of a run: plan (validate, resolve the hardware and the runs to finish first, into an immutable
plan), job (train and evaluate in one process), launch (start the plan's job in N processes through accelerate).
`pipeline.run(cfg)` does all three; run.py calls it after Hydra has composed the config."""
