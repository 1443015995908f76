"""`model.init=RUN_DIR`: start from a finished run's model.

The run folder's `model/` is a LoRA adapter (merged into its base, which is that run's own starting model, loaded
the same way: its packaged, hub or tiny model, or in turn its `model.init`) or full weights; the tokenizer is the one
saved beside it. This run takes that run's model config (`adopt`: source, path, chat template, system prompt, the
tiny shape) and keeps its own `model.lora` (a new adapter on the merged model, or full fine-tuning), `model.dtype`
and `model.trust_remote_code`, so a DPO run from an SFT run trains against the SFT model as its reference.

With `train.max_steps=0` (evaluate only) the adapter stays unmerged, so the evaluation computes exactly what the
run's own "after" evaluation did, against the same reference: the adapter switched off, or for full weights the
run's starting model (`reference_config`).
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf, open_dict

from contrastlab.errors import UserError

KEEP = ("init", "init_recipe", "lora", "dtype", "trust_remote_code")  # this run's own, not the init run's


def init_run(path: str):
    """(the run folder, its composed config) of `model.init=path` (the run folder, or its model/ folder); a folder
    that is not a finished run with a saved model is a UserError naming the fix."""
    folder = Path(path)
    if folder.name == "model" and (folder.parent / ".hydra").is_dir():
        folder = folder.parent
    config = folder / ".hydra" / "config.yaml"
    if not config.is_file():
        raise UserError(f"model.init={path} is not a run folder (no .hydra/config.yaml): give the folder of a "
                        "finished run (outputs/<name>/<date>_<time>)")
    if not (folder / "metrics.json").is_file():
        raise UserError(f"model.init={path} is a run that did not finish (no metrics.json): finish it first (run "
                        f"its command again with hydra.run.dir={folder} to resume), or give a finished run")
    if not (folder / "model").is_dir() or not any((folder / "model").glob("*.safetensors")):
        raise UserError(f"model.init={path} holds no model (no model/*.safetensors: the run used save_model=false): "
                        "train it again with save_model=true, or give another run")
    return folder, OmegaConf.load(config)


def adopt(cfg, planned=None) -> None:
    """Give `cfg.model` the init run's model config (all but `KEEP`), in place, before validation; `planned`: the
    config of that run when it is still to be trained (`model.init_recipe`)."""
    if not cfg.model.get("init"):
        return
    run_cfg = planned if planned is not None else init_run(cfg.model.init)[1]
    update = {key: value for key, value in OmegaConf.to_container(run_cfg.model, resolve=True).items()
              if key not in KEEP and key in cfg.model}  # fmt: skip
    merged = OmegaConf.merge(cfg.model, update)  # typed as this run's schema (model.tiny is a TinyArch)
    with open_dict(cfg.model):
        for key in update:
            cfg.model[key] = merged[key]


def reference_config(model_cfg):
    """The model config of the init run's own starting model (its reference), with this run's precision fields."""
    _, run_cfg = init_run(model_cfg.init)
    out = OmegaConf.create(OmegaConf.to_container(run_cfg.model, resolve=True))
    for key in ("dtype", "trust_remote_code"):
        out[key] = model_cfg[key]
    return out, int(run_cfg.train.seed)
