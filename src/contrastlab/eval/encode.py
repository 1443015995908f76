"""Tokenise held-out preference pairs for evaluation: prompt ids and completion ids, kept apart.

With a chat template the prompt is rendered with the generation prompt and the completion is what the
template adds after it (so it ends with the template's end-of-turn token); without one the completion
is followed by EOS. Sequences longer than `max_length` are cut at the end (TRL's `keep_start` rule).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EncodedPair:
    prompt: list[int]
    chosen: list[int]  # completion tokens only
    rejected: list[int]


def _messages(text, role: str) -> list[dict]:
    return text if isinstance(text, list) else [{"role": role, "content": text}]


def _plain(text) -> str:
    return text if isinstance(text, str) else "\n".join(m["content"] for m in text)


def encode_completion(tokenizer, prompt, completion, chat: bool) -> tuple[list[int], list[int]]:
    """(prompt ids, completion ids) for one prompt and one completion."""
    if chat:
        p_msgs = _messages(prompt, "user")
        prompt_text = tokenizer.apply_chat_template(p_msgs, tokenize=False, add_generation_prompt=True)
        full_text = tokenizer.apply_chat_template(p_msgs + _messages(completion, "assistant"), tokenize=False)
        if full_text.startswith(prompt_text):
            completion_text = full_text[len(prompt_text) :]
        else:  # a template that rewrites earlier turns: fall back to the bare completion
            completion_text = _plain(completion) + (tokenizer.eos_token or "")
        p_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
        c_ids = tokenizer(completion_text, add_special_tokens=False)["input_ids"]
        return p_ids, c_ids
    p_ids = tokenizer(_plain(prompt), add_special_tokens=False)["input_ids"]
    c_ids = tokenizer(_plain(completion), add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        c_ids = c_ids + [tokenizer.eos_token_id]
    return p_ids, c_ids


def encode_pairs(tokenizer, pairs, max_length: int, chat: bool) -> list[EncodedPair]:
    out = []
    for pair in pairs:
        p_ids, c_ids = encode_completion(tokenizer, pair.prompt, pair.chosen, chat)
        _, r_ids = encode_completion(tokenizer, pair.prompt, pair.rejected, chat)
        room = max(max_length - len(p_ids), 0)
        out.append(EncodedPair(prompt=p_ids[:max_length], chosen=c_ids[:room], rejected=r_ids[:room]))
    return out
