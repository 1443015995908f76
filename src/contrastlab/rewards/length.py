"""reward=length: how near a completion's length n is to `reward.target_length` T: r = -|n - T| / T, 0 at the
target and -1 for an empty completion. n counts `reward.length_unit`: tokens (the policy's tokenizer, no special
tokens; the default), words (runs of non-space characters) or characters."""

from __future__ import annotations

from contrastlab.rewards.base import RewardContext, RewardSource


UNITS = ("tokens", "words", "characters")


def _check(cfg, trained_first=()):
    if cfg.length_unit not in UNITS:
        return f"reward.length_unit={cfg.length_unit} must be one of {', '.join(UNITS)}"
    if cfg.target_length < 1:
        return f"reward.target_length={cfg.target_length} must be at least 1 ({cfg.length_unit})"
    return None


def _build(ctx: RewardContext):
    target, unit, tokenizer = ctx.cfg.target_length, ctx.cfg.length_unit, ctx.tokenizer

    def size(text: str) -> int:
        if unit == "characters":
            return len(text)
        if unit == "words" or tokenizer is None:
            return len(text.split())
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def length(prompts: list[str], completions: list[str]) -> list[float]:
        return [-abs(size(text) - target) / target for text in completions]

    return length


SOURCE = RewardSource(
    name="length",
    summary="-|length - reward.target_length| / reward.target_length (reward.length_unit): 0 at the target",
    build=_build,
    check=_check,
    described=lambda cfg: f"reward.target_length={cfg.target_length} {cfg.length_unit}",
)
