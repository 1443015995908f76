"""One encoding of (prompt, completion) sequences, for training, evaluation, generation and length counting.

It is TRL 1.16's DPOTrainer's (`_prepare_dataset`), so that our trainer, TRL's trainers and every evaluation measure
the same token sequences:
- with a chat template (`chat`, message lists): the prompt is `apply_chat_template(prompt,
  add_generation_prompt=True)`, the sequence `apply_chat_template(prompt + completion)`; a string prompt is one user
  message, a string completion one assistant message; `system` (model.system_prompt), when set, is a system message
  put before every prompt that has none (so a template's own default system prompt, such as SmolLM2's, stays out);
- without one: the prompt is `tokenizer(prompt)`, the sequence `tokenizer(prompt + completion + EOS)` (EOS appended
  when the completion does not end with it), special tokens included: a tokenizer that adds BOS adds it once, at the
  start of both;
- the completion starts where the tokenized prompt and the tokenized sequence diverge (usually right after the
  prompt), the shortest such prefix over the completions of one prompt.

A sequence longer than `max_length` tokens keeps its first `max_length` (TRL's `keep_start`); a training example
whose prompt alone fills `max_length` has no completion token left and is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contrastlab.errors import UserError

NEEDS_TEMPLATE = ("the data is conversational (message lists), so the model needs a chat template: set "
                  "model.chat_template=true and use a model whose tokenizer has one")


def as_messages(value: Any, role: str) -> list[dict]:
    return value if isinstance(value, list) else [{"role": role, "content": value}]


def with_system(prompt: list[dict], system: str | None) -> list[dict]:
    """A prompt's messages with `system` as its system message, unless it has one (or `system` is None)."""
    if system is None or (prompt and prompt[0].get("role") == "system"):
        return prompt
    return [{"role": "system", "content": system}, *prompt]


def plain(value: Any) -> str:
    """A prompt or completion as text: a message list's contents, one a line."""
    return value if isinstance(value, str) else "\n".join(m["content"] for m in value)


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@dataclass(frozen=True)
class Encoded:
    """One sequence: its prompt's ids and its completion's ids (prompt + completion is the whole sequence)."""

    prompt: list[int]
    completion: list[int]

    def cut(self, max_length: int) -> "Encoded":
        """The first `max_length` tokens (keep_start): the prompt's, then as much of the completion as fits."""
        return Encoded(self.prompt[:max_length], self.completion[: max(max_length - len(self.prompt), 0)])


class Encoding:
    """The tokenizer, whether prompts go through its chat template, and the system message put before them there:
    (prompt, completion) -> token ids."""

    def __init__(self, tokenizer, chat: bool, system: str | None = None):
        self.tokenizer, self.chat, self.system = tokenizer, chat, system

    def messages(self, prompt: Any) -> list[dict]:
        """A prompt as the chat template reads it: its messages, with the system message when one is set."""
        return with_system(as_messages(prompt, "user"), self.system)

    def _ids(self, value: Any, generation_prompt: bool = False) -> list[int]:
        if isinstance(value, list):  # messages: the chat template
            out = self.tokenizer.apply_chat_template(value, tokenize=True, return_dict=True,
                                                     add_generation_prompt=generation_prompt)  # fmt: skip
            return list(out["input_ids"])
        return list(self.tokenizer(text=value)["input_ids"])

    def prompt(self, prompt: Any) -> list[int]:
        """The prompt's ids as the model reads them before it writes (generation starts after them)."""
        if self.chat:
            return self._ids(self.messages(prompt), generation_prompt=True)
        return self._ids(self._text(prompt))

    def _text(self, value: Any) -> str:
        if not isinstance(value, str):
            raise UserError(NEEDS_TEMPLATE)
        return value

    def sequence(self, prompt: Any, completion: Any) -> list[int]:
        """The ids of prompt + completion."""
        if self.chat:
            return self._ids(self.messages(prompt) + as_messages(completion, "assistant"))
        eos = self.tokenizer.eos_token or ""
        completion = self._text(completion)
        return self._ids(self._text(prompt) + (completion if completion.endswith(eos) else completion + eos))

    def __call__(self, sequences: list[tuple[Any, Any]]) -> tuple[list[list[int]], list[int]]:
        """([ids of each sequence], [where each completion starts]); the completions of one prompt start
        together, at the shortest common prefix of prompt and sequence among them."""
        full = [self.sequence(p, c) for p, c in sequences]
        prompt_ids: dict[str, list[int]] = {}
        start: dict[str, int] = {}  # prompt -> the shortest common prefix over its sequences
        for (prompt, _), ids in zip(sequences, full):
            key = repr(prompt)
            if key not in prompt_ids:
                prompt_ids[key] = self.prompt(prompt)
            prefix = common_prefix(prompt_ids[key], ids)
            start[key] = min(start.get(key, prefix), prefix)
        return full, [start[repr(p)] for p, _ in sequences]

    def split(self, sequences: list[tuple[Any, Any]], max_length: int | None = None) -> list[Encoded]:
        """Each sequence as (prompt ids, completion ids), cut at `max_length` when given."""
        full, starts = self(sequences)
        out = [Encoded(ids[:start], ids[start:]) for ids, start in zip(full, starts)]
        return [e.cut(max_length) for e in out] if max_length is not None else out
