"""Config schemas (Hydra ConfigStore) and cross-field validation. Imports no torch, transformers or TRL."""
