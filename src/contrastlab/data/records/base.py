"""What every record type is, and the conversions between record types.

A record type is a dataclass in its own module of this package, a subclass of `Record`. It knows:
- its sequences: the (prompt, completion) pairs a language model scores (a pair's chosen and rejected, a list's
  completions, the one completion of a forget example); [] for the sentence types, which have `texts` instead;
- its batch extras: per sequence, the numbers a loss reads besides the log-probs (a pair's scores, a list's scores,
  a multi-attribute pair's attribute scores, an unpaired example's label), padded by one collator path;
- its rows: what TRL's trainers (and `datasets.Dataset.from_list`) take;
- its file form: which columns of a file's first row make a file of these records (`file_match`), the fields
  `data.columns` may map, and the parser of a file's rows;
- its split into train and held-out records (by group, unless the type says otherwise);
- the conversions from and to other types, registered with `@converts(A, B)` in the module of one of the two.

Nothing outside a record type's module asks which type a record is: code calls these methods on the class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from contrastlab.data.splits import hold_out, subsample
from contrastlab.errors import UserError

Sequence = tuple[Any, Any]  # (prompt, completion): strings, or message lists


@dataclass
class Example:
    """One training example of a sequence objective: K (prompt, completion) sequences and their batch extras."""

    sequences: list[Sequence]
    extras: dict[str, list] = field(default_factory=dict)  # name -> one value per sequence (a number or a list)


class Record:
    """The base of every record type. Subclasses are dataclasses with a `group` field (what the train/eval split
    keeps together: a film, a conversation; "" = the record itself)."""

    noun: ClassVar[str] = "records"  # what a file of them holds, for messages ("preference pairs")
    fields: ClassVar[tuple[str, ...]] = ()  # the file fields `data.columns` may map for this type
    file_priority: ClassVar[int] = 0  # a file's first row is matched against the types, highest first
    file_hint: ClassVar[str] = ""  # how to give such records in a file (data=jsonl), for messages
    pairwise: ClassVar[bool] = False  # its sequences are (chosen, rejected): the preference evaluation reads them

    group: str

    # -- sequences -------------------------------------------------------------------------------------------
    def sequences(self) -> list[Sequence]:
        """The (prompt, completion) sequences a language model scores, in order; [] for sentence records."""
        return []

    def prompts(self) -> list:
        """The prompts a policy completes for this record (generation, on-policy training): its sequences' prompts,
        each once."""
        out = []
        for prompt, _ in self.sequences():
            if prompt not in out:
                out.append(prompt)
        return out

    def texts(self) -> list[str]:
        """The texts of a sentence record (an encoder embeds them); [] for prompted records."""
        return []

    @classmethod
    def extras(cls, records: list) -> list[dict[str, list]]:
        """Per record, the batch extras of its sequences: name -> one value per sequence. Decided over all the
        records at once (a column must be in every row or none)."""
        return [{} for _ in records]

    @classmethod
    def examples(cls, records: list, seed: int = 0, retain: bool = False) -> list[Example]:
        """The training examples of a sequence objective, one per record by default. `retain`: the objective
        trains on a retain set too (only a type with one uses it)."""
        return [Example(r.sequences(), extra) for r, extra in zip(records, cls.extras(records))]

    @classmethod
    def attribute_margins(cls, records: list) -> dict[str, list[float]]:
        """Per attribute, chosen-minus-rejected score of each pairwise record (for per-attribute accuracy); {}."""
        return {}

    @classmethod
    def preference_log_odds(cls, records: list) -> list[float] | None:
        """Per pairwise record, log(a / (1 - a)) of the probability a that chosen is preferred, when the records
        say (Bradley-Terry on their scores); None when they do not."""
        return None

    # -- rows for TRL and the embedding trainer -------------------------------------------------------------
    def row(self, conversational: bool) -> dict:
        raise UserError(f"no row format for {type(self).__name__} records; convert them first")

    @classmethod
    def rows(cls, records: list, conversational: bool) -> list[dict]:
        """One dict per record, in order."""
        return [r.row(conversational) for r in records]

    # -- the file form ---------------------------------------------------------------------------------------
    @classmethod
    def file_match(cls, has: Callable[[str], bool], column: Callable[[str], str]) -> bool | str:
        """Whether a file whose first row has the fields `has` says holds records of this type; a message when it
        has part of what they need (naming the missing `column`s)."""
        return False

    @classmethod
    def parse(cls, rows: list, cols, origin, fmt: str = "auto") -> list:
        """Records from a file's rows (`data.files.Row`), `cols` mapping our fields to its columns."""
        raise UserError(f"{origin.name}: {cls.__name__} records cannot be read from a file")

    @classmethod
    def by_difficulty(cls, records: list, data_name: str = "") -> list:
        """The records in curriculum order, easiest first (`train.curriculum`); only a type with a notion of
        difficulty has one."""
        raise UserError(f"train.curriculum orders preference pairs, but the objective trains on {cls.__name__} "
                        "records; drop train.curriculum")

    # -- the split -------------------------------------------------------------------------------------------
    @classmethod
    def split(cls, records: list, fraction: float, seed: int, data_name: str, max_train: int | None,
              max_eval: int | None) -> tuple[list, list]:
        """(train, held out): a seeded `fraction` of the groups held out, then seeded samples of each part."""
        train, evals = hold_out(records, fraction, seed, data_name)
        return subsample(train, max_train, seed, "train"), subsample(evals, max_eval, seed, "eval")


def one_without_the_other(has: Callable[[str], bool], column: Callable[[str], str], a: str, b: str,
                          why: str = "") -> bool | str:
    """`file_match` of a type that two columns make: True with both, False with neither, else the message naming
    the missing one (`why`: what the type needs them for)."""
    if has(a) == has(b):
        return has(a)
    present, missing = (a, b) if has(a) else (b, a)
    return (f'a "{column(present)}" column for {present} but no "{column(missing)}" column for {missing}; '
            f"{why}map it with +data.columns.{missing}=COLUMN")


def messages(value: Any, role: str, conversational: bool) -> Any:
    """A prompt or completion as a row holds it: a message list when `conversational` (a string becomes one
    message of `role`), else a plain string (a message list then needs a chat template: UserError)."""
    if isinstance(value, str):
        return [{"role": role, "content": value}] if conversational else value
    if not conversational:
        raise UserError("the data is conversational (message lists), so the model needs a chat template to format "
                        "it: set model.chat_template=true and use a model whose tokenizer has one")
    return value


# -- conversions between record types ---------------------------------------------------------------------------
CONVERSIONS: dict[tuple[type, type], Callable[[list], list]] = {}


def converts(source: type, target: type):
    """Register the decorated function `records of source -> records of target` (a sound conversion)."""

    def register(fn: Callable[[list], list]) -> Callable[[list], list]:
        CONVERSIONS[(source, target)] = fn
        return fn

    return register
