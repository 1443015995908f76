"""What each `model.source` is, known before anything loads (imports no torch): the sentence encoders have no
language-model head, so they serve only the objectives whose family trains encoders."""

from __future__ import annotations

ENCODER_SOURCES = ("tiny_encoder", "minilm")  # BERT models: a pooled embedding, no language-model head


def is_encoder(model_cfg) -> bool:
    """Whether the model is a sentence encoder with no language-model head (a packaged or tiny BERT)."""
    return model_cfg.source in ENCODER_SOURCES
