"""A model folder others can use: the base model named by its real id, and a model card written from the run.

PEFT writes the folder it loaded the base from into `adapter_config.json` (`base_model_name_or_path`): for the
packaged SmolLM2 that is a conversion cache that exists only on the machine that trained it, so the adapter could
be loaded nowhere else. `base_model_id` is the id a user can load (the hub id of the packaged model, `model.path`
for a hub model), and `README.md` (PEFT's empty template otherwise) says what the run did: the objective, the data,
the command, and the held-out metrics with their 95% intervals. Our own loaders pass the base explicitly, so the
folder still loads offline here.
"""

from __future__ import annotations

import json
from pathlib import Path

PACKAGED = {"smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct", "minilm": "sentence-transformers/all-MiniLM-L6-v2"}
BUILT = {"tiny": "contrastlab/tiny", "tiny_encoder": "contrastlab/tiny_encoder"}  # random-initialised, not on a hub


def base_model_id(model_cfg) -> str:
    """The id of the model the run started from: the packaged model's hub id, `model.path` for a hub model, or our
    name for a model built from the seed."""
    source = str(model_cfg.source)
    return PACKAGED.get(source) or BUILT.get(source) or str(model_cfg.path)


def name_the_base(folder: Path, model_cfg) -> None:
    """Point `adapter_config.json` (a LoRA adapter's) at the base's real id."""
    config = Path(folder) / "adapter_config.json"
    if config.is_file():
        data = json.loads(config.read_text())
        data["base_model_name_or_path"] = base_model_id(model_cfg)
        config.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_card(folder: Path, cfg, metrics: dict[str, float], run_dir: Path, described: str) -> None:
    """model/README.md, unless a library wrote a card of its own there (sentence-transformers does); PEFT's empty
    template is replaced. The command is the run's overrides (`.hydra/overrides.yaml`, when Hydra ran it)."""
    card = Path(folder) / "README.md"
    if card.is_file() and "[More Information Needed]" not in card.read_text():
        return
    overrides = Path(run_dir) / ".hydra" / "overrides.yaml"
    command = ""
    if overrides.is_file():
        import yaml

        command = " ".join(str(o) for o in (yaml.safe_load(overrides.read_text()) or []))
    card.write_text(model_card(cfg, metrics, command, described))


def model_card(cfg, metrics: dict[str, float], command: str, described: str) -> str:
    """README.md of model/: what was trained on what, how, and what it measured (with intervals)."""
    base = base_model_id(cfg.model)
    adapter = "A LoRA adapter on " if cfg.model.lora.enabled else "The weights of "
    lines = ["---", f"base_model: {base}", "library_name: " + ("peft" if cfg.model.lora.enabled else "transformers"),
             "tags: [contrastlab, " + str(cfg.objective.name) + "]", "---", "",
             f"# {cfg.name}", "",
             f"{adapter}`{base}` trained with `objective={cfg.objective.name}` on `data={cfg.data.name}` by "
             f"contrastlab for {int(metrics.get('train/steps', 0))} steps.", "",
             "```", f"python run.py {command}".rstrip(), "```", "",
             f"## Held-out evaluation ({described})", "",
             "| metric | before | after | 95% interval (after) |", "|---|---|---|---|"]  # fmt: skip
    names = sorted({k.split("/", 1)[1] for k in metrics if k.startswith("after/")})
    for name in names:
        before, after = metrics.get(f"before/{name}"), metrics[f"after/{name}"]
        low, high = metrics.get(f"ci_low/after/{name}"), metrics.get(f"ci_high/after/{name}")
        ci = f"[{low:.4f}, {high:.4f}]" if low is not None and high is not None else ""
        lines.append(f"| {name} | {'' if before is None else f'{before:.4f}'} | {after:.4f} | {ci} |")
    return "\n".join(lines) + "\n"
